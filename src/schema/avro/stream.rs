//! JSON text → Avro binary in one pass over the JSON tokens, with no `serde_json::Value` tree:
//! the fast path of validation on produce, where parsing each record into a tree cost more
//! than everything else the gateway does with it.
//!
//! Owns only the common shape of records: fields in schema order (missing ones take their
//! defaults), natural JSON scalars, unions chosen by a scalar's JSON type, arrays, and maps
//! whose keys arrive sorted. Anything else — a field out of order, a duplicate key, an object
//! in a union (a tag or a record branch), bytes, fixed, decimals, a value that does not fit —
//! answers "not here" and the caller runs `encode::encode` over the parsed tree, which knows
//! every case and words the errors. So this module must produce exactly the bytes `encode`
//! would, or nothing; it never reports why (the differential tests below hold it to that).
//!
//! While reading a top-level record it also picks the fields data-contract rules read
//! ([`Capture`]), so rules need no tree either.

use std::fmt;

use apache_avro::Schema;
use apache_avro::schema::RecordSchema;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::encode::{encode_default, is_long, write_len, write_long, write_str};
use super::names::Names;
use crate::json_text;
use crate::schema::capture::{Capture, Captured};
use crate::schema::object_key::{KeySeed, same};

/// Deeper than this the tree path takes over (it caps nesting at 128 with a precise error).
const MAX_DEPTH: usize = 100;

/// Appends the Avro binary of the JSON text `json` (a datum of `schema`) to `out` and returns
/// true; or returns false with `out` as it was, when the record is not in the common shape or
/// does not fit (the caller then encodes the parsed tree, which explains).
pub fn encode_json(
    schema: &Schema,
    names: &Names,
    json: &[u8],
    out: &mut Vec<u8>,
    capture: &mut Capture<'_>,
) -> bool {
    encode_with(schema, names, out, capture, |seed| {
        json_text::read_bytes(json, seed).is_some()
    })
}

/// [`encode_json`] of the value at `reader`'s position in a larger text. On `false` the reader
/// is left somewhere inside the value.
pub fn encode_json_in(
    schema: &Schema,
    names: &Names,
    reader: &mut json_text::Reader<'_>,
    out: &mut Vec<u8>,
    capture: &mut Capture<'_>,
) -> bool {
    encode_with(schema, names, out, capture, |seed| {
        reader.value(seed).is_ok()
    })
}

fn encode_with(
    schema: &Schema,
    names: &Names,
    out: &mut Vec<u8>,
    capture: &mut Capture<'_>,
    read: impl FnOnce(Seed<'_, '_, '_, '_>) -> bool,
) -> bool {
    let start = out.len();
    let mut state = State {
        names,
        out,
        capture,
    };
    let seed = Seed {
        state: &mut state,
        schema,
        depth: 0,
        slot: None,
    };
    let ok = read(seed);
    if !ok {
        out.truncate(start);
    }
    ok
}

struct State<'a, 'c, 'f> {
    names: &'a Names,
    out: &'a mut Vec<u8>,
    capture: &'c mut Capture<'f>,
}

/// One datum of `schema` to read; `slot` is the capture slot of a top-level field.
struct Seed<'s, 'a, 'c, 'f> {
    state: &'s mut State<'a, 'c, 'f>,
    schema: &'a Schema,
    depth: usize,
    slot: Option<usize>,
}

fn abort<E: de::Error>() -> E {
    E::custom("not on the streaming path")
}

impl<'de> DeserializeSeed<'de> for Seed<'_, '_, '_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        if self.depth > MAX_DEPTH {
            return Err(abort());
        }
        match self.state.names.resolve(self.schema) {
            Some(schema) if !matches!(schema, Schema::Ref { .. }) => {
                deserializer.deserialize_any(Seed { schema, ..self })
            }
            _ => Err(abort()),
        }
    }
}

