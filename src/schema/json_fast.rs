//! JSON Schema validation straight from a record's bytes, in one pass over the tokens of our
//! reader (`walk.rs`) with no `serde_json::Value` tree: the fast path of produce-time
//! validation, where parsing each record into a tree before `jsonschema` walks it cost more
//! than the walk. The `serde` visitor walk here ([`Seed`]) reads the values a parsed subtree
//! must be compared with (an `enum` or `const` of arrays or objects).
//!
//! Owns a subset of JSON Schema (drafts 6, 7, 2019-09 and 2020-12; draft 7 when `$schema` is
//! absent): boolean schemas, `type`, `enum`, `const`, `minimum`, `maximum`, `exclusiveMinimum`,
//! `exclusiveMaximum`, `minLength`, `maxLength`, `properties`, `required` (up to 64 names),
//! `additionalProperties`, `minProperties`, `maxProperties`, a single-schema `items`,
//! `minItems`, `maxItems`, and the annotations. A schema using any other keyword of any draft,
//! or a size bound written as a float (`2.0`), does not compile here, and the caller keeps the
//! tree path (`super::json`).
//!
//! Must not answer "valid" where `jsonschema` would not: a `true` is final, a `false` only
//! sends the record to the tree path, which parses, validates and words the errors. So every
//! doubt answers `false`, and this module never explains why. Numbers compare exactly across
//! `u64`/`i64`/`f64`, as `jsonschema` does. Deliberately stricter: every occurrence of a
//! duplicated key is checked (the tree keeps only the last), and with `serde_json`'s
//! `arbitrary_precision` on (not in this build) no number passes. It must not allocate for a
//! valid record in the common case: keys and strings are borrowed from the input. The
//! exceptions: an `enum`/`const` holding an array or object parses the value under it into a
//! tree, `minProperties` above 1 or `maxProperties` list the keys to count distinct ones, and
//! a captured string is copied.
//!
//! While reading a top-level object it also picks the fields data-contract rules read
//! ([`Capture`]), so rules need no tree either. After a `false` the capture may be partial.

use std::cmp::Ordering;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::capture::{Capture, Captured};
use super::object_key::{KeySeed, same};
use crate::json_text;

const NULL: u8 = 1;
const BOOLEAN: u8 = 1 << 1;
const OBJECT: u8 = 1 << 2;
const ARRAY: u8 = 1 << 3;
const NUMBER: u8 = 1 << 4;
const INTEGER: u8 = 1 << 5;
const STRING: u8 = 1 << 6;
const ALL_TYPES: u8 = (1 << 7) - 1;

/// Index of the schema that accepts everything (`true`, `{}`) in [`FastSchema::nodes`].
const ANY: usize = 0;
/// Index of the schema that rejects everything (`false`).
const NEVER: usize = 1;

/// Nesting of schema objects compiled; deeper schemas stay on the tree path rather than risk
/// the stack.
const MAX_SCHEMA_DEPTH: usize = 128;

/// Up to this many property names a linear scan beats a binary search.
const LINEAR_KEYS: usize = 8;

/// What `serde_json` sends as the only key of a map standing for a number when a crate in the
/// build enables its `arbitrary_precision` feature; such a "map" must not pass for an object.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// Keywords of any draft (4 to 2020-12) this module does not implement: seeing one refuses the
/// schema. Words that are no keyword of any draft are annotations to `jsonschema`, as here.
const UNSUPPORTED: &str = "$ref $recursiveRef $dynamicRef $anchor $recursiveAnchor \
    $dynamicAnchor $vocabulary $defs definitions id allOf anyOf oneOf not if then else pattern \
    patternProperties format multipleOf uniqueItems contains minContains maxContains \
    dependencies dependentRequired dependentSchemas propertyNames unevaluatedItems \
    unevaluatedProperties additionalItems prefixItems contentEncoding contentMediaType \
    contentSchema";

/// Keywords no validator reads.
const ANNOTATIONS: &str = "title description $comment examples default readOnly writeOnly \
    deprecated";

/// Whether `keyword` is one of the space-separated `words`.
fn among(words: &str, keyword: &str) -> bool {
    words.split_ascii_whitespace().any(|w| w == keyword)
}

/// A JSON Schema compiled for [`FastSchema::check`].
#[derive(Debug, Clone)]
pub struct FastSchema {
    /// `nodes[ANY]` and `nodes[NEVER]` first, then one per constraining subschema.
    nodes: Vec<Node>,
    root: usize,
}

