//! An Avro schema compiled once into an encoding plan, so that JSON text → Avro binary on the
//! produce fast path is a walk over the tokens and the plan, with nothing resolved per record:
//! no named-type lookups, no union scans of the schema, no `serde` visitor calls, and the
//! defaults of missing fields already encoded.
//!
//! It is the streaming encoder ([`super::stream`]) done ahead of time, and must agree with it
//! byte for byte: the same shapes taken (fields in schema order, natural JSON scalars, unions
//! chosen by a scalar's JSON type, maps with sorted keys), the same ones declined, the same
//! fields captured for rules (the differential tests hold it to that). Schemas it cannot plan
//! — recursive types, or more than [`MAX_STEPS`] steps or [`MAX_DEPTH`] levels once named types
//! are expanded — get no plan, and the streaming encoder serves them. It never reports why it
//! declines a record: the tree path words the errors.

use apache_avro::Schema;
use apache_avro::schema::Name;

use super::encode::{encode_default, is_long, write_len, write_long, write_str};
use super::names::Names;
use super::stream::finish_block;
use crate::json_text::{self, Kind, Number, Reader};
use crate::schema::capture::{Capture, Captured};
use crate::schema::object_key::same;

/// Expanded steps past this make no plan: a named type used at many places is copied into
/// each, and schemas built to multiply that must not cost memory.
const MAX_STEPS: usize = 4096;
/// Nesting past this makes no plan (the streaming encoder leaves deeper data to the tree).
const MAX_DEPTH: usize = 32;

/// A schema's encoding plan.
#[derive(Debug)]
pub struct Plan {
    root: Step,
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
    Record(Box<[Field]>),
    /// The branches, in declared order.
    Union(Box<[Step]>),
    /// A type JSON text reaches only through the tree (bytes, fixed, decimal, duration): a union
    /// may still choose it, which declines the record as the streaming encoder does.
    Opaque {
        /// Whether a union takes numbers into it loosely (decimals do).
        takes_numbers: bool,
    },
}

#[derive(Debug)]
struct Field {
    name: String,
    step: Step,
    /// The encoded default, when the field has one that encodes.
    default: Option<Box<[u8]>>,
}

/// How well a union branch takes a value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fit {
    Exact,
    Loose,
}

impl Plan {
    /// The plan of `schema`, whose named types are in `names`; `None` for a schema it cannot
    /// plan (the streaming encoder then serves it).
    #[must_use]
    pub fn compile(schema: &Schema, names: &Names) -> Option<Plan> {
        let mut compiler = Compiler {
            names,
            open: Vec::new(),
            steps: 0,
        };
        compiler.step(schema, 0).map(|root| Plan { root })
    }

    /// Appends the Avro binary of the JSON text `json` to `out` and returns true; or returns
    /// false with `out` as it was, as [`super::stream::encode_json`] would.
    pub fn encode_json(&self, json: &[u8], out: &mut Vec<u8>, capture: &mut Capture<'_>) -> bool {
        let Ok(text) = std::str::from_utf8(json) else {
            return false;
        };
        let mut reader = Reader::new(text);
        self.encode_with(out, |out| {
            self.root(&mut reader, out, capture)?;
            reader.finish()
        })
    }

    /// [`Plan::encode_json`] of the value at `reader`'s position in a larger text. On `false`
    /// the reader is left somewhere inside the value.
    pub fn encode_in(
        &self,
        reader: &mut Reader<'_>,
        out: &mut Vec<u8>,
        capture: &mut Capture<'_>,
    ) -> bool {
        self.encode_with(out, |out| self.root(reader, out, capture))
    }

    fn encode_with(
        &self,
        out: &mut Vec<u8>,
        encode: impl FnOnce(&mut Vec<u8>) -> json_text::Result<()>,
    ) -> bool {
        let start = out.len();
        let ok = encode(out).is_ok();
        if !ok {
            out.truncate(start);
        }
        ok
    }

    /// The top-level datum: a record's fields are captured for rules.
    fn root(
        &self,
        reader: &mut Reader<'_>,
        out: &mut Vec<u8>,
        capture: &mut Capture<'_>,
    ) -> json_text::Result<()> {
        match &self.root {
            Step::Record(fields) if reader.next_kind() == Kind::Object => {
                capture.mark_object();
                record(fields, reader, out, &mut Some(capture))
            }
            step => value(step, reader, out, &mut None, None),
        }
    }
}

struct Compiler<'a> {
    names: &'a Names,
    /// The records being compiled, outermost first: meeting one again is recursion.
    open: Vec<&'a Name>,
    steps: usize,
}

