//! JSON → Avro binary for one datum: what a produce request carries becomes the bytes that go
//! after the Confluent wire-format header.
//!
//! Owns reading both JSON shapes users send: *natural* JSON (records as objects, unions by
//! inference, integers for `long`, …) and Avro's own *JSON encoding* that REST Proxy clients send
//! (`{"string":"x"}` union tags, bytes and fixed as ISO-8859-1 strings). It must not read or check
//! binary (that is `binary.rs`), parse or judge schemas, or allocate per field: it appends to the
//! caller's buffer and builds strings only to report an error.
//!
//! apache-avro's `Value::from(json).resolve()` is not used: it reports no paths, reads neither
//! union tags nor ISO-8859-1 bytes, and is slower (plan §1.1 gotcha 3).
//!
//! Choices:
//! - Union by inference: `null` → the null branch; otherwise the first branch that takes the
//!   value's JSON type exactly (an integer → int/long, another number → float/double, a string →
//!   string, boolean, array, an object → record or map in declared order), then the first that
//!   takes it loosely (integer → float/double/decimal, number → decimal, string → uuid, enum,
//!   bytes, fixed, duration, decimal, or float/double for "NaN"/"Infinity"/"-Infinity"). When
//!   several branches pass that cheap look, each is tried in order and the first error is kept.
//! - A one-key object whose key names a branch (full name for named types, else the Avro type it
//!   is written as: `string` for uuid, `long` for timestamps) is a tag, unless a record branch has
//!   a field of that name: then the natural reading is tried first and the tag second.
//! - In defaults (field defaults and all inside them) a union takes its first branch, as the spec
//!   and Java say; a default apache-avro let through for another branch falls back to inference.
//! - Decimal: a string that is a decimal numeral (`-12.34`, `1e3`) is read as a number; any other
//!   string is the Avro JSON encoding (ISO-8859-1 bytes of the two's-complement unscaled value).
//!   Trailing zeros beyond the scale pass (`12.340` at scale 2); other extra digits do not. So a
//!   decimal from `binary::decode` whose bytes all read as digits (unscaled 49 is "1") comes back
//!   as a number: decode → encode is not the identity for decimals.
//! - Float/double also accept "NaN", "Infinity", "-Infinity" (what `binary::decode` produces).

use std::fmt::{self, Write as _};

use apache_avro::Schema;
use apache_avro::schema::{DecimalSchema, Name, RecordSchema};
use serde_json::{Map, Value};

use super::data_error::{DataError, Path, quote};
use super::names::Names;

/// Appends the Avro binary encoding of `json` as a datum of `schema` to `out`. On error `out` is
/// left as it was.
pub fn encode(
    schema: &Schema,
    names: &Names,
    json: &Value,
    out: &mut Vec<u8>,
) -> Result<(), DataError> {
    encode_as(Mode::Data, 0, schema, names, json, out)
}

/// Appends the encoding of a record field's `default` (where unions take their first branch), as
/// [`encode`] writes a missing field at nesting `depth`; for the fast path's plan, which encodes
/// defaults ahead of time.
pub(super) fn encode_default(
    schema: &Schema,
    names: &Names,
    default: &Value,
    depth: usize,
    out: &mut Vec<u8>,
) -> Result<(), DataError> {
    encode_as(Mode::Default, depth, schema, names, default, out)
}

fn encode_as(
    mode: Mode,
    depth: usize,
    schema: &Schema,
    names: &Names,
    json: &Value,
    out: &mut Vec<u8>,
) -> Result<(), DataError> {
    let start = out.len();
    let at = At {
        path: Path::Root,
        depth,
        mode,
    };
    let result = Encoder { names, out }.value(schema, json, at);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// Whether we encode user data or a schema default (where unions take their first branch).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Data,
    Default,
}

/// Where the walk is: path for errors, nesting depth, mode. Copied down the recursion; each level
/// borrows its parent's path, so descending costs nothing.
#[derive(Clone, Copy)]
struct At<'a> {
    path: Path<'a>,
    depth: usize,
    mode: Mode,
}

impl At<'_> {
    fn error(&self, message: impl Into<String>) -> DataError {
        self.path.error(message)
    }

    /// One more level of records, arrays or maps, refused past `MAX_DEPTH`.
    fn enter(self) -> Result<Self, DataError> {
        let depth = self.path.enter(self.depth)?;
        Ok(At { depth, ..self })
    }

    /// The same place one step down, at `path` (whose parent is `self.path`).
    fn to<'s>(&'s self, path: Path<'s>) -> At<'s> {
        At { path, ..*self }
    }
}

/// How well a union branch takes a JSON value, from a cheap look at its top level.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fit {
    Exact,
    Loose,
}

type Done = Result<(), DataError>;

struct Encoder<'n, 'o> {
    names: &'n Names,
    out: &'o mut Vec<u8>,
}