#[derive(Debug, Clone, PartialEq)]
struct Node {
    never: bool,
    types: u8,
    /// `enum` and `const`: the value must be among each.
    choices: Vec<Choices>,
    /// Some choice is an array or object, which only a parsed subtree can be compared with.
    tree: bool,
    minimum: Option<Num>,
    maximum: Option<Num>,
    exclusive_minimum: Option<Num>,
    exclusive_maximum: Option<Num>,
    min_length: u64,
    max_length: u64,
    items: usize,
    min_items: u64,
    max_items: u64,
    /// Names under `properties` or `required`, sorted.
    keys: Box<[Key]>,
    additional: usize,
    /// One bit per distinct `required` name.
    required: u64,
    min_properties: u64,
    max_properties: u64,
}

#[derive(Debug, Clone, PartialEq)]
struct Key {
    name: Box<str>,
    /// Its `properties` schema, else `additionalProperties`.
    schema: usize,
    /// Its `required` bit, or 0.
    bit: u64,
}

/// The values of one `enum` (or a `const`), by JSON type.
#[derive(Debug, Clone, Default, PartialEq)]
struct Choices {
    null: bool,
    /// Indexed by the boolean.
    booleans: [bool; 2],
    numbers: Box<[Num]>,
    /// Sorted.
    strings: Box<[Box<str>]>,
    trees: Box<[Value]>,
}

/// A JSON number as `serde_json` reads it; every `u64` and `i64` fits the `i128`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Num {
    Int(i128),
    Float(f64),
}

impl Node {
    fn any() -> Self {
        Self {
            never: false,
            types: ALL_TYPES,
            choices: Vec::new(),
            tree: false,
            minimum: None,
            maximum: None,
            exclusive_minimum: None,
            exclusive_maximum: None,
            min_length: 0,
            max_length: u64::MAX,
            items: ANY,
            min_items: 0,
            max_items: u64::MAX,
            keys: Box::new([]),
            additional: ANY,
            required: 0,
            min_properties: 0,
            max_properties: u64::MAX,
        }
    }

    /// What the entry under `key` of an object of this schema is checked against: its schema,
    /// its `required` bit, and its slot in `capture` when the object's fields are captured.
    /// `None` for serde_json's number token, which must not pass for a key.
    #[inline]
    fn entry(
        &self,
        key: &str,
        capture: Option<&Capture<'_>>,
    ) -> Option<(usize, u64, Option<usize>)> {
        if key == NUMBER_TOKEN {
            return None;
        }
        let (schema, bit) = self.key(key);
        Some((schema, bit, capture.and_then(|c| c.slot(key))))
    }

    /// The schema of the value under `name`, and its `required` bit.
    #[inline]
    fn key(&self, name: &str) -> (usize, u64) {
        let found = if self.keys.len() <= LINEAR_KEYS {
            self.keys.iter().find(|k| same(&k.name, name))
        } else {
            self.keys
                .binary_search_by(|k| (*k.name).cmp(name))
                .ok()
                .and_then(|i| self.keys.get(i))
        };
        found.map_or((self.additional, 0), |k| (k.schema, k.bit))
    }

    /// The `type` and `enum`/`const` checks of a scalar; `chosen`: the choices were already
    /// held on the parsed subtree being read.
    #[inline]
    fn scalar_fits(&self, ty: u8, chosen: bool, choose: impl Fn(&Choices) -> bool) -> bool {
        self.types & ty != 0 && (chosen || self.choices.iter().all(choose))
    }

    /// Every check of a number.
    #[inline]
    fn number_accepts(&self, n: Num, chosen: bool) -> bool {
        // `integer` needs the fraction looked at only when `number` is not allowed anyway.
        let ty = if self.types & NUMBER == 0 && n.is_integer() {
            INTEGER
        } else {
            NUMBER
        };
        self.scalar_fits(ty, chosen, |c| c.has_number(n)) && self.number_fits(n)
    }

    /// The `type` and `enum`/`const` checks of an array or object: a scalar choice never
    /// equals one, a tree choice was held before reading.
    #[inline]
    fn container_fits(&self, ty: u8, chosen: bool) -> bool {
        self.types & ty != 0 && (chosen || self.choices.is_empty())
    }

