//! The `serde` side of the strict JSON reader: the `Deserializer` the fast paths' seeds run on,
//! and its sequence, map and key accessors. Each answers with the visitor call serde_json makes
//! for the same token; it must not scan text itself beyond what [`Reader`] offers.

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

use super::{Error, MAX_DEPTH, Number, Reader, Result, decline, invalid};

impl<'de> Reader<'de> {
    /// Runs a container's visitor, then insists on its closing bracket: serde_json fails a
    /// visitor that stops early, and so must we.
    #[inline]
    pub(super) fn container<T>(
        &mut self,
        close: u8,
        visit: impl FnOnce(Items<'_, 'de>) -> Result<T>,
    ) -> Result<T> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return decline("nesting too deep");
        }
        self.pos += 1;
        let value = visit(Items {
            reader: self,
            first: true,
        })?;
        self.depth -= 1;
        if self.ws_peek() != Some(close) {
            return invalid("expected end of array or object");
        }
        self.pos += 1;
        Ok(value)
    }

    /// Reads past one value without visiting it: the same syntax checks as visiting (numbers
    /// too, so `1e400` fails here as it does there), but nothing is converted or unescaped.
    pub(super) fn skip_value(&mut self) -> Result<()> {
        match self.ws_peek() {
            Some(b'"') => {
                self.pos += 1;
                self.skip_string()
            }
            Some(b'-' | b'0'..=b'9') => self.parse_number().map(drop),
            Some(b'n') => self.expect_ident(b"null"),
            Some(b't') => self.expect_ident(b"true"),
            Some(b'f') => self.expect_ident(b"false"),
            Some(b'[') => self.container(b']', |mut items| {
                while items.next_item()? {
                    items.reader.skip_value()?;
                }
                Ok(())
            }),
            Some(b'{') => self.container(b'}', |mut items| {
                while items.next_key()? {
                    items.reader.skip_string()?;
                    items.colon()?;
                    items.reader.skip_value()?;
                }
                Ok(())
            }),
            _ => invalid("expected value"),
        }
    }

    /// Reads past the string whose opening quote is just behind `pos`, checking its escapes.
    fn skip_string(&mut self) -> Result<()> {
        loop {
            self.skip_plain();
            let byte = self.peek();
            self.pos += 1;
            match byte {
                Some(b'"') => return Ok(()),
                Some(b'\\') => {
                    self.parse_escape()?;
                }
                _ => return invalid("control character or end in string"),
            }
        }
    }

    /// serde_json rejects a mismatched token before calling the visitor; so must we.
    fn hinted<V: Visitor<'de>>(&mut self, visitor: V, accepts: fn(u8) -> bool) -> Result<V::Value> {
        match self.ws_peek() {
            Some(byte) if accepts(byte) => de::Deserializer::deserialize_any(self, visitor),
            _ => invalid("invalid type"),
        }
    }
}

/// Hints serde_json answers only when the next token has the expected kind.
macro_rules! hinted {
    ($($method:ident($($arg:ident: $ty:ty),*) $accepts:expr;)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value> {
            self.hinted(visitor, $accepts)
        }
    )*};
}

/// Hints serde_json reads its own way; they go back to it.
macro_rules! declined {
    ($($method:ident($($arg:ident: $ty:ty),*))*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* _: V) -> Result<V::Value> {
            decline("a hint serde_json reads its own way")
        }
    )*};
}

const fn number(byte: u8) -> bool {
    byte == b'-' || byte.is_ascii_digit()
}