impl Encoder<'_, '_> {
    /// Dispatches; recursion goes through here, so it keeps a small frame (debug builds give every
    /// match arm's temporaries their own stack slots) and leaves leaf work to `scalar`.
    fn value(&mut self, schema: &Schema, json: &Value, at: At<'_>) -> Done {
        let schema = match schema {
            // The names map holds only records, enums and fixed: no chain of references.
            Schema::Ref { name } => match self.names.resolve(schema) {
                Some(target) if !matches!(target, Schema::Ref { .. }) => target,
                _ => return Err(at.path.unknown_type(name)),
            },
            other => other,
        };
        match (schema, json) {
            (Schema::Union(u), _) => self.union(u.variants(), json, at),
            (Schema::Record(r), Value::Object(fields)) => self.record(r, fields, at.enter()?),
            (Schema::Array(a), Value::Array(items)) => self.array(&a.items, items, at.enter()?),
            (Schema::Map(m), Value::Object(entries)) => self.map(&m.types, entries, at.enter()?),
            _ => self.scalar(schema, json, at),
        }
    }

    fn scalar(&mut self, schema: &Schema, json: &Value, at: At<'_>) -> Done {
        match (schema, json) {
            (Schema::Null, Value::Null) => {}
            (Schema::Boolean, Value::Bool(b)) => self.out.push(u8::from(*b)),
            (Schema::Int | Schema::Date | Schema::TimeMillis, _) => {
                let v = integer(json).ok_or_else(|| mismatch(at, schema, json))?;
                let v = i32::try_from(v).map_err(|_| out_of_range(at, schema, v))?;
                write_long(self.out, v.into());
            }
            (s, _) if is_long(s) => {
                let v = integer(json).ok_or_else(|| mismatch(at, schema, json))?;
                let v = i64::try_from(v).map_err(|_| out_of_range(at, schema, v))?;
                write_long(self.out, v);
            }
            (Schema::Float | Schema::Double, _) => {
                let v = float(json).ok_or_else(|| mismatch(at, schema, json))?;
                if let Schema::Double = schema {
                    self.out.extend_from_slice(&v.to_le_bytes());
                } else if v.is_finite() && !(v as f32).is_finite() {
                    return Err(at.error(format!("{json} is out of range for float")));
                } else {
                    self.out.extend_from_slice(&(v as f32).to_le_bytes());
                }
            }
            (Schema::String | Schema::Uuid, Value::String(s)) => write_str(self.out, s),
            (Schema::Bytes | Schema::BigDecimal, _) => self.latin1(schema, json, None, at)?,
            (Schema::Fixed(f), _) => self.latin1(schema, json, Some(f.size), at)?,
            (Schema::Duration, _) => self.latin1(schema, json, Some(12), at)?,
            (Schema::Decimal(d), _) => self.decimal(schema, d, json, at)?,
            (Schema::Enum(e), Value::String(s)) => match e.symbols.iter().position(|x| x == s) {
                Some(index) => write_len(self.out, index),
                None => {
                    let (name, symbols) = (&e.name.name, e.symbols.join(", "));
                    let message =
                        format!("{} is not a symbol of enum {name} ({symbols})", quote(s));
                    return Err(at.error(message));
                }
            },
            _ => return Err(mismatch(at, schema, json)),
        }
        Ok(())
    }

    /// One block: count, items, then the 0 that ends the array (alone when empty).
    fn array(&mut self, schema: &Schema, items: &[Value], at: At<'_>) -> Done {
        if !items.is_empty() {
            write_len(self.out, items.len());
            for (i, item) in items.iter().enumerate() {
                self.value(schema, item, at.to(Path::Index(&at.path, i)))?;
            }
        }
        self.out.push(0);
        Ok(())
    }

    fn map(&mut self, schema: &Schema, entries: &Map<String, Value>, at: At<'_>) -> Done {
        if !entries.is_empty() {
            write_len(self.out, entries.len());
            for (key, item) in entries {
                write_str(self.out, key);
                self.value(schema, item, at.to(Path::Key(&at.path, key)))?;
            }
        }
        self.out.push(0);
        Ok(())
    }

    fn record(&mut self, r: &RecordSchema, obj: &Map<String, Value>, at: At<'_>) -> Done {
        let mut found = 0;
        for field in &r.fields {
            let field_at = at.to(Path::Field(&at.path, &field.name));
            match (obj.get(field.name.as_str()), &field.default) {
                (Some(v), _) => {
                    found += 1;
                    self.value(&field.schema, v, field_at)?;
                }
                (None, Some(default)) => {
                    let field_at = At {
                        mode: Mode::Default,
                        ..field_at
                    };
                    self.value(&field.schema, default, field_at)?;
                }
                (None, None) => {
                    let name = quote(&field.name);
                    return Err(at.error(format!("missing field {name} (no default)")));
                }
            }
        }
        // Counting matches spares a lookup per key on the success path.
        if found != obj.len() {
            let unknown = obj.keys().find(|k| !r.lookup.contains_key(k.as_str()));
            let unknown = quote(unknown.map_or("", String::as_str));
            let known: Vec<&str> = r.fields.iter().map(|f| f.name.as_str()).collect();
            let (name, known) = (&r.name.name, known.join(", "));
            return Err(at.error(format!(
                "unknown field {unknown}: record {name} has {known}"
            )));
        }
        Ok(())
    }