    /// Whether the object's distinct keys allow what was seen: the `required` bits, and the
    /// count bounds over `names` (listed only when [`Node::lists_names`]).
    fn object_fits<K: AsRef<str>>(&self, seen: u64, any: bool, names: Option<Vec<K>>) -> bool {
        if seen & self.required != self.required || (self.min_properties > 0 && !any) {
            return false;
        }
        let Some(mut names) = names else {
            return true;
        };
        names.sort_unstable_by(|a, b| a.as_ref().cmp(b.as_ref()));
        names.dedup_by(|a, b| a.as_ref() == b.as_ref());
        let count = names.len() as u64;
        count >= self.min_properties && count <= self.max_properties
    }

    /// Whether an object's keys must be listed: the tree keeps one of duplicated keys, so its
    /// size is the number of distinct keys, which costs a list; kept only for `minProperties`
    /// above 1 (an empty object is the only one with no key) and for `maxProperties`.
    fn lists_names(&self) -> bool {
        self.min_properties > 1 || self.max_properties < u64::MAX
    }

    #[inline]
    fn number_fits(&self, n: Num) -> bool {
        let at_least = |limit: Option<Num>, strict: bool| {
            limit.is_none_or(|l| match compare(n, l) {
                Some(Ordering::Greater) => true,
                Some(Ordering::Equal) => !strict,
                _ => false,
            })
        };
        let at_most = |limit: Option<Num>, strict: bool| {
            limit.is_none_or(|l| match compare(n, l) {
                Some(Ordering::Less) => true,
                Some(Ordering::Equal) => !strict,
                _ => false,
            })
        };
        at_least(self.minimum, false)
            && at_least(self.exclusive_minimum, true)
            && at_most(self.maximum, false)
            && at_most(self.exclusive_maximum, true)
    }

    #[inline]
    fn length_fits(&self, s: &str) -> bool {
        if self.min_length == 0 && self.max_length == u64::MAX {
            return true;
        }
        // A code point takes one to four bytes: often the byte length settles it uncounted.
        let bytes = s.len() as u64;
        if bytes.div_ceil(4) >= self.min_length && bytes <= self.max_length {
            return true;
        }
        let chars = s.chars().count() as u64;
        (self.min_length..=self.max_length).contains(&chars)
    }
}

impl Num {
    fn of(n: &Number) -> Option<Self> {
        if let Some(u) = n.as_u64() {
            Some(Num::Int(u.into()))
        } else if let Some(i) = n.as_i64() {
            Some(Num::Int(i.into()))
        } else {
            n.as_f64().map(Num::Float)
        }
    }

    fn is_integer(self) -> bool {
        match self {
            Num::Int(_) => true,
            Num::Float(f) => f.fract() == 0.0,
        }
    }
}

/// The exact order of two numbers, as `jsonschema` compares them (`num_cmp`): never through a
/// lossy cast, so 9007199254740993 is above 9007199254740992.0. `None` only for NaN.
fn compare(a: Num, b: Num) -> Option<Ordering> {
    match (a, b) {
        (Num::Int(a), Num::Int(b)) => Some(a.cmp(&b)),
        (Num::Float(a), Num::Float(b)) => a.partial_cmp(&b),
        (Num::Int(a), Num::Float(b)) => int_vs_float(a, b),
        (Num::Float(a), Num::Int(b)) => int_vs_float(b, a).map(Ordering::reverse),
    }
}

/// `i`, a `u64` or `i64`, against `f`.
fn int_vs_float(i: i128, f: f64) -> Option<Ordering> {
    const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;
    if let Ok(small) = i32::try_from(i) {
        // The common case: `i` is exactly an `f64`, so the float order is the exact one.
        return f64::from(small).partial_cmp(&f);
    }
    if f.is_nan() {
        return None;
    }
    if f >= TWO_POW_64 {
        return Some(Ordering::Less);
    }
    if f < -TWO_POW_64 {
        return Some(Ordering::Greater);
    }
    // |f| < 2^64 here, so its integral part is exact in an i128.
    let whole = f.trunc();
    Some(i.cmp(&(whole as i128)).then(if f > whole {
        Ordering::Less
    } else if f < whole {
        Ordering::Greater
    } else {
        Ordering::Equal
    }))
}

