//! The pull side of the reader: a caller that knows the shape it expects (a produce body, a
//! schema's plan) walks objects and arrays itself, asks what kind of value comes next, and reads
//! scalars, or whole values with a seed of its choice, learning where a value lay. The syntax
//! rules are the `Deserializer` side's (the same scanning functions): this module adds none.

use serde::de::DeserializeSeed;

use super::{Number, Reader, Result, Span, invalid};

impl<'de> Reader<'de> {
    /// A reader at the start of `text`.
    #[must_use]
    pub fn new(text: &'de str) -> Self {
        Self {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            depth: 0,
            spaced: false,
        }
    }

    /// Reads an object: `entry` gets each key (unescaped) with the reader at its value, and must
    /// read that value and nothing more.
    ///
    /// # Errors
    /// Not an object, bad syntax, or what `entry` returns.
    pub fn object(&mut self, mut entry: impl FnMut(&mut Self, &str) -> Result<()>) -> Result<()> {
        if self.ws_peek() != Some(b'{') {
            return invalid("expected an object");
        }
        self.container(b'}', |mut items| {
            while items.next_key()? {
                // The common key is handed over in registers; a `Cow` went through memory and
                // stalled on store forwarding.
                if let Some(key) = items.reader.plain_string() {
                    items.colon()?;
                    entry(items.reader, key)?;
                } else {
                    let key = items.reader.unescape()?;
                    items.colon()?;
                    entry(items.reader, &key)?;
                }
            }
            Ok(())
        })
    }

    /// Reads an array: `item` is called with the reader at each item, and must read that item
    /// and nothing more.
    ///
    /// # Errors
    /// Not an array, bad syntax, or what `item` returns.
    pub fn array(&mut self, mut item: impl FnMut(&mut Self) -> Result<()>) -> Result<()> {
        if self.ws_peek() != Some(b'[') {
            return invalid("expected an array");
        }
        self.container(b']', |mut items| {
            while items.next_item()? {
                item(items.reader)?;
            }
            Ok(())
        })
    }

    /// Reads the next value with `seed`.
    ///
    /// # Errors
    /// Bad syntax, or the seed's refusal.
    pub fn value<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value> {
        seed.deserialize(self)
    }

    /// Reads the next value with `seed`, and tells where it lay.
    ///
    /// # Errors
    /// Bad syntax, or the seed's refusal.
    pub fn spanned<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<(S::Value, Span)> {
        let (value, span) = self.spanned_with(|r| seed.deserialize(r));
        Ok((value?, span))
    }

    /// Runs `read`, which must read exactly the next value, and tells where that value lay
    /// (meaningful only when `read` succeeded).
    pub fn spanned_with<T>(&mut self, read: impl FnOnce(&mut Self) -> T) -> (T, Span) {
        self.ws_peek();
        let start = self.pos;
        self.spaced = false;
        let value = read(&mut *self);
        let span = Span {
            start,
            end: self.pos,
            spaced: self.spaced,
        };
        (value, span)
    }

    /// What the next value is, judged by its first character (whitespace before it is read).
    pub fn next_kind(&mut self) -> Kind {
        match self.ws_peek() {
            Some(b'n') => Kind::Null,
            Some(b't' | b'f') => Kind::Bool,
            Some(b'-' | b'0'..=b'9') => Kind::Number,
            Some(b'"') => Kind::String,
            Some(b'[') => Kind::Array,
            Some(b'{') => Kind::Object,
            _ => Kind::Invalid,
        }
    }

    /// Reads `true` or `false`.
    ///
    /// # Errors
    /// Anything else is next.
    #[inline]
    pub fn boolean(&mut self) -> Result<bool> {
        if self.ws_peek() == Some(b't') {
            self.expect_ident(b"true")?;
            return Ok(true);
        }
        self.expect_ident(b"false")?;
        Ok(false)
    }

    /// Reads a number, as serde_json would visit it.
    ///
    /// # Errors
    /// No number is next, bad syntax, or one out of range.
    #[inline]
    pub fn number(&mut self) -> Result<Number> {
        match self.ws_peek() {
            Some(b'-' | b'0'..=b'9') => self.parse_number(),
            _ => invalid("expected a number"),
        }
    }

    /// Reads a string and gives its text (unescaped) to `read`.
    ///
    /// # Errors
    /// No string is next, or bad syntax in it.
    #[inline]
    pub fn string<T>(&mut self, read: impl FnOnce(&str) -> T) -> Result<T> {
        if self.ws_peek() != Some(b'"') {
            return invalid("expected a string");
        }
        self.pos += 1;
        match self.plain_string() {
            Some(text) => Ok(read(text)),
            None => Ok(read(&self.unescape()?)),
        }
    }

    /// Reads a `null` if one is next; `false` (reading nothing) when another value is.
    ///
    /// # Errors
    /// A token starting with `n` that is not `null`.
    pub fn null(&mut self) -> Result<bool> {
        if self.ws_peek() != Some(b'n') {
            return Ok(false);
        }
        self.expect_ident(b"null")?;
        Ok(true)
    }