    fn union(&mut self, variants: &[Schema], json: &Value, at: At<'_>) -> Done {
        let first = variants.first();
        if at.mode == Mode::Default && first.is_some_and(|s| self.branch(0, s, json, at).is_ok()) {
            return Ok(());
        }
        // A tag: `{"<branch name>": value}`, ambiguous when a record branch has that field.
        let tag = match json {
            Value::Object(obj) if obj.len() == 1 => obj.iter().next().and_then(|(key, inner)| {
                let (index, branch) = self.branch_named(variants, key)?;
                Some((
                    index,
                    branch,
                    inner,
                    self.record_branch_has_field(variants, key),
                ))
            }),
            _ => None,
        };
        match tag {
            Some((index, branch, inner, false)) => self.branch(index, branch, inner, at),
            Some((index, branch, inner, true)) => match self.infer(variants, json, at) {
                Err(e) => self.branch(index, branch, inner, at).map_err(|_| e),
                ok => ok,
            },
            None => self.infer(variants, json, at),
        }
    }

    fn infer(&mut self, variants: &[Schema], json: &Value, at: At<'_>) -> Done {
        let names = self.names;
        let mut candidates = [Fit::Exact, Fit::Loose].into_iter().flat_map(|fit| {
            let fits = move |v: &&Schema| accepts(names, v, json) == Some(fit);
            variants.iter().enumerate().filter(move |(_, v)| fits(v))
        });
        let Some((index, first)) = candidates.next() else {
            return self.no_branch(variants, json, at);
        };
        let result = self.branch(index, first, json, at);
        if result.is_err() && candidates.any(|(i, other)| self.branch(i, other, json, at).is_ok()) {
            return Ok(());
        }
        result
    }

    /// No branch takes the value at a glance. With a single non-null branch, let that branch say
    /// precisely what is wrong (a bad enum symbol, an unknown field); else list the branches.
    fn no_branch(&mut self, variants: &[Schema], json: &Value, at: At<'_>) -> Done {
        let names = self.names;
        let mut others = (variants.iter().enumerate())
            .filter(|(_, v)| !matches!(names.resolve(v), Some(Schema::Null)));
        if let (Some((index, only)), None) = (others.next(), others.next()) {
            return self.branch(index, only, json, at);
        }
        let expected: Vec<String> = variants.iter().map(expected).collect();
        let (expected, got) = (expected.join(", "), describe(json));
        Err(at.error(format!("expected one of {expected}; got {got}")))
    }

    /// Writes the branch index then the value; on error nothing stays written.
    fn branch(&mut self, index: usize, schema: &Schema, json: &Value, at: At<'_>) -> Done {
        let start = self.out.len();
        write_len(self.out, index);
        let result = self.value(schema, json, at);
        if result.is_err() {
            self.out.truncate(start);
        }
        result
    }

    fn branch_named<'s>(&self, variants: &'s [Schema], key: &str) -> Option<(usize, &'s Schema)> {
        variants.iter().enumerate().find(|(_, v)| match v {
            Schema::Ref { name } => full_name_is(name, key),
            Schema::Record(r) => full_name_is(&r.name, key),
            Schema::Enum(e) => full_name_is(&e.name, key),
            Schema::Fixed(f) => full_name_is(&f.name, key),
            Schema::Decimal(d) => match self.names.resolve(&d.inner) {
                Some(Schema::Fixed(f)) => full_name_is(&f.name, key),
                _ => key == "bytes",
            },
            other => key == type_name(other),
        })
    }

    fn record_branch_has_field(&self, variants: &[Schema], key: &str) -> bool {
        variants.iter().any(|v| match self.names.resolve(v) {
            Some(Schema::Record(r)) => r.lookup.contains_key(key),
            _ => false,
        })
    }

    /// Bytes, fixed and duration as Avro JSON writes them: one character (≤ U+00FF) per byte.
    fn latin1(&mut self, schema: &Schema, json: &Value, n: Option<usize>, at: At<'_>) -> Done {
        let Value::String(s) = json else {
            return Err(mismatch(at, schema, json));
        };
        let count = latin1_len(s).map_err(|(index, c)| {
            let (name, c) = (type_name(schema), u32::from(c));
            at.error(format!(
                "{name} holds bytes as characters U+0000..U+00FF, got U+{c:04X} at character {index}"
            ))
        })?;
        match n {
            Some(n) if n != count => {
                let expected = expected(schema);
                return Err(at.error(format!("expected {n} bytes for {expected}, got {count}")));
            }
            Some(_) => {}
            None => write_len(self.out, count),
        }
        // Checked above: every char fits in a byte.
        self.out.extend(s.chars().map(|c| c as u8));
        Ok(())
    }

    fn decimal(&mut self, schema: &Schema, d: &DecimalSchema, json: &Value, at: At<'_>) -> Done {
        let size = match self.names.resolve(&d.inner) {
            Some(Schema::Fixed(f)) => Some(f.size),
            Some(Schema::Bytes) => None,
            _ => return Err(at.error("decimal over a type other than bytes or fixed")),
        };
        let mut text = ShortText::default();
        let numeral = match json {
            Value::Number(n) if write!(text, "{n}").is_ok() => text.as_str(),
            Value::String(s) => s.as_str(),
            _ => return Err(mismatch(at, schema, json)),
        };
        let unscaled = match parse_decimal(numeral, d.precision, d.scale) {
            Ok(Some(v)) => v,
            Ok(None) if json.is_string() => return self.latin1(schema, json, size, at),
            Ok(None) => return Err(mismatch(at, schema, json)),
            Err(message) => return Err(at.error(message)),
        };
        // Minimal big-endian two's complement: drop leading bytes that only repeat the sign.
        let bytes = unscaled.to_be_bytes();
        let redundant = |w: &[u8]| (w[0] == 0 && w[1] < 0x80) || (w[0] == 0xFF && w[1] >= 0x80);
        let skip = bytes.windows(2).take_while(|w| redundant(w)).count();
        let minimal = bytes.get(skip..).unwrap_or_default();
        match size {
            None => write_len(self.out, minimal.len()),
            Some(size) if size < minimal.len() => {
                let (got, expected) = (describe(json), expected(schema));
                return Err(at.error(format!("{got} does not fit in {size} bytes of {expected}")));
            }
            Some(size) => {
                let sign = if unscaled < 0 { 0xFF } else { 0 };
                self.out
                    .extend(std::iter::repeat_n(sign, size - minimal.len()));
            }
        }
        self.out.extend_from_slice(minimal);
        Ok(())
    }
}