impl Choices {
    fn new(values: &[Value]) -> Option<Self> {
        let mut choices = Choices::default();
        let (mut numbers, mut strings, mut trees) = (Vec::new(), Vec::new(), Vec::new());
        for value in values {
            match value {
                Value::Null => choices.null = true,
                Value::Bool(b) => choices.booleans[usize::from(*b)] = true,
                Value::Number(n) => numbers.push(Num::of(n)?),
                Value::String(s) => strings.push(s.as_str().into()),
                Value::Array(_) | Value::Object(_) => trees.push(value.clone()),
            }
        }
        strings.sort_unstable();
        strings.dedup();
        choices.numbers = numbers.into();
        choices.strings = strings.into();
        choices.trees = trees.into();
        Some(choices)
    }

    fn has_number(&self, n: Num) -> bool {
        self.numbers
            .iter()
            .any(|c| compare(n, *c) == Some(Ordering::Equal))
    }

    #[inline]
    fn has_string(&self, s: &str) -> bool {
        // A short list is scanned: comparing lengths first skips most byte comparisons.
        if self.strings.len() <= LINEAR_KEYS {
            return self.strings.iter().any(|c| same(c, s));
        }
        self.strings.binary_search_by(|c| (**c).cmp(s)).is_ok()
    }

    fn has(&self, value: &Value) -> bool {
        match value {
            Value::Null => self.null,
            Value::Bool(b) => self.booleans[usize::from(*b)],
            Value::Number(n) => Num::of(n).is_some_and(|n| self.has_number(n)),
            Value::String(s) => self.has_string(s),
            Value::Array(_) | Value::Object(_) => self.trees.iter().any(|t| equal(value, t)),
        }
    }
}

/// JSON Schema equality as `jsonschema` has it (`cmp::equal`): numbers by value.
fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::String(a), Value::String(b)) => a == b,
        (Value::Number(a), Value::Number(b)) => match (Num::of(a), Num::of(b)) {
            (Some(a), Some(b)) => compare(a, b) == Some(Ordering::Equal),
            _ => false,
        },
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| equal(a, b))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| equal(v, w)))
        }
        _ => false,
    }
}

impl FastSchema {
    /// `None` when `schema` uses anything outside the subset (see the module doc), names a
    /// `$schema` other than drafts 6, 7, 2019-09 or 2020-12 (draft 4's bounds differ), or is
    /// malformed (`jsonschema` would not build it either).
    #[must_use]
    pub fn compile(schema: &Value) -> Option<FastSchema> {
        if let Some(uri) = schema.as_object().and_then(|o| o.get("$schema")) {
            // As `referencing::Draft::from_schema_uri` reads it.
            let draft = uri.as_str()?.trim_end_matches('#');
            let draft = draft
                .strip_prefix("https://")
                .or_else(|| draft.strip_prefix("http://"))?;
            if !matches!(
                draft,
                "json-schema.org/draft/2020-12/schema"
                    | "json-schema.org/draft/2019-09/schema"
                    | "json-schema.org/draft-07/schema"
                    | "json-schema.org/draft-06/schema"
            ) {
                return None;
            }
        }
        let mut compiled = FastSchema {
            nodes: vec![
                Node::any(),
                Node {
                    never: true,
                    ..Node::any()
                },
            ],
            root: ANY,
        };
        compiled.root = compiled.node(schema, 0)?;
        Some(compiled)
    }