impl<'a> Compiler<'a> {
    fn step(&mut self, schema: &'a Schema, depth: usize) -> Option<Step> {
        self.steps += 1;
        if self.steps > MAX_STEPS || depth > MAX_DEPTH {
            return None;
        }
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
            Schema::Array(a) => Step::Array(Box::new(self.step(&a.items, depth + 1)?)),
            Schema::Map(m) => Step::Map(Box::new(self.step(&m.types, depth + 1)?)),
            Schema::Union(u) => Step::Union(
                (u.variants().iter())
                    .map(|v| self.step(v, depth))
                    .collect::<Option<_>>()?,
            ),
            Schema::Record(record) => {
                if self.open.contains(&&record.name) {
                    return None;
                }
                self.open.push(&record.name);
                let fields = (record.fields.iter())
                    .map(|f| {
                        let mut default = Vec::new();
                        let default = f.default.as_ref().and_then(|d| {
                            encode_default(&f.schema, self.names, d, depth + 1, &mut default)
                                .ok()
                                .map(|()| default.into_boxed_slice())
                        });
                        Some(Field {
                            name: f.name.clone(),
                            step: self.step(&f.schema, depth + 1)?,
                            default,
                        })
                    })
                    .collect::<Option<_>>();
                self.open.pop();
                Step::Record(fields?)
            }
            Schema::Decimal(_) => Step::Opaque {
                takes_numbers: true,
            },
            Schema::Bytes | Schema::Fixed(_) | Schema::Duration | Schema::BigDecimal => {
                Step::Opaque {
                    takes_numbers: false,
                }
            }
            // A reference to a reference, or anything newer than this plan.
            _ => return None,
        })
    }
}

fn abort<T>() -> json_text::Result<T> {
    Err(serde::de::Error::custom("not on the plan"))
}

/// The capture of a top-level record's fields, when this record is that one.
type Capturing<'c, 'f> = Option<&'c mut Capture<'f>>;

/// One datum of `step`; `slot` is its capture slot when it is a captured top-level field.
fn value(
    step: &Step,
    reader: &mut Reader<'_>,
    out: &mut Vec<u8>,
    capture: &mut Capturing<'_, '_>,
    slot: Option<usize>,
) -> json_text::Result<()> {
    let mut keep = |value: Captured| {
        if let (Some(capture), Some(slot)) = (capture.as_deref_mut(), slot) {
            capture.set(slot, value);
        }
    };
    match reader.next_kind() {
        Kind::Null => {
            reader.null()?;
            keep(Captured::Null);
            match branch(step, out, |s| matches!(s, Step::Null).then_some(Fit::Exact))? {
                Step::Null => Ok(()),
                _ => abort(),
            }
        }
        Kind::Bool => {
            let v = reader.boolean()?;
            keep(Captured::Bool(v));
            match branch(step, out, |s| {
                matches!(s, Step::Boolean).then_some(Fit::Exact)
            })? {
                Step::Boolean => {
                    out.push(u8::from(v));
                    Ok(())
                }
                _ => abort(),
            }
        }
        Kind::Number => {
            let (captured, integer, float) = match reader.number()? {
                Number::U64(v) => (Captured::unsigned(v), Some(i128::from(v)), v as f64),
                Number::I64(v) => (Captured::Int(v), Some(i128::from(v)), v as f64),
                Number::F64(v) => (Captured::Float(v), None, v),
            };
            keep(captured);
            number(step, out, integer, float)
        }
        Kind::String => {
            let v = reader.string()?;
            if let (Some(capture), Some(slot)) = (capture.as_deref_mut(), slot) {
                capture.set_str(slot, &v);
            }
            string(step, out, &v)
        }
        Kind::Array => {
            keep(Captured::Complex);
            match branch(step, out, |s| {
                matches!(s, Step::Array(_)).then_some(Fit::Exact)
            })? {
                Step::Array(items) => array(items, reader, out),
                _ => abort(),
            }
        }
        Kind::Object => {
            keep(Captured::Complex);
            match step {
                Step::Record(fields) => record(fields, reader, out, &mut None),
                Step::Map(values) => map(values, reader, out),
                // An object in a union is a tag or a record or map branch: the tree looks at all
                // of its keys before choosing, which one pass cannot.
                _ => abort(),
            }
        }
        Kind::Invalid => abort(),
    }
}

/// The branch of a union a scalar goes to, chosen as `encode` infers it (the first branch that
/// takes the JSON type exactly, else the first that takes it loosely), its index written.
#[inline]
fn branch<'s>(
    step: &'s Step,
    out: &mut Vec<u8>,
    fit: impl Fn(&Step) -> Option<Fit>,
) -> json_text::Result<&'s Step> {
    let Step::Union(branches) = step else {
        return Ok(step);
    };
    let mut loose = None;
    for (index, branch) in branches.iter().enumerate() {
        match fit(branch) {
            Some(Fit::Exact) => {
                write_len(out, index);
                return Ok(branch);
            }
            Some(Fit::Loose) if loose.is_none() => loose = Some((index, branch)),
            _ => {}
        }
    }
    let Some((index, branch)) = loose else {
        return abort();
    };
    write_len(out, index);
    Ok(branch)
}

