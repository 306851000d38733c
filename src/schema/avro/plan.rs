//! JSON text → Avro binary on the produce fast path, from a plan compiled once per schema: a
//! walk over the JSON tokens and the plan, with nothing resolved per record (no named-type
//! lookups, no union scans of the schema, no `serde` visitor calls; the defaults of missing
//! fields are encoded ahead of time). Parsing each record into a tree cost more than everything
//! else the gateway does with it.
//!
//! Owns only the common shape of records: fields in schema order (missing ones take their
//! defaults), natural JSON scalars, unions chosen by a scalar's JSON type, arrays, and maps
//! whose keys arrive sorted. Anything else — a field out of order, a duplicate key, an object
//! in a union (a tag or a record branch), bytes, fixed, decimals, a value that does not fit —
//! answers "not here" and the caller runs `encode::encode` over the parsed tree, which knows
//! every case and words the errors. So this module must produce exactly the bytes `encode`
//! would, or nothing; it never reports why (the differential tests hold it to that).
//!
//! While reading a top-level record it also picks the fields data-contract rules read
//! ([`Capture`]), so rules need no tree either.

use std::collections::HashMap;

use apache_avro::Schema;
use apache_avro::schema::Name;
use serde_json::Value;

use super::data_error::MAX_DEPTH as MAX_TREE_DEPTH;
use super::encode::{encode_default, is_long};
use super::names::Names;
use crate::json_text::{self, Reader};
use crate::schema::capture::Capture;

/// Data nested deeper than this is left to the tree (the reader declines past 100 levels too,
/// and the tree refuses past 128): it bounds the walk's recursion.
const MAX_DEPTH: usize = 100;

/// A schema's encoding plan.
#[derive(Debug)]
pub struct Plan {
    root: Step,
    /// Every record type the schema reaches, once each: [`Step::Record`] indexes it, so that
    /// recursive types and types used at many places cost one entry.
    records: Box<[Box<[Field]>]>,
}

/// What to do with one datum.
#[derive(Debug)]
enum Step {
    Null,
    Boolean,
    /// `int` and the logical types written as one.
    Int,
    /// `long` and the logical types written as one.
    Long,
    Float,
    Double,
    String,
    /// A string written as is, that a union takes only loosely.
    Uuid,
    Enum(Box<[String]>),
    Array(Box<Step>),
    Map(Box<Step>),
    /// The record at this index of [`Plan::records`].
    Record(usize),
    /// The branches, in declared order.
    Union(Box<[Step]>),
    /// A type JSON text reaches only through the tree (bytes, fixed, decimal, duration): a union
    /// may still choose it, which declines the record.
    Opaque {
        /// Whether a union takes numbers into it loosely (decimals do).
        takes_numbers: bool,
    },
}

#[derive(Debug)]
struct Field {
    name: String,
    step: Step,
    /// The encoded default and the deepest nesting at which the tree writes it, when the
    /// field has one that encodes.
    default: Option<(Box<[u8]>, usize)>,
}

/// How well a union branch takes a value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fit {
    Exact,
    Loose,
}

impl Plan {
    /// The plan of `schema`, whose named types are in `names`; `None` for a schema with a type
    /// the plan does not know (the tree then encodes every record).
    #[must_use]
    pub fn compile(schema: &Schema, names: &Names) -> Option<Plan> {
        let mut compiler = Compiler {
            names,
            records: Vec::new(),
            index: HashMap::new(),
        };
        let root = compiler.step(schema)?;
        let records = compiler.records.into_iter().collect::<Option<_>>()?;
        Some(Plan { root, records })
    }

    /// Appends the Avro binary of the JSON text `json` (a datum of the schema) to `out` and
    /// returns true; or returns false with `out` as it was, when the record is not in the
    /// common shape or does not fit (the caller then encodes the parsed tree, which explains).
    pub fn encode_json(&self, json: &[u8], out: &mut Vec<u8>, capture: &mut Capture<'_>) -> bool {
        encode_with(out, |out| {
            json_text::read_whole(json, |reader| self.root(reader, out, capture)).is_some()
        })
    }

    /// For a record schema, the capture slot of each of its fields (`fields` are the ones a
    /// capture picks, see [`Capture::by_field`]); empty for any other schema.
    #[must_use]
    pub fn field_slots(&self, fields: &[String]) -> Box<[Option<usize>]> {
        let Step::Record(index) = self.root else {
            return Box::default();
        };
        (self.records.get(index).map(|r| &**r).unwrap_or_default())
            .iter()
            .map(|field| fields.iter().position(|f| *f == field.name))
            .collect()
    }