    fn node(&mut self, schema: &Value, depth: usize) -> Option<usize> {
        let object = match schema {
            Value::Bool(true) => return Some(ANY),
            Value::Bool(false) => return Some(NEVER),
            Value::Object(object) if depth < MAX_SCHEMA_DEPTH => object,
            _ => return None,
        };
        let mut node = Node::any();
        let mut properties: Option<&Map<String, Value>> = None;
        let mut required: &[Value] = &[];
        for (keyword, value) in object {
            let keyword = keyword.as_str();
            if among(ANNOTATIONS, keyword) {
                continue;
            }
            if matches!(keyword, "$schema" | "$id") {
                // Only a root's: elsewhere they would start an embedded resource.
                if depth > 0 || !value.is_string() {
                    return None;
                }
                continue;
            }
            match keyword {
                "type" => node.types = types(value)?,
                "enum" => node.choices.push(Choices::new(value.as_array()?)?),
                "const" => node
                    .choices
                    .push(Choices::new(std::slice::from_ref(value))?),
                "minimum" => node.minimum = Some(Num::of(number(value)?)?),
                "maximum" => node.maximum = Some(Num::of(number(value)?)?),
                "exclusiveMinimum" => node.exclusive_minimum = Some(Num::of(number(value)?)?),
                "exclusiveMaximum" => node.exclusive_maximum = Some(Num::of(number(value)?)?),
                "minLength" => node.min_length = value.as_u64()?,
                "maxLength" => node.max_length = value.as_u64()?,
                "minItems" => node.min_items = value.as_u64()?,
                "maxItems" => node.max_items = value.as_u64()?,
                "minProperties" => node.min_properties = value.as_u64()?,
                "maxProperties" => node.max_properties = value.as_u64()?,
                // An array of schemas (tuple form) is not a schema: refused here.
                "items" => node.items = self.node(value, depth + 1)?,
                "additionalProperties" => node.additional = self.node(value, depth + 1)?,
                "properties" => properties = Some(value.as_object()?),
                "required" => required = value.as_array()?,
                _ if among(UNSUPPORTED, keyword) => return None,
                _ => {}
            }
        }
        if properties.is_none() && required.is_empty() && node == Node::any() {
            return Some(ANY);
        }
        node.tree = node.choices.iter().any(|c| !c.trees.is_empty());
        let mut keys: Vec<Key> = Vec::new();
        for (name, schema) in properties.into_iter().flatten() {
            let schema = self.node(schema, depth + 1)?;
            keys.push(Key {
                name: name.as_str().into(),
                schema,
                bit: 0,
            });
        }
        keys.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        let mut bits = 0u32;
        for name in required {
            let name = name.as_str()?;
            let at = match keys.binary_search_by(|k| (*k.name).cmp(name)) {
                Ok(at) => at,
                Err(at) => {
                    keys.insert(
                        at,
                        Key {
                            name: name.into(),
                            schema: node.additional,
                            bit: 0,
                        },
                    );
                    at
                }
            };
            let key = keys.get_mut(at)?;
            if key.bit == 0 {
                // More than 64 distinct required names stay on the tree path.
                key.bit = 1u64.checked_shl(bits)?;
                node.required |= key.bit;
                bits += 1;
            }
        }
        node.keys = keys.into();
        self.nodes.push(node);
        Some(self.nodes.len() - 1)
    }

    /// Whether `bytes` is one JSON value (whitespace around it allowed) valid against the
    /// schema, exactly as `jsonschema` judges it; `false` also when the fast path cannot tell.
    /// The top-level fields `capture` asks for are picked while a top-level object is read.
    #[must_use]
    pub fn check(&self, bytes: &[u8], capture: &mut Capture<'_>) -> bool {
        json_text::read_whole(bytes, |reader| self.walk(reader, capture)).is_some()
    }

    /// [`FastSchema::check`] of the value at `reader`'s position in a larger text. On `false`
    /// the reader is left somewhere inside the value.
    #[must_use]
    pub fn check_in(&self, reader: &mut json_text::Reader<'_>, capture: &mut Capture<'_>) -> bool {
        self.walk(reader, capture).is_ok()
    }
}

fn number(value: &Value) -> Option<&Number> {
    match value {
        Value::Number(n) => Some(n),
        _ => None,
    }
}

fn types(value: &Value) -> Option<u8> {
    let one = |name: &Value| match name.as_str()? {
        "null" => Some(NULL),
        "boolean" => Some(BOOLEAN),
        "object" => Some(OBJECT),
        "array" => Some(ARRAY),
        "number" => Some(NUMBER),
        "integer" => Some(INTEGER),
        "string" => Some(STRING),
        _ => None,
    };
    match value {
        Value::Array(names) => names.iter().try_fold(0, |set, name| Some(set | one(name)?)),
        name => one(name),
    }
}

/// Reads one value against `node`.
struct Seed<'s, 'c, 'f> {
    schema: &'s FastSchema,
    node: usize,
    capture: &'c mut Capture<'f>,
    /// The capture slot of a top-level field.
    slot: Option<usize>,
    /// The top-level value, whose fields are captured.
    root: bool,
    /// `enum`/`const` already held on the parsed subtree now being read.
    chosen: bool,
}

fn abort<E: de::Error>() -> E {
    E::custom("not valid on the fast path")
}