/// Whether `schema` (a union branch) takes `json`, judged from its top level only.
fn accepts(names: &Names, schema: &Schema, json: &Value) -> Option<Fit> {
    let schema = names.resolve(schema)?;
    let fit = match (json, schema) {
        (Value::Null, Schema::Null)
        | (Value::Bool(_), Schema::Boolean)
        | (Value::Array(_), Schema::Array(_))
        | (Value::Object(_), Schema::Map(_)) => Fit::Exact,
        (Value::Object(o), Schema::Record(r)) => {
            let known = o.keys().all(|k| r.lookup.contains_key(k.as_str()));
            let complete =
                (r.fields.iter()).all(|f| f.default.is_some() || o.contains_key(f.name.as_str()));
            return (known && complete).then_some(Fit::Exact);
        }
        (Value::Number(_), _) => match (integer(json), schema) {
            (Some(v), Schema::Int | Schema::Date | Schema::TimeMillis) => {
                return i32::try_from(v).ok().map(|_| Fit::Exact);
            }
            (Some(v), s) if is_long(s) => return i64::try_from(v).ok().map(|_| Fit::Exact),
            (Some(_), Schema::Float | Schema::Double) | (_, Schema::Decimal(_)) => Fit::Loose,
            (None, Schema::Float | Schema::Double) => Fit::Exact,
            _ => return None,
        },
        (Value::String(s), _) => match schema {
            Schema::String => Fit::Exact,
            Schema::Uuid | Schema::Decimal(_) => Fit::Loose,
            Schema::Enum(e) if e.symbols.iter().any(|x| x == s) => Fit::Loose,
            Schema::Bytes | Schema::BigDecimal if latin1_len(s).is_ok() => Fit::Loose,
            Schema::Fixed(f) if latin1_len(s) == Ok(f.size) => Fit::Loose,
            Schema::Duration if latin1_len(s) == Ok(12) => Fit::Loose,
            Schema::Float | Schema::Double if float(json).is_some() => Fit::Loose,
            _ => return None,
        },
        _ => return None,
    };
    Some(fit)
}

/// Parses a decimal numeral (`-12.34`, `1e3`: JSON number syntax) into its unscaled value at
/// `scale`. `Ok(None)`: not a numeral. `Err`: a numeral that does not fit the decimal.
fn parse_decimal(text: &str, precision: usize, scale: usize) -> Result<Option<i128>, String> {
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = unsigned.split_once(['e', 'E']).unwrap_or((unsigned, "0"));
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, "0"));
    let exp_digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
    if !(all_digits(int) && all_digits(frac) && all_digits(exp_digits)) {
        return Ok(None);
    }
    let decimal = || format!("decimal({precision}, {scale})");
    let too_big = || format!("{text} does not fit {}", decimal());
    // Leading zeros are skipped and trailing zeros deferred, so `12.340` at scale 2 passes.
    let (mut mantissa, mut zeros) = (0i128, 0i64);
    for b in int.bytes().chain(frac.bytes()) {
        if b == b'0' {
            zeros += i64::from(mantissa != 0);
            continue;
        }
        for _ in 0..=zeros {
            mantissa = mantissa.checked_mul(10).ok_or_else(too_big)?;
        }
        zeros = 0;
        mantissa = mantissa
            .checked_add(i128::from(b - b'0'))
            .ok_or_else(too_big)?;
    }
    if mantissa == 0 {
        return Ok(Some(0));
    }
    // Any exponent beyond ±2^40 (or beyond i64) fails below just the same: clamp it.
    let limit = 1i64 << 40;
    let exponent = exponent
        .parse::<i64>()
        .unwrap_or(if negative { -limit } else { limit });
    let (scale_i, frac_len) = (scale.min(1 << 20) as i64, frac.len().min(1 << 40) as i64);
    let shift = zeros + exponent.clamp(-limit, limit) + scale_i - frac_len;
    if shift < 0 {
        let decimal = decimal();
        return Err(format!(
            "{text} has more fractional digits than the scale of {decimal}"
        ));
    }
    let factor = u32::try_from(shift)
        .ok()
        .and_then(|s| 10i128.checked_pow(s));
    let unscaled = factor
        .and_then(|f| mantissa.checked_mul(f))
        .ok_or_else(too_big)?;
    let digits = unscaled.checked_ilog10().map_or(0, |d| d as usize + 1);
    if digits > precision {
        return Err(too_big());
    }
    Ok(Some(if negative { -unscaled } else { unscaled }))
}