impl<'de> de::Deserializer<'de> for &mut Reader<'de> {
    type Error = Error;

    #[inline]
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.ws_peek() {
            Some(b'"') => {
                self.pos += 1;
                self.visit_string(visitor)
            }
            Some(b'-' | b'0'..=b'9') => match self.parse_number()? {
                Number::U64(v) => visitor.visit_u64(v),
                Number::I64(v) => visitor.visit_i64(v),
                Number::F64(v) => visitor.visit_f64(v),
            },
            Some(b'n') => self.literal(b"null", || visitor.visit_unit()),
            Some(b't') => self.literal(b"true", || visitor.visit_bool(true)),
            Some(b'f') => self.literal(b"false", || visitor.visit_bool(false)),
            Some(b'[') => self.container(b']', |items| visitor.visit_seq(items)),
            Some(b'{') => self.container(b'}', |items| visitor.visit_map(items)),
            _ => invalid("expected value"),
        }
    }

    hinted! {
        deserialize_bool() |b| matches!(b, b't' | b'f');
        deserialize_unit() |b| b == b'n';
        deserialize_unit_struct(_name: &'static str) |b| b == b'n';
        deserialize_str() |b| b == b'"';
        deserialize_string() |b| b == b'"';
        deserialize_char() |b| b == b'"';
        deserialize_identifier() |b| b == b'"';
        deserialize_seq() |b| b == b'[';
        deserialize_tuple(_len: usize) |b| b == b'[';
        deserialize_tuple_struct(_name: &'static str, _len: usize) |b| b == b'[';
        deserialize_map() |b| b == b'{';
        deserialize_struct(_name: &'static str, _fields: &'static [&'static str])
            |b| matches!(b, b'[' | b'{');
        deserialize_i8() number; deserialize_i16() number; deserialize_i32() number;
        deserialize_i64() number; deserialize_u8() number; deserialize_u16() number;
        deserialize_u32() number; deserialize_u64() number; deserialize_f64() number;
    }

    // serde_json rounds f32 once, straight to single precision; 128-bit integers, bytes and enums
    // have paths of their own.
    declined! {
        deserialize_f32() deserialize_i128() deserialize_u128() deserialize_bytes()
        deserialize_byte_buf()
        deserialize_enum(_name: &'static str, _variants: &'static [&'static str])
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.ws_peek() != Some(b'n') {
            return visitor.visit_some(self);
        }
        self.expect_ident(b"null")?;
        visitor.visit_none()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        // serde_json answers its private tokens (RawValue) from the raw input.
        if name.starts_with("$serde_json::") {
            return decline("serde_json private newtype");
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        // Stricter than serde_json's skip (which lets 1e400 through); failing only falls back.
        self.skip_value()?;
        visitor.visit_unit()
    }
}

/// The items of an array or the entries of an object.
pub(super) struct Items<'a, 'de> {
    pub(super) reader: &'a mut Reader<'de>,
    first: bool,
}

impl Items<'_, '_> {
    /// Moves past the separator to the next array item; `false` at the closing bracket.
    #[inline]
    pub(super) fn next_item(&mut self) -> Result<bool> {
        match self.reader.ws_peek() {
            Some(b']') => return Ok(false),
            Some(b',') if !self.first => {
                self.reader.pos += 1;
                if self.reader.ws_peek() == Some(b']') {
                    return invalid("trailing comma");
                }
            }
            Some(_) if self.first => self.first = false,
            _ => return invalid("expected `,` or `]`"),
        }
        Ok(true)
    }

    /// Moves past the separator and the opening quote of the next key; `false` at the closing
    /// brace.
    #[inline]
    pub(super) fn next_key(&mut self) -> Result<bool> {
        match self.reader.ws_peek() {
            Some(b'}') => return Ok(false),
            Some(b',') if !self.first => self.reader.pos += 1,
            Some(_) if self.first => self.first = false,
            _ => return invalid("expected `,` or `}`"),
        }
        if self.reader.ws_peek() != Some(b'"') {
            return invalid("key must be a string");
        }
        self.reader.pos += 1;
        Ok(true)
    }

    /// Moves past the colon between a key and its value.
    #[inline]
    pub(super) fn colon(&mut self) -> Result<()> {
        if self.reader.ws_peek() != Some(b':') {
            return invalid("expected `:`");
        }
        self.reader.pos += 1;
        Ok(())
    }
}

impl<'de> SeqAccess<'de> for Items<'_, 'de> {
    type Error = Error;

    #[inline]
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if !self.next_item()? {
            return Ok(None);
        }
        seed.deserialize(&mut *self.reader).map(Some)
    }
}

impl<'de> MapAccess<'de> for Items<'_, 'de> {
    type Error = Error;

    #[inline]
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if !self.next_key()? {
            return Ok(None);
        }
        seed.deserialize(Key(&mut *self.reader)).map(Some)
    }

    #[inline]
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        self.colon()?;
        seed.deserialize(&mut *self.reader)
    }
}

/// A map key, with `pos` just past its opening quote. Like serde_json's `MapKey`, every hint that
/// wants text gets the string; the rest (serde_json parses numbers and bools out of keys) decline.
struct Key<'a, 'de>(&'a mut Reader<'de>);

impl<'de> de::Deserializer<'de> for Key<'_, 'de> {
    type Error = Error;

    #[inline]
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.0.visit_string(visitor)
    }

    declined! {
        deserialize_bool() deserialize_i8() deserialize_i16() deserialize_i32() deserialize_i64()
        deserialize_i128() deserialize_u8() deserialize_u16() deserialize_u32() deserialize_u64()
        deserialize_u128() deserialize_f32() deserialize_f64() deserialize_bytes()
        deserialize_byte_buf() deserialize_option()
        deserialize_newtype_struct(_name: &'static str)
        deserialize_enum(_name: &'static str, _variants: &'static [&'static str])
    }

    serde::forward_to_deserialize_any! {
        char str string unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}