impl<'de> DeserializeSeed<'de> for Seed<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        let node = self.node()?;
        if node.never {
            return Err(abort());
        }
        if node.tree && !self.chosen {
            let value = Value::deserialize(deserializer)?;
            if !node.choices.iter().all(|c| c.has(&value)) {
                return Err(abort());
            }
            return Seed {
                chosen: true,
                ..self
            }
            .deserialize(&value)
            .map_err(|_| abort());
        }
        deserializer.deserialize_any(self)
    }
}

impl<'s> Seed<'s, '_, '_> {
    fn node<E: de::Error>(&self) -> Result<&'s Node, E> {
        self.schema.nodes.get(self.node).ok_or_else(abort)
    }

    fn capture(&mut self, value: impl FnOnce() -> Captured) {
        if let Some(slot) = self.slot {
            self.capture.set(slot, value());
        }
    }

    fn capture_str(&mut self, value: &str) {
        if let Some(slot) = self.slot {
            self.capture.set_str(slot, value);
        }
    }

    /// The `type` and `enum`/`const` checks of a scalar.
    fn scalar<E: de::Error>(
        &self,
        ty: u8,
        choose: impl Fn(&Choices) -> bool,
    ) -> Result<&'s Node, E> {
        let node = self.node()?;
        if node.scalar_fits(ty, self.chosen, choose) {
            Ok(node)
        } else {
            Err(abort())
        }
    }

    fn number<E: de::Error>(&self, n: Num) -> Result<(), E> {
        if self.node()?.number_accepts(n, self.chosen) {
            Ok(())
        } else {
            Err(abort())
        }
    }

    fn container<E: de::Error>(&mut self, ty: u8) -> Result<&'s Node, E> {
        self.capture(|| Captured::Complex);
        let node = self.node()?;
        if node.container_fits(ty, self.chosen) {
            Ok(node)
        } else {
            Err(abort())
        }
    }
}

impl<'de> Visitor<'de> for Seed<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(mut self) -> Result<(), E> {
        self.capture(|| Captured::Null);
        self.scalar(NULL, |c| c.null).map(drop)
    }

    fn visit_bool<E: de::Error>(mut self, v: bool) -> Result<(), E> {
        self.capture(|| Captured::Bool(v));
        self.scalar(BOOLEAN, |c| c.booleans[usize::from(v)])
            .map(drop)
    }

    fn visit_i64<E: de::Error>(mut self, v: i64) -> Result<(), E> {
        self.capture(|| Captured::Int(v));
        self.number(Num::Int(v.into()))
    }

    fn visit_u64<E: de::Error>(mut self, v: u64) -> Result<(), E> {
        self.capture(|| Captured::unsigned(v));
        self.number(Num::Int(v.into()))
    }

    fn visit_f64<E: de::Error>(mut self, v: f64) -> Result<(), E> {
        self.capture(|| Captured::Float(v));
        self.number(Num::Float(v))
    }

    fn visit_str<E: de::Error>(mut self, v: &str) -> Result<(), E> {
        self.capture_str(v);
        let node = self.scalar(STRING, |c| c.has_string(v))?;
        if node.length_fits(v) {
            Ok(())
        } else {
            Err(abort())
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        let node = self.container(ARRAY)?;
        let mut count = 0u64;
        while seq
            .next_element_seed(Seed {
                schema: self.schema,
                node: node.items,
                capture: &mut *self.capture,
                slot: None,
                root: false,
                chosen: false,
            })?
            .is_some()
        {
            count += 1;
            if count > node.max_items {
                return Err(abort());
            }
        }
        if count < node.min_items {
            Err(abort())
        } else {
            Ok(())
        }
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let node = self.container(OBJECT)?;
        if self.root {
            self.capture.mark_object();
        }
        let capturing = self.root && !self.capture.is_empty();
        let mut names = node.lists_names().then(Vec::new);
        let mut seen = 0u64;
        let mut any = false;
        while let Some(name) = map.next_key_seed(KeySeed)? {
            let (schema, bit, slot) = node
                .entry(name.as_str(), capturing.then_some(&*self.capture))
                .ok_or_else(abort)?;
            seen |= bit;
            map.next_value_seed(Seed {
                schema: self.schema,
                node: schema,
                capture: &mut *self.capture,
                slot,
                root: false,
                chosen: false,
            })?;
            any = true;
            if let Some(names) = &mut names {
                names.push(name);
            }
        }
        if node.object_fits(seen, any, names) {
            Ok(())
        } else {
            Err(abort())
        }
    }
}

mod walk;

#[cfg(test)]
mod tests;