#[allow(
    clippy::cast_possible_truncation,
    reason = "a float branch narrows as the streaming encoder does, checked for overflow"
)]
fn number(
    step: &Step,
    out: &mut Vec<u8>,
    integer: Option<i128>,
    float: f64,
) -> json_text::Result<()> {
    let step = branch(step, out, |s| match (s, integer) {
        (Step::Int, Some(v)) => i32::try_from(v).ok().map(|_| Fit::Exact),
        (Step::Long, Some(v)) => i64::try_from(v).ok().map(|_| Fit::Exact),
        (Step::Float | Step::Double, Some(_)) => Some(Fit::Loose),
        (Step::Float | Step::Double, None) => Some(Fit::Exact),
        (Step::Opaque { takes_numbers }, _) => takes_numbers.then_some(Fit::Loose),
        _ => None,
    })?;
    match (step, integer) {
        (Step::Int, Some(v)) => match i32::try_from(v) {
            Ok(v) => write_long(out, v.into()),
            Err(_) => return abort(),
        },
        (Step::Long, Some(v)) => match i64::try_from(v) {
            Ok(v) => write_long(out, v),
            Err(_) => return abort(),
        },
        (Step::Double, _) => out.extend_from_slice(&float.to_le_bytes()),
        (Step::Float, _) if !float.is_finite() || (float as f32).is_finite() => {
            out.extend_from_slice(&(float as f32).to_le_bytes());
        }
        _ => return abort(),
    }
    Ok(())
}

#[allow(
    clippy::cast_possible_truncation,
    reason = "infinities and NaN narrow exactly"
)]
fn string(step: &Step, out: &mut Vec<u8>, v: &str) -> json_text::Result<()> {
    let special = matches!(v, "NaN" | "Infinity" | "-Infinity");
    let step = branch(step, out, |s| match s {
        Step::String => Some(Fit::Exact),
        Step::Uuid | Step::Opaque { .. } => Some(Fit::Loose),
        Step::Enum(symbols) if symbols.iter().any(|x| same(x, v)) => Some(Fit::Loose),
        Step::Float | Step::Double if special => Some(Fit::Loose),
        _ => None,
    })?;
    match step {
        Step::String | Step::Uuid => write_str(out, v),
        Step::Enum(symbols) => match symbols.iter().position(|x| same(x, v)) {
            Some(index) => write_len(out, index),
            None => return abort(),
        },
        Step::Float | Step::Double if special => {
            let f = match v {
                "NaN" => f64::NAN,
                "Infinity" => f64::INFINITY,
                _ => f64::NEG_INFINITY,
            };
            if let Step::Double = step {
                out.extend_from_slice(&f.to_le_bytes());
            } else {
                out.extend_from_slice(&(f as f32).to_le_bytes());
            }
        }
        _ => return abort(),
    }
    Ok(())
}

/// A record's fields, which must come in schema order; missing ones take their defaults.
fn record(
    fields: &[Field],
    reader: &mut Reader<'_>,
    out: &mut Vec<u8>,
    capture: &mut Capturing<'_, '_>,
) -> json_text::Result<()> {
    let mut next = 0;
    reader.object(|reader, key| {
        // Fields come in schema order: the search starts at the one expected next. Unknown,
        // duplicated or out of order: the tree decides.
        let rest = fields.get(next..).unwrap_or_default();
        let Some(at) = rest.iter().position(|f| same(&f.name, key)) else {
            return abort();
        };
        defaults(rest.get(..at).unwrap_or_default(), out)?;
        let slot = capture.as_deref().and_then(|c| c.slot(key));
        let Some(field) = rest.get(at) else {
            return abort();
        };
        value(&field.step, reader, out, capture, slot)?;
        next += at + 1;
        Ok(())
    })?;
    defaults(fields.get(next..).unwrap_or_default(), out)
}

/// Writes the defaults of `fields`, which the record does not have.
fn defaults(fields: &[Field], out: &mut Vec<u8>) -> json_text::Result<()> {
    for field in fields {
        match &field.default {
            Some(bytes) => out.extend_from_slice(bytes),
            None => return abort(),
        }
    }
    Ok(())
}

fn array(items: &Step, reader: &mut Reader<'_>, out: &mut Vec<u8>) -> json_text::Result<()> {
    let start = out.len();
    let mut count = 0usize;
    reader.array(|reader| {
        count += 1;
        value(items, reader, out, &mut None, None)
    })?;
    finish_block(out, start, count);
    Ok(())
}

/// A map's entries, which must arrive in strictly increasing key order: the tree writes its
/// parsed map sorted, so only then are the bytes the same.
fn map(values: &Step, reader: &mut Reader<'_>, out: &mut Vec<u8>) -> json_text::Result<()> {
    let start = out.len();
    let mut count = 0usize;
    let mut previous: Option<(usize, usize)> = None;
    reader.object(|reader, key| {
        if let Some((at, len)) = previous {
            match out.get(at..at + len) {
                Some(last) if key.as_bytes() > last => {}
                _ => return abort(),
            }
        }
        write_len(out, key.len());
        previous = Some((out.len(), key.len()));
        out.extend_from_slice(key.as_bytes());
        count += 1;
        value(values, reader, out, &mut None, None)
    })?;
    finish_block(out, start, count);
    Ok(())
}

#[cfg(test)]
mod tests;