    /// Insists that only whitespace is left.
    ///
    /// # Errors
    /// Anything else follows.
    pub fn finish(&mut self) -> Result<()> {
        match self.ws_peek() {
            None => Ok(()),
            Some(_) => invalid("trailing characters"),
        }
    }
}

/// What the next value is ([`Reader::next_kind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool,
    /// A number.
    Number,
    /// A string.
    String,
    /// An array.
    Array,
    /// An object.
    Object,
    /// Nothing a value starts with (or the end of the text).
    Invalid,
}

#[cfg(test)]
mod tests {
    use std::marker::PhantomData;

    use serde::de::IgnoredAny;

    use super::*;

    #[test]
    fn spans_say_where_values_lay_and_whether_they_are_compact() {
        let text = r#" {"a": {"x":[1,2]}, "b\"c" : { "y" : 1 }, "n": null} "#;
        let mut reader = Reader::new(text);
        let mut seen = Vec::new();
        reader
            .object(|r, key| {
                if key == "n" {
                    assert!(r.null()?);
                    seen.push((key.to_owned(), String::new(), false));
                    return Ok(());
                }
                assert!(!r.null()?);
                let (_, span) = r.spanned(PhantomData::<IgnoredAny>)?;
                seen.push((
                    key.to_owned(),
                    text[span.start..span.end].to_owned(),
                    span.spaced,
                ));
                Ok(())
            })
            .unwrap();
        reader.finish().unwrap();
        assert_eq!(
            seen,
            vec![
                ("a".into(), r#"{"x":[1,2]}"#.into(), false),
                ("b\"c".into(), r#"{ "y" : 1 }"#.into(), true),
                ("n".into(), String::new(), false),
            ]
        );
    }

    #[test]
    fn arrays_and_bad_syntax() {
        let mut reader = Reader::new("[1, 2 ,3]");
        let mut sum = 0u64;
        reader
            .array(|r| {
                sum += r.value(PhantomData::<IgnoredAny>).map(|_| 1)?;
                Ok(())
            })
            .unwrap();
        assert_eq!(sum, 3);
        for bad in ["[1,]", "[1 2]", "{\"a\" 1}", "{\"a\":1,}", "{1:2}", "[1] x"] {
            let mut reader = Reader::new(bad);
            let read = if bad.starts_with('[') {
                reader.array(|r| r.value(PhantomData::<IgnoredAny>).map(drop))
            } else {
                reader.object(|r, _| r.value(PhantomData::<IgnoredAny>).map(drop))
            };
            assert!(read.and_then(|()| reader.finish()).is_err(), "{bad}");
        }
    }

    /// The scalar pulls read what serde_json reads, kinds judged by the first character.
    #[test]
    fn scalars_are_pulled_as_serde_json_reads_them() {
        let text = r#"[ "plain", "esc\"aped\u00e9", 0, -7, 18446744073709551615, 2.5e3, -0,
            true, false, null, [], {} ]"#;
        let mut reader = Reader::new(text);
        let mut seen = Vec::new();
        reader
            .array(|r| {
                let kind = r.next_kind();
                let value = match kind {
                    Kind::String => serde_json::json!(r.string(str::to_owned)?),
                    Kind::Number => match r.number()? {
                        Number::U64(v) => serde_json::json!(v),
                        Number::I64(v) => serde_json::json!(v),
                        Number::F64(v) => serde_json::json!(v),
                    },
                    Kind::Bool => serde_json::json!(r.boolean()?),
                    Kind::Null => {
                        assert!(r.null()?);
                        serde_json::Value::Null
                    }
                    Kind::Array => r.value(PhantomData::<serde_json::Value>)?,
                    Kind::Object => r.value(PhantomData::<serde_json::Value>)?,
                    Kind::Invalid => panic!("a value starts every item"),
                };
                seen.push((kind, value));
                Ok(())
            })
            .unwrap();
        reader.finish().unwrap();
        let expected: Vec<serde_json::Value> = serde_json::from_str(text).unwrap();
        assert_eq!(
            seen.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>(),
            expected
        );
        assert_eq!(
            seen[6].1,
            serde_json::json!(-0.0),
            "-0 is a float, as in serde_json"
        );
        for (bad, pull) in [
            ("\"open", 0),
            ("\"ctl\u{1}\"", 0),
            ("01", 1),
            ("1e999", 1),
            ("tru", 2),
            ("nul", 3),
        ] {
            let mut reader = Reader::new(bad);
            let read = match pull {
                0 => reader.string(|_| ()),
                1 => reader.number().map(drop),
                2 => reader.boolean().map(drop),
                _ => reader.null().map(drop),
            };
            assert!(read.is_err(), "{bad}");
        }
        assert_eq!(Reader::new(" ]").next_kind(), Kind::Invalid);
        assert!(Reader::new("1").string(|_| ()).is_err(), "not a string");
        assert!(Reader::new("\"1\"").number().is_err(), "not a number");
    }
}
