//! The walk of a [`Plan`] over one record's JSON tokens, writing Avro binary: what the plan's
//! steps mean for each kind of token, with the union, number and string rules of the tree
//! (`encode::encode`) for the values it takes. It must not decide anything from the schema
//! (the plan did that) or explain a refusal (the tree does).

use super::{Field, Fit, MAX_DEPTH, Plan, Step};
use crate::json_text::{self, Kind, Number, Reader};
use crate::schema::avro::encode::{write_len, write_long, write_str};
use crate::schema::capture::{Capture, Captured};
use crate::schema::object_key::same;

impl Plan {
    /// The top-level datum: a record's fields are captured for rules.
    pub(super) fn root(
        &self,
        reader: &mut Reader<'_>,
        out: &mut Vec<u8>,
        capture: &mut Capture<'_>,
    ) -> json_text::Result<()> {
        let walk = Walk {
            records: &self.records,
        };
        match self.root {
            Step::Record(index) if reader.next_kind() == Kind::Object => {
                capture.mark_object();
                walk.record(index, reader, out, &mut Some(capture), 0)
            }
            ref step => walk.value(step, reader, out, &mut None, None, 0),
        }
    }
}

fn abort<T>() -> json_text::Result<T> {
    Err(serde::de::Error::custom("not on the plan"))
}

/// The capture of a top-level record's fields, when this record is that one.
type Capturing<'c, 'f> = Option<&'c mut Capture<'f>>;

/// The walk over one record's tokens.
#[derive(Clone, Copy)]
struct Walk<'p> {
    records: &'p [Box<[Field]>],
}

impl Walk<'_> {
    /// One datum of `step` at nesting `depth`; `slot` is its capture slot when it is a
    /// captured top-level field.
    fn value(
        self,
        step: &Step,
        reader: &mut Reader<'_>,
        out: &mut Vec<u8>,
        capture: &mut Capturing<'_, '_>,
        slot: Option<usize>,
        depth: usize,
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
            Kind::String => reader.string(|v| match (capture.as_deref_mut(), slot, step) {
                // A captured enum field keeps the symbol's index, not a copy of its text.
                (Some(capture), Some(slot), Step::Enum(symbols)) => {
                    let Some(index) = symbols.iter().position(|x| same(x, v)) else {
                        return abort();
                    };
                    capture.set(
                        slot,
                        Captured::Symbol(u32::try_from(index).unwrap_or(u32::MAX)),
                    );
                    write_len(out, index);
                    Ok(())
                }
                (Some(capture), Some(slot), _) => {
                    capture.set_str(slot, v);
                    string(step, out, v)
                }
                _ => string(step, out, v),
            })?,
            Kind::Array => {
                keep(Captured::Complex);
                match branch(step, out, |s| {
                    matches!(s, Step::Array(_)).then_some(Fit::Exact)
                })? {
                    Step::Array(items) => self.array(items, reader, out, depth + 1),
                    _ => abort(),
                }
            }
            Kind::Object => {
                keep(Captured::Complex);
                match step {
                    Step::Record(index) => self.record(*index, reader, out, &mut None, depth + 1),
                    Step::Map(values) => self.map(values, reader, out, depth + 1),
                    // An object in a union is a tag or a record or map branch: the tree looks at
                    // all of its keys before choosing, which one pass cannot.
                    _ => abort(),
                }
            }
            Kind::Invalid => abort(),
        }
    }

    /// Record `index`'s fields, which must come in schema order; missing ones take their
    /// defaults.
    fn record(
        self,
        index: usize,
        reader: &mut Reader<'_>,
        out: &mut Vec<u8>,
        capture: &mut Capturing<'_, '_>,
        depth: usize,
    ) -> json_text::Result<()> {
        let Some(fields) = self.records.get(index) else {
            return abort();
        };
        if depth > MAX_DEPTH {
            return abort();
        }
        let mut next = 0;
        reader.object(|reader, key| {
            // Fields come in schema order: the search starts at the one expected next. Unknown,
            // duplicated or out of order: the tree decides.
            let rest = fields.get(next..).unwrap_or_default();
            let Some(at) = rest.iter().position(|f| same(&f.name, key)) else {
                return abort();
            };
            defaults(rest.get(..at).unwrap_or_default(), out, depth)?;
            let slot = capture
                .as_deref()
                .and_then(|c| c.slot_of_field(next + at, key));
            let Some(field) = rest.get(at) else {
                return abort();
            };
            self.value(&field.step, reader, out, capture, slot, depth)?;
            next += at + 1;
            Ok(())
        })?;
        defaults(fields.get(next..).unwrap_or_default(), out, depth)
    }

    fn array(
        self,
        items: &Step,
        reader: &mut Reader<'_>,
        out: &mut Vec<u8>,
        depth: usize,
    ) -> json_text::Result<()> {
        block(out, depth, |out, count| {
            reader.array(|reader| {
                *count += 1;
                self.value(items, reader, out, &mut None, None, depth)
            })
        })
    }

    /// A map's entries, which must arrive in strictly increasing key order: the tree writes
    /// its parsed map sorted, so only then are the bytes the same.
    fn map(
        self,
        values: &Step,
        reader: &mut Reader<'_>,
        out: &mut Vec<u8>,
        depth: usize,
    ) -> json_text::Result<()> {
        block(out, depth, |out, count| {
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
                *count += 1;
                self.value(values, reader, out, &mut None, None, depth)
            })
        })
    }
}

/// An array's or map's items at `depth`, which `items` writes and counts, as one block: the
/// count goes before them (it was not known while they streamed), then the 0 that ends the
/// blocks.
fn block(
    out: &mut Vec<u8>,
    depth: usize,
    items: impl FnOnce(&mut Vec<u8>, &mut usize) -> json_text::Result<()>,
) -> json_text::Result<()> {
    if depth > MAX_DEPTH {
        return abort();
    }
    let start = out.len();
    let mut count = 0usize;
    items(out, &mut count)?;
    if count > 0 {
        let mut head = Vec::with_capacity(10);
        write_len(&mut head, count);
        out.splice(start..start, head);
    }
    out.push(0);
    Ok(())
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
    reason = "a float branch narrows as the tree does, checked for overflow"
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

/// Writes the defaults of `fields`, which a record at `depth` does not have.
fn defaults(fields: &[Field], out: &mut Vec<u8>, depth: usize) -> json_text::Result<()> {
    for field in fields {
        match &field.default {
            // The tree writes it one level down, and refuses it deeper than it can.
            Some((bytes, deepest)) if depth < *deepest => {
                out.extend_from_slice(bytes);
            }
            _ => return abort(),
        }
    }
    Ok(())
}