pub(super) fn is_long(schema: &Schema) -> bool {
    use Schema as S;
    matches!(
        schema,
        S::Long
            | S::TimeMicros
            | S::TimestampMillis
            | S::TimestampMicros
            | S::TimestampNanos
            | S::LocalTimestampMillis
            | S::LocalTimestampMicros
            | S::LocalTimestampNanos
    )
}

/// The number of characters in `s`, or the first one above U+00FF (with its position).
fn latin1_len(s: &str) -> Result<usize, (usize, char)> {
    match s.chars().enumerate().find(|(_, c)| u32::from(*c) > 0xFF) {
        Some(bad) => Err(bad),
        None => Ok(s.chars().count()),
    }
}

/// A JSON integer (wide enough for every u64 and i64), or `None` for anything else.
fn integer(json: &Value) -> Option<i128> {
    let wide = json.as_u64().map(i128::from);
    json.as_i64().map(i128::from).or(wide)
}

/// A JSON number, or one of the strings standing for the values JSON numbers cannot hold.
fn float(json: &Value) -> Option<f64> {
    match json.as_str() {
        Some("NaN") => Some(f64::NAN),
        Some("Infinity") => Some(f64::INFINITY),
        Some("-Infinity") => Some(f64::NEG_INFINITY),
        _ => json.as_number()?.as_f64(),
    }
}