impl<'a> Seed<'_, 'a, '_, '_> {
    #[inline]
    fn capture(&mut self, value: impl FnOnce() -> Captured) {
        if let Some(slot) = self.slot {
            self.state.capture.set(slot, value());
        }
    }

    #[inline]
    fn capture_str(&mut self, value: &str) {
        if let Some(slot) = self.slot {
            self.state.capture.set_str(slot, value);
        }
    }

    /// The branch of a union a scalar goes to, chosen as `encode` infers it: the first branch
    /// that takes the JSON type exactly, else the first that takes it loosely.
    fn branch<E: de::Error>(
        &mut self,
        fit: impl Fn(&Schema) -> Option<Fit>,
    ) -> Result<&'a Schema, E> {
        let Schema::Union(union) = self.schema else {
            return Ok(self.schema);
        };
        let names = self.state.names;
        let resolved = union
            .variants()
            .iter()
            .enumerate()
            .filter_map(|(i, v)| names.resolve(v).map(|s| (i, s)));
        let mut loose = None;
        for (index, schema) in resolved {
            match fit(schema) {
                Some(Fit::Exact) => {
                    write_len(self.state.out, index);
                    return Ok(schema);
                }
                Some(Fit::Loose) if loose.is_none() => loose = Some((index, schema)),
                _ => {}
            }
        }
        let (index, schema) = loose.ok_or_else(abort)?;
        write_len(self.state.out, index);
        Ok(schema)
    }

    fn number<E: de::Error>(&mut self, integer: Option<i128>, float: f64) -> Result<(), E> {
        let schema = self.branch(|s| match (s, integer) {
            (Schema::Int | Schema::Date | Schema::TimeMillis, Some(v)) => {
                i32::try_from(v).ok().map(|_| Fit::Exact)
            }
            (s, Some(v)) if is_long(s) => i64::try_from(v).ok().map(|_| Fit::Exact),
            (Schema::Float | Schema::Double, Some(_)) => Some(Fit::Loose),
            (Schema::Float | Schema::Double, None) => Some(Fit::Exact),
            // A decimal branch would be a candidate: leave it to the tree.
            (Schema::Decimal(_), _) => Some(Fit::Loose),
            _ => None,
        })?;
        let out = &mut *self.state.out;
        match (schema, integer) {
            (Schema::Int | Schema::Date | Schema::TimeMillis, Some(v)) => {
                write_long(out, i32::try_from(v).map_err(|_| abort())?.into());
            }
            (s, Some(v)) if is_long(s) => write_long(out, i64::try_from(v).map_err(|_| abort())?),
            (Schema::Double, _) => out.extend_from_slice(&float.to_le_bytes()),
            (Schema::Float, _) if !float.is_finite() || (float as f32).is_finite() => {
                out.extend_from_slice(&(float as f32).to_le_bytes());
            }
            _ => return Err(abort()),
        }
        Ok(())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Fit {
    Exact,
    Loose,
}

impl<'de> Visitor<'de> for Seed<'_, '_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(mut self) -> Result<(), E> {
        self.capture(|| Captured::Null);
        match self.branch(|s| matches!(s, Schema::Null).then_some(Fit::Exact))? {
            Schema::Null => Ok(()),
            _ => Err(abort()),
        }
    }

    fn visit_bool<E: de::Error>(mut self, v: bool) -> Result<(), E> {
        self.capture(|| Captured::Bool(v));
        match self.branch(|s| matches!(s, Schema::Boolean).then_some(Fit::Exact))? {
            Schema::Boolean => {
                self.state.out.push(u8::from(v));
                Ok(())
            }
            _ => Err(abort()),
        }
    }

    fn visit_i64<E: de::Error>(mut self, v: i64) -> Result<(), E> {
        self.capture(|| Captured::Int(v));
        self.number(Some(v.into()), v as f64)
    }

    fn visit_u64<E: de::Error>(mut self, v: u64) -> Result<(), E> {
        self.capture(|| Captured::unsigned(v));
        self.number(Some(v.into()), v as f64)
    }

    fn visit_f64<E: de::Error>(mut self, v: f64) -> Result<(), E> {
        self.capture(|| Captured::Float(v));
        self.number(None, v)
    }

    fn visit_str<E: de::Error>(mut self, v: &str) -> Result<(), E> {
        self.capture_str(v);
        let special = matches!(v, "NaN" | "Infinity" | "-Infinity");
        let schema = self.branch(|s| match s {
            Schema::String => Some(Fit::Exact),
            Schema::Uuid | Schema::Decimal(_) | Schema::Bytes | Schema::BigDecimal => {
                Some(Fit::Loose)
            }
            Schema::Fixed(_) | Schema::Duration => Some(Fit::Loose),
            Schema::Enum(e) if e.symbols.iter().any(|x| same(x, v)) => Some(Fit::Loose),
            Schema::Float | Schema::Double if special => Some(Fit::Loose),
            _ => None,
        })?;
        let out = &mut *self.state.out;
        match schema {
            Schema::String | Schema::Uuid => write_str(out, v),
            Schema::Enum(e) => {
                let index = e
                    .symbols
                    .iter()
                    .position(|x| same(x, v))
                    .ok_or_else(abort)?;
                write_len(out, index);
            }
            Schema::Float | Schema::Double if special => {
                let f = match v {
                    "NaN" => f64::NAN,
                    "Infinity" => f64::INFINITY,
                    _ => f64::NEG_INFINITY,
                };
                if let Schema::Double = schema {
                    out.extend_from_slice(&f.to_le_bytes());
                } else {
                    out.extend_from_slice(&(f as f32).to_le_bytes());
                }
            }
            _ => return Err(abort()),
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        self.capture(|| Captured::Complex);
        let Schema::Array(array) =
            self.branch(|s| matches!(s, Schema::Array(_)).then_some(Fit::Exact))?
        else {
            return Err(abort());
        };
        let start = self.state.out.len();
        let mut count = 0usize;
        loop {
            let item = Seed {
                state: &mut *self.state,
                schema: &array.items,
                depth: self.depth + 1,
                slot: None,
            };
            if seq.next_element_seed(item)?.is_none() {
                break;
            }
            count += 1;
        }
        finish_block(self.state.out, start, count);
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, map: A) -> Result<(), A::Error> {
        self.capture(|| Captured::Complex);
        match self.schema {
            Schema::Record(record) => self.record(record, map),
            Schema::Map(m) => self.map(&m.types, map),
            // An object in a union is a tag or a record or map branch: `encode` looks at all
            // of its keys before choosing, which one pass cannot.
            _ => Err(abort()),
        }
    }
}

impl<'de, 'a> Seed<'_, 'a, '_, '_> {
    fn record<A: MapAccess<'de>>(
        mut self,
        record: &'a RecordSchema,
        mut map: A,
    ) -> Result<(), A::Error> {
        if self.depth == 0 {
            self.state.capture.mark_object();
        }
        let mut next = 0;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let key = key.as_str();
            let index = if record.fields.len() <= 8 {
                // Fields come in schema order: the search starts at the one expected next.
                (record.fields.get(next..).unwrap_or_default())
                    .iter()
                    .position(|f| same(&f.name, key))
                    .map(|i| i + next)
            } else {
                // The lookup may hold aliases too: only a field's own name is a key here.
                (record.lookup.get(key).copied())
                    .filter(|i| record.fields.get(*i).is_some_and(|f| f.name == key))
            };
            // Unknown, duplicated or out of order: the tree path decides.
            let index = index.filter(|i| *i >= next).ok_or_else(abort)?;
            self.defaults(record, next, index)?;
            let slot = if self.depth == 0 {
                self.state.capture.slot(key)
            } else {
                None
            };
            let field = record.fields.get(index).ok_or_else(abort)?;
            map.next_value_seed(Seed {
                state: &mut *self.state,
                schema: &field.schema,
                depth: self.depth + 1,
                slot,
            })?;
            next = index + 1;
        }
        self.defaults(record, next, record.fields.len())
    }

    /// Writes the defaults of fields `from..to`, which the record does not have.
    fn defaults<E: de::Error>(
        &mut self,
        record: &'a RecordSchema,
        from: usize,
        to: usize,
    ) -> Result<(), E> {
        let fields = record.fields.get(from..to).ok_or_else(abort)?;
        // The tree counts a record's fields one level below the record.
        let depth = self.depth + 1;
        for field in fields {
            let default = field.default.as_ref().ok_or_else(abort)?;
            encode_default(
                &field.schema,
                self.state.names,
                default,
                depth,
                &mut *self.state.out,
            )
            .map_err(|_| abort())?;
        }
        Ok(())
    }

    /// A map's entries, which must arrive in strictly increasing key order: `encode` writes
    /// the parsed tree's sorted map, so only then are the bytes the same.
    fn map<A: MapAccess<'de>>(self, values: &'a Schema, mut map: A) -> Result<(), A::Error> {
        let start = self.state.out.len();
        let mut count = 0usize;
        let mut previous: Option<(usize, usize)> = None;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let key = key.as_str();
            let out = &mut *self.state.out;
            if let Some((at, len)) = previous {
                let last = out.get(at..at + len).ok_or_else(abort)?;
                if key.as_bytes() <= last {
                    return Err(abort());
                }
            }
            write_len(out, key.len());
            previous = Some((out.len(), key.len()));
            out.extend_from_slice(key.as_bytes());
            map.next_value_seed(Seed {
                state: &mut *self.state,
                schema: values,
                depth: self.depth + 1,
                slot: None,
            })?;
            count += 1;
        }
        finish_block(self.state.out, start, count);
        Ok(())
    }
}

/// Ends an array or map written from `start` with `count` items: the count goes before them
/// (it was not known while they streamed), then the 0 that ends the blocks.
pub(super) fn finish_block(out: &mut Vec<u8>, start: usize, count: usize) {
    if count > 0 {
        let mut head = Vec::with_capacity(10);
        write_len(&mut head, count);
        out.splice(start..start, head);
    }
    out.push(0);
}

#[cfg(test)]
pub(super) mod tests;