    /// The symbols of the record schema's field `name` when that field is an enum (such a
    /// field is captured as a symbol index, [`Captured::Symbol`]).
    ///
    /// [`Captured::Symbol`]: crate::schema::capture::Captured::Symbol
    #[must_use]
    pub fn enum_symbols(&self, name: &str) -> Option<&[String]> {
        let Step::Record(index) = self.root else {
            return None;
        };
        let field = self.records.get(index)?.iter().find(|f| f.name == name)?;
        match &field.step {
            Step::Enum(symbols) => Some(symbols),
            _ => None,
        }
    }

    /// [`Plan::encode_json`] of the value at `reader`'s position in a larger text. On `false`
    /// the reader is left somewhere inside the value.
    pub fn encode_in(
        &self,
        reader: &mut Reader<'_>,
        out: &mut Vec<u8>,
        capture: &mut Capture<'_>,
    ) -> bool {
        encode_with(out, |out| self.root(reader, out, capture).is_ok())
    }
}

/// Runs `encode`, leaving `out` as it was when it fails.
fn encode_with(out: &mut Vec<u8>, encode: impl FnOnce(&mut Vec<u8>) -> bool) -> bool {
    let start = out.len();
    let ok = encode(out);
    if !ok {
        out.truncate(start);
    }
    ok
}

struct Compiler<'a> {
    names: &'a Names,
    /// Compiled records; `None` while one's fields are being compiled.
    records: Vec<Option<Box<[Field]>>>,
    index: HashMap<&'a Name, usize>,
}

impl<'a> Compiler<'a> {
    fn step(&mut self, schema: &'a Schema) -> Option<Step> {
        let schema = self.names.resolve(schema)?;
        Some(match schema {
            Schema::Null => Step::Null,
            Schema::Boolean => Step::Boolean,
            Schema::Int | Schema::Date | Schema::TimeMillis => Step::Int,
            s if is_long(s) => Step::Long,
            Schema::Float => Step::Float,
            Schema::Double => Step::Double,
            Schema::String => Step::String,
            Schema::Uuid => Step::Uuid,
            Schema::Enum(e) => Step::Enum(e.symbols.clone().into()),
            Schema::Array(a) => Step::Array(Box::new(self.step(&a.items)?)),
            Schema::Map(m) => Step::Map(Box::new(self.step(&m.types)?)),
            Schema::Union(u) => Step::Union(
                (u.variants().iter())
                    .map(|v| self.step(v))
                    .collect::<Option<_>>()?,
            ),
            Schema::Record(record) => {
                if let Some(index) = self.index.get(&record.name) {
                    return Some(Step::Record(*index));
                }
                let index = self.records.len();
                self.records.push(None);
                self.index.insert(&record.name, index);
                let fields = (record.fields.iter())
                    .map(|f| {
                        Some(Field {
                            name: f.name.clone(),
                            step: self.step(&f.schema)?,
                            default: f.default.as_ref().and_then(|d| self.default(&f.schema, d)),
                        })
                    })
                    .collect::<Option<_>>()?;
                *self.records.get_mut(index)? = Some(fields);
                Step::Record(index)
            }
            Schema::Decimal(_) => Step::Opaque {
                takes_numbers: true,
            },
            Schema::Bytes | Schema::Fixed(_) | Schema::Duration | Schema::BigDecimal => {
                Step::Opaque {
                    takes_numbers: false,
                }
            }
            // A reference to a reference, or a type newer than this plan.
            _ => return None,
        })
    }

    /// A field's default, encoded as the tree writes it for a missing field, with the
    /// deepest nesting at which the tree still writes it; `None` when it does not encode (a
    /// record missing that field is then left to the tree).
    fn default(&self, schema: &Schema, default: &Value) -> Option<(Box<[u8]>, usize)> {
        let encodes_at = |depth: usize| {
            encode_default(schema, self.names, default, depth, &mut Vec::new()).is_ok()
        };
        let mut out = Vec::new();
        encode_default(schema, self.names, default, 1, &mut out).ok()?;
        // The tree refuses past a depth, and a default reaches as deep as the records it
        // fills in, not only as deep as its own text: find where the refusals begin (a
        // default that encodes at some depth encodes at every shallower one).
        let (mut deepest, mut refused) = (1, MAX_TREE_DEPTH + 1);
        while refused - deepest > 1 {
            let middle = deepest + (refused - deepest) / 2;
            if encodes_at(middle) {
                deepest = middle;
            } else {
                refused = middle;
            }
        }
        Some((out.into_boxed_slice(), deepest))
    }
}

mod walk;

#[cfg(test)]
mod tests;