/// Zig-zag varint, as Avro writes int and long.
pub(super) fn write_long(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

/// A length, count or index: in-memory sizes always fit a long.
pub(super) fn write_len(out: &mut Vec<u8>, n: usize) {
    write_long(out, i64::try_from(n).unwrap_or(i64::MAX));
}

pub(super) fn write_str(out: &mut Vec<u8>, s: &str) {
    write_len(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

fn full_name_is(name: &Name, key: &str) -> bool {
    match name.namespace.as_deref() {
        Some(ns) if !ns.is_empty() => (key.strip_prefix(ns))
            .and_then(|rest| rest.strip_prefix('.'))
            .is_some_and(|rest| rest == name.name),
        _ => key == name.name,
    }
}

/// The name of the Avro type a schema is written as: for messages and union tags. Logical types
/// answer their underlying type (what the user must send), except decimal and duration.
fn type_name(schema: &Schema) -> &str {
    match schema {
        Schema::Null => "null",
        Schema::Boolean => "boolean",
        Schema::Int | Schema::Date | Schema::TimeMillis => "int",
        s if is_long(s) => "long",
        Schema::Float => "float",
        Schema::Double => "double",
        Schema::Bytes | Schema::BigDecimal => "bytes",
        Schema::String | Schema::Uuid => "string",
        Schema::Array(_) => "array",
        Schema::Map(_) => "map",
        Schema::Record(r) => &r.name.name,
        Schema::Enum(e) => &e.name.name,
        Schema::Fixed(f) => &f.name.name,
        Schema::Ref { name } => &name.name,
        Schema::Decimal(_) => "decimal",
        Schema::Duration => "duration",
        _ => "union",
    }
}

fn expected(schema: &Schema) -> String {
    let kind = match schema {
        Schema::Record(_) => "record ",
        Schema::Enum(_) => "enum ",
        Schema::Fixed(_) => "fixed ",
        _ => "",
    };
    format!("{kind}{}", type_name(schema))
}

fn describe(json: &Value) -> String {
    match json {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) if s.chars().count() > 40 => {
            let head: String = s.chars().take(40).collect();
            format!("string {}…", quote(&head))
        }
        Value::String(s) => format!("string {}", quote(s)),
        Value::Array(_) => "array".to_owned(),
        Value::Object(_) => "object".to_owned(),
    }
}

fn mismatch(at: At<'_>, schema: &Schema, json: &Value) -> DataError {
    at.error(format!(
        "expected {}, got {}",
        expected(schema),
        describe(json)
    ))
}

fn out_of_range(at: At<'_>, schema: &Schema, v: i128) -> DataError {
    at.error(format!("{v} is out of range for {}", type_name(schema)))
}

/// A number's text without touching the heap (the longest f64 or u64 text is 24 bytes).
#[derive(Default)]
pub(super) struct ShortText {
    buf: [u8; 32],
    len: usize,
}

impl ShortText {
    pub(super) fn as_str(&self) -> &str {
        std::str::from_utf8(self.buf.get(..self.len).unwrap_or_default()).unwrap_or_default()
    }
}

impl fmt::Write for ShortText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use apache_avro::types::Value as Avro;
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    use crate::schema::avro::fixtures::PAYMENT;

    fn payment(note: Value, items: Value, tags: Value) -> Value {
        json!({"b": true, "i": -7, "l": 1_234_567_890_123i64, "f": 1.5, "d": -0.25, "s": "héllo",
            "by": "AB\u{0}", "n": null, "addr": {"city": "Oslo", "zip": 150},
            "currency": "USD", "hash": "abcd", "items": items, "tags": tags, "note": note,
            "day": 19_000, "at": 1_700_000_000_000i64,
            "id": "1481531d-ccc9-46d9-a56f-5b67459c0537", "price": "\u{4}\u{d2}"})
    }

    fn ours(schema: &Schema, json: &Value) -> Result<Vec<u8>, DataError> {
        let mut out = Vec::new();
        encode(schema, &Names::new([schema]), json, &mut out)?;
        Ok(out)
    }

    /// apache-avro's encoding of the same value: `Value::from(json).resolve()` is fine on plain
    /// values once the date and decimal fields, which it cannot read from JSON, are patched in.
    fn theirs(schema: &Schema, json: &Value) -> Vec<u8> {
        let mut value = Avro::from(json.clone());
        if let Avro::Map(fields) = &mut value {
            let day = json["day"].as_i64().unwrap() as i32;
            fields.insert("day".into(), Avro::Int(day));
            let price: Vec<u8> = json["price"]
                .as_str()
                .unwrap()
                .chars()
                .map(|c| c as u8)
                .collect();
            fields.insert("price".into(), Avro::Decimal(price.into()));
        }
        apache_avro::to_avro_datum(schema, value.resolve(schema).unwrap()).unwrap()
    }

    fn err(schema: &Schema, json: Value) -> String {
        ours(schema, &json).unwrap_err().to_string()
    }

    #[test]
    fn same_bytes_as_apache_avro() {
        let schema = Schema::parse_str(PAYMENT).unwrap();
        let item = |sku: &str, amount: i64| json!({"sku": sku, "amount": amount});
        let cases = [
            payment(json!(null), json!([]), json!({})),
            payment(json!("x"), json!([item("a", 1)]), json!({"k": "v"})),
            payment(
                json!({"city": "Bergen", "zip": null}),
                json!([item("a", 1), item("b", -2), item("c", i64::MAX)]),
                json!({"only": "one"}),
            ),
        ];
        for case in &cases {
            assert_eq!(
                ours(&schema, case).unwrap(),
                theirs(&schema, case),
                "{case}"
            );
        }
    }

    #[test]
    fn defaults_fill_missing_fields() {
        let schema = Schema::parse_str(
            r#"{"type":"record","name":"R","fields":[
                {"name":"a","type":"int"},
                {"name":"zip","type":["null","int"],"default":null},
                {"name":"kind","type":["string","null"],"default":"card"},
                {"name":"raw","type":"bytes","default":"\u00ff"},
                {"name":"inner","type":{"type":"record","name":"I","fields":[
                    {"name":"x","type":"long","default":3}]},"default":{}}]}"#,
        )
        .unwrap();
        let full = json!({"a": 1, "zip": null, "kind": "card", "raw": "\u{ff}", "inner": {"x": 3}});
        let bytes = ours(&schema, &json!({"a": 1})).unwrap();
        assert_eq!(bytes, ours(&schema, &full).unwrap());
        assert_eq!(bytes, [2, 0, 0, 8, b'c', b'a', b'r', b'd', 2, 0xff, 6]);
        assert_eq!(
            err(&schema, json!({})),
            r#".: missing field "a" (no default)"#
        );
    }

    #[test]
    fn errors_carry_paths() {
        let schema = Schema::parse_str(PAYMENT).unwrap();
        let items = json!([{"sku": "a", "amount": 1}, {"sku": "b", "amount": 2},
            {"sku": "c", "amount": "x"}]);
        let bad = payment(json!(null), items, json!({}));
        assert_eq!(
            err(&schema, bad),
            r#".items[2].amount: expected long, got string "x""#
        );
        let missing = payment(json!(null), json!([{"sku": "a"}]), json!({}));
        assert_eq!(
            err(&schema, missing),
            r#".items[0]: missing field "amount" (no default)"#
        );
        let mut extra = payment(json!(null), json!([]), json!({}));
        extra["addr"]["street"] = json!("x");
        assert_eq!(
            err(&schema, extra),
            r#".addr: unknown field "street": record Address has city, zip"#
        );
        let bad_tag = payment(json!(null), json!([]), json!({"k\"": 5}));
        assert_eq!(
            err(&schema, bad_tag),
            r#".tags{"k\""}: expected string, got number 5"#
        );
        let mut jpy = payment(json!(null), json!([]), json!({}));
        jpy["currency"] = json!("JPY");
        assert_eq!(
            err(&schema, jpy),
            r#".currency: "JPY" is not a symbol of enum Currency (EUR, USD)"#
        );
        let mut big = payment(json!(null), json!([]), json!({}));
        big["i"] = json!(3_000_000_000u64);
        assert_eq!(err(&schema, big), ".i: 3000000000 is out of range for int");
        let mut short = payment(json!(null), json!([]), json!({}));
        short["hash"] = json!("abc");
        assert_eq!(
            err(&schema, short),
            ".hash: expected 4 bytes for fixed Hash, got 3"
        );
        let mut wide = payment(json!(null), json!([]), json!({}));
        wide["by"] = json!("€");
        assert_eq!(
            err(&schema, wide),
            ".by: bytes holds bytes as characters U+0000..U+00FF, got U+20AC at character 0"
        );
        let mut out = vec![9];
        let names = Names::new([&schema]);
        assert!(encode(&schema, &names, &json!({}), &mut out).is_err());
        assert_eq!(out, [9], "a failed encode leaves the buffer as it was");
    }

    #[test]
    fn unions_natural_and_tagged() {
        let schema = Schema::parse_str(
            r#"{"type":"record","name":"W","namespace":"com.acme","fields":[{"name":"u","type":[
                "null","string","long","double",
                {"type":"record","name":"Payment","fields":[{"name":"amount","type":"long"}]},
                {"type":"enum","name":"E","symbols":["A"]},
                {"type":"map","values":"int"}]}]}"#,
        )
        .unwrap();
        let enc = |u: Value| ours(&schema, &json!({ "u": u }));
        assert_eq!(enc(json!(null)).unwrap(), [0]);
        assert_eq!(enc(json!("x")).unwrap(), [2, 2, b'x']);
        assert_eq!(enc(json!({"string": "x"})).unwrap(), [2, 2, b'x']);
        assert_eq!(enc(json!(3)).unwrap(), [4, 6]);
        assert_eq!(enc(json!({"long": 3})).unwrap(), [4, 6]);
        assert_eq!(enc(json!({"double": 3})).unwrap()[0], 6);
        assert_eq!(enc(json!(0.5)).unwrap()[0], 6);
        assert_eq!(enc(json!({"amount": 5})).unwrap(), [8, 10]);
        assert_eq!(
            enc(json!({"com.acme.Payment": {"amount": 5}})).unwrap(),
            [8, 10]
        );
        // "A" is a string before it is a symbol of E; tagged, it is the enum.
        assert_eq!(enc(json!("A")).unwrap(), [2, 2, b'A']);
        assert_eq!(enc(json!({"com.acme.E": "A"})).unwrap(), [10, 0]);
        // Neither a record nor a tag: the map.
        assert_eq!(enc(json!({"k": 1})).unwrap(), [12, 2, 2, b'k', 2, 0]);
        let e = enc(json!([1])).unwrap_err().to_string();
        assert_eq!(
            e,
            ".u: expected one of null, string, long, double, record Payment, enum E, map; got array"
        );
        assert_eq!(
            enc(json!({"com.acme.Payment": {"amount": "x"}}))
                .unwrap_err()
                .to_string(),
            r#".u.amount: expected long, got string "x""#
        );
    }

    #[test]
    fn ambiguous_tag_prefers_the_record() {
        let schema = Schema::parse_str(
            r#"["string",{"type":"record","name":"R","fields":[{"name":"string","type":"string"}]}]"#,
        )
        .unwrap();
        assert_eq!(
            ours(&schema, &json!({"string": "x"})).unwrap(),
            [2, 2, b'x']
        );
        assert_eq!(
            ours(&schema, &json!({"string": 1})).unwrap_err().path,
            ".string"
        );
    }

    #[test]
    fn single_branch_unions_explain_precisely() {
        let schema = Schema::parse_str(
            r#"{"type":"record","name":"R","fields":[{"name":"c","type":["null",
                {"type":"enum","name":"Currency","symbols":["EUR","USD"]}]}]}"#,
        )
        .unwrap();
        assert_eq!(
            err(&schema, json!({"c": "JPY"})),
            r#".c: "JPY" is not a symbol of enum Currency (EUR, USD)"#
        );
        assert_eq!(ours(&schema, &json!({"c": "USD"})).unwrap(), [2, 2]);
    }

    #[test]
    fn decimals() {
        let schema = |inner: &str| {
            Schema::parse_str(&format!(
                r#"{{"type":{inner},"logicalType":"decimal","precision":4,"scale":2}}"#
            ))
            .unwrap()
        };
        let bytes = schema(r#""bytes""#);
        // Not through `resolve`, which wrongly wants bytes decimals as long as their precision.
        let oracle = |raw: &[u8]| {
            apache_avro::to_avro_datum(&bytes, Avro::Decimal(raw.to_vec().into())).unwrap()
        };
        assert_eq!(
            ours(&bytes, &json!("12.34")).unwrap(),
            oracle(&1234i16.to_be_bytes())
        );
        assert_eq!(
            ours(&bytes, &json!(12.34)).unwrap(),
            oracle(&1234i16.to_be_bytes())
        );
        assert_eq!(
            ours(&bytes, &json!("12.340")).unwrap(),
            oracle(&1234i16.to_be_bytes())
        );
        assert_eq!(
            ours(&bytes, &json!("\u{4}\u{d2}")).unwrap(),
            oracle(&[4, 0xd2])
        );
        assert_eq!(ours(&bytes, &json!(-1)).unwrap(), oracle(&[0x9c]));
        assert_eq!(ours(&bytes, &json!("-0.01")).unwrap(), oracle(&[0xff]));
        assert_eq!(ours(&bytes, &json!(0)).unwrap(), oracle(&[0]));
        assert_eq!(ours(&bytes, &json!("1.28")).unwrap(), oracle(&[0, 0x80]));
        assert_eq!(ours(&bytes, &json!("5e-2")).unwrap(), oracle(&[5]));
        assert_eq!(
            err(&bytes, json!("12.345")),
            ".: 12.345 has more fractional digits than the scale of decimal(4, 2)"
        );
        assert_eq!(
            err(&bytes, json!(123.4)),
            ".: 123.4 does not fit decimal(4, 2)"
        );
        assert_eq!(
            err(&bytes, json!("1e400")),
            ".: 1e400 does not fit decimal(4, 2)"
        );
        let fixed = schema(r#"{"type":"fixed","name":"F","size":3}"#);
        assert_eq!(ours(&fixed, &json!("-12.34")).unwrap(), [0xff, 0xfb, 0x2e]);
        assert_eq!(ours(&fixed, &json!("abc")).unwrap(), b"abc");
        let wide = Schema::parse_str(
            r#"{"type":"bytes","logicalType":"decimal","precision":38,"scale":0}"#,
        )
        .unwrap();
        let max = "99999999999999999999999999999999999999";
        let mut expected = vec![32];
        expected.extend_from_slice(&max.parse::<i128>().unwrap().to_be_bytes());
        assert_eq!(ours(&wide, &json!(max)).unwrap(), expected);
        assert!(ours(&wide, &json!(format!("{max}9"))).is_err());
    }

    fn decimal_schema(precision: u32, scale: u32) -> Schema {
        let text = format!(
            r#"{{"type":"bytes","logicalType":"decimal","precision":{precision},"scale":{scale}}}"#
        );
        Schema::parse_str(&text).unwrap()
    }

    proptest! {
        #[test]
        fn decimal_numerals_round_trip(n in any::<i64>(), scale in 0u32..6) {
            let (sign, abs) = (if n < 0 { "-" } else { "" }, n.unsigned_abs());
            let div = 10u64.pow(scale);
            let text = match scale {
                0 => format!("{n}"),
                _ => format!("{sign}{}.{:0width$}", abs / div, abs % div, width = scale as usize),
            };
            let bytes = ours(&decimal_schema(38, scale), &json!(text)).unwrap();
            // Length prefix, then minimal big-endian two's complement of `n`.
            let body = &bytes[1..];
            prop_assert_eq!(usize::from(bytes[0] / 2), body.len());
            let fill = if body[0] >= 0x80 { 0xff } else { 0 };
            let mut wide = [fill; 16];
            wide[16 - body.len()..].copy_from_slice(body);
            prop_assert_eq!(i128::from_be_bytes(wide), i128::from(n));
            let redundant = body.len() > 1
                && ((body[0] == 0 && body[1] < 0x80) || (body[0] == 0xff && body[1] >= 0x80));
            prop_assert!(!redundant, "{:?}", body);
        }

        #[test]
        fn odd_numerals_never_panic(
            text in "-?[0-9]{0,45}(\\.[0-9]{0,45})?([eE][-+]?[0-9]{0,25})?",
            scale in 0u32..40,
        ) {
            let _ = ours(&decimal_schema(38, scale.min(38)), &json!(text));
        }
    }

    #[test]
    fn decimal_limits() {
        let schema = decimal_schema(38, 0);
        let max = i128::MAX.to_string();
        assert!(
            ours(&schema, &json!(max)).is_err(),
            "39 digits exceed precision 38"
        );
        let over = "170141183460469231731687303715884105728";
        assert_eq!(
            err(&schema, json!(over)),
            format!(".: {over} does not fit decimal(38, 0)")
        );
        let wide = Schema::parse_str(
            r#"{"type":"bytes","logicalType":"decimal","precision":60,"scale":0}"#,
        )
        .unwrap();
        let mut expected = vec![32];
        expected.extend_from_slice(&i128::MAX.to_be_bytes());
        assert_eq!(ours(&wide, &json!(max)).unwrap(), expected);
        assert!(ours(&wide, &json!(over)).is_err());
        assert!(ours(&wide, &json!(format!("1{}", "0".repeat(5000)))).is_err());
        assert_eq!(
            ours(&wide, &json!(format!("0.{}e5000", "0".repeat(4999)))).unwrap(),
            [2, 0]
        );
    }

    #[test]
    fn numbers_and_special_floats() {
        let double = Schema::Double;
        assert_eq!(ours(&double, &json!(2)).unwrap(), 2f64.to_le_bytes());
        assert_eq!(
            ours(&double, &json!("NaN")).unwrap(),
            f64::NAN.to_le_bytes()
        );
        assert_eq!(
            ours(&double, &json!("-Infinity")).unwrap(),
            f64::NEG_INFINITY.to_le_bytes()
        );
        assert_eq!(
            err(&Schema::Float, json!(1e300)),
            ".: 1e+300 is out of range for float"
        );
        assert_eq!(
            err(&Schema::Long, json!(1.5)),
            ".: expected long, got number 1.5"
        );
        assert_eq!(
            err(&Schema::Long, json!(u64::MAX)),
            ".: 18446744073709551615 is out of range for long"
        );
        assert_eq!(ours(&Schema::Long, &json!(-1)).unwrap(), [1]);
        assert_eq!(
            ours(&Schema::Long, &json!(i64::MIN)).unwrap(),
            [0xff; 9].iter().copied().chain([1]).collect::<Vec<_>>()
        );
    }

    #[test]
    fn depth_is_capped() {
        let schema = Schema::parse_str(
            r#"{"type":"record","name":"Node","fields":[{"name":"next","type":["null","Node"]}]}"#,
        )
        .unwrap();
        let mut json = json!({"next": null});
        for _ in 0..200 {
            json = json!({ "next": json });
        }
        let e = ours(&schema, &json).unwrap_err();
        assert_eq!(e.message, "nested deeper than 128 levels");
        assert!(e.path.starts_with(".next.next"), "{}", e.path);
    }
}
