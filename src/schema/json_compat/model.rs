//! How a raw JSON schema reads as the schema classes Confluent's diff dispatches on (Everit's
//! loader): which "shape" a schema object has, and where its `$ref` points.
//!
//! A schema object carrying keywords of several kinds (`type` and `enum`, `properties` and
//! `oneOf`, …) is, to the loader, a synthetic `allOf` of one subschema per kind. We model those
//! subschemas as views ([`Part`]) of the same JSON object instead of building new values, so
//! every node stays a borrow of the caller's documents and a pair of nodes has a stable
//! identity for cycle detection and memoisation.

use serde_json::{Map, Value};

/// `$ref` hops followed before a chain is treated as unresolvable (`#/a` → `#/b` → `#/a`).
const MAX_REF_HOPS: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Ty {
    Null,
    Boolean,
    String,
    Number,
    Integer,
    Object,
    Array,
}

impl Ty {
    fn parse(name: &str) -> Option<Ty> {
        Some(match name {
            "null" => Ty::Null,
            "boolean" => Ty::Boolean,
            "string" => Ty::String,
            "number" => Ty::Number,
            "integer" => Ty::Integer,
            "object" => Ty::Object,
            "array" => Ty::Array,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Crit {
    All,
    Any,
    One,
}

impl Crit {
    pub(super) fn keyword(self) -> &'static str {
        match self {
            Crit::All => "allOf",
            Crit::Any => "anyOf",
            Crit::One => "oneOf",
        }
    }
}

/// Which part of a schema object a node stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Part {
    /// The schema as written (a boolean, or an object with all its keywords).
    Whole,
    Enum,
    Const,
    Not,
    Combined(Crit),
    /// `type: [..]`, which the loader reads as an `anyOf` of one schema per type.
    TypeUnion,
    /// The keywords of one type, explicit (`type: "string"`) or implied (`maxLength`).
    Type(Ty),
    /// `if`/`then`/`else`; Confluent's diff never looks inside.
    Conditional,
}

/// A schema within one of the two documents being compared.
#[derive(Debug, Clone, Copy)]
pub(super) struct Node<'a> {
    pub(super) value: &'a Value,
    pub(super) part: Part,
    /// The document `#` refers to.
    root: &'a Value,
}

impl<'a> Node<'a> {
    pub(super) fn root(root: &'a Value) -> Node<'a> {
        Node {
            value: root,
            part: Part::Whole,
            root,
        }
    }

    /// A subschema of this one, found in the same document.
    pub(super) fn child(&self, value: &'a Value) -> Node<'a> {
        Node {
            value,
            part: Part::Whole,
            root: self.root,
        }
    }

    fn view(&self, part: Part) -> Node<'a> {
        Node { part, ..*self }
    }

    /// Identity for cycle detection: the address of the borrowed value, and the view.
    pub(super) fn id(&self) -> (usize, Part) {
        (std::ptr::from_ref(self.value) as usize, self.part)
    }

    /// An annotation (`title`, `default`, …): only the whole schema carries them, as the
    /// loader puts them on the synthetic `allOf`, not on its parts.
    pub(super) fn annotation(&self, keyword: &str) -> Option<&'a Value> {
        match self.part {
            Part::Whole => self.value.get(keyword),
            _ => None,
        }
    }

    /// Follows in-document `$ref`s. Anything else (another document, an anchor, a dangling
    /// pointer, a loop) is left as is and compares by its `$ref` string.
    pub(super) fn resolve(self) -> Node<'a> {
        let mut node = self;
        for _ in 0..MAX_REF_HOPS {
            let Some(target) = node.ref_target() else {
                return node;
            };
            node = node.child(target);
        }
        node
    }

    fn ref_target(&self) -> Option<&'a Value> {
        if self.part != Part::Whole {
            return None;
        }
        let fragment = self.value.get("$ref")?.as_str()?.strip_prefix('#')?;
        let pointer = percent_decode(fragment);
        if pointer.is_empty() {
            Some(self.root)
        } else if pointer.starts_with('/') {
            self.root.pointer(&pointer)
        } else {
            None
        }
    }

    /// The schema class this node reads as. Call on a resolved node.
    pub(super) fn shape(&self) -> Shape<'a> {
        let map = match self.value {
            Value::Bool(true) => return Shape::Empty,
            Value::Bool(false) => return Shape::False,
            Value::Object(map) => map,
            // Not a schema at all; validation is the caller's job, and "no constraint" is the
            // reading that can never make us report a difference that is not there.
            _ => return Shape::Empty,
        };
        match self.part {
            Part::Whole => {
                if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
                    return Shape::Unresolved(reference);
                }
                let parts = parts(map);
                match parts.as_slice() {
                    [] => Shape::Empty,
                    [only] => self.view(*only).shape(),
                    _ => Shape::Combined(Crit::All, parts.iter().map(|p| self.view(*p)).collect()),
                }
            }
            Part::Enum => match map.get("enum") {
                Some(Value::Array(values)) => Shape::Enum(values),
                _ => Shape::Empty,
            },
            Part::Const => map.get("const").map_or(Shape::Empty, Shape::Const),
            Part::Not => map
                .get("not")
                .map_or(Shape::Empty, |v| Shape::Not(self.child(v))),
            Part::Combined(crit) => match map.get(crit.keyword()) {
                Some(Value::Array(subs)) => Shape::Combined(crit, self.distinct(subs)),
                _ => Shape::Empty,
            },
            Part::TypeUnion => {
                let mut types: Vec<Ty> = Vec::new();
                for ty in map
                    .get("type")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(ty) = ty.as_str().and_then(Ty::parse) {
                        if !types.contains(&ty) {
                            types.push(ty);
                        }
                    }
                }
                Shape::Combined(
                    Crit::Any,
                    types
                        .into_iter()
                        .map(|t| self.view(Part::Type(t)))
                        .collect(),
                )
            }
            Part::Type(ty) => match ty {
                Ty::Null => Shape::Null,
                Ty::Boolean => Shape::Boolean,
                Ty::String => Shape::String(map),
                Ty::Number => Shape::Number(map, false),
                Ty::Integer => Shape::Number(map, true),
                Ty::Object => Shape::Object(map),
                Ty::Array => Shape::Array(map),
            },
            Part::Conditional => Shape::Conditional,
        }
    }

    /// Subschemas of a combinator, duplicates dropped as Confluent's `Set` does. Quadratic, so
    /// only done for lists of a sane length; past that the step budget decides anyway.
    fn distinct(&self, subs: &'a [Value]) -> Vec<Node<'a>> {
        let mut out: Vec<Node<'a>> = Vec::with_capacity(subs.len());
        for sub in subs {
            if subs.len() > 64 || !out.iter().any(|n| n.value == sub) {
                out.push(self.child(sub));
            }
        }
        out
    }
}

/// What Confluent's diff dispatches on (Everit's schema classes).
#[derive(Debug, Clone)]
pub(super) enum Shape<'a> {
    /// `true`, `{}`, or only annotations: accepts everything.
    Empty,
    False,
    /// A `$ref` we cannot follow; holds the reference string.
    Unresolved(&'a str),
    Null,
    Boolean,
    String(&'a Map<String, Value>),
    /// `true` when `type: integer`.
    Number(&'a Map<String, Value>, bool),
    Object(&'a Map<String, Value>),
    Array(&'a Map<String, Value>),
    Enum(&'a [Value]),
    Const(&'a Value),
    Not(Node<'a>),
    Combined(Crit, Vec<Node<'a>>),
    Conditional,
}

impl Shape<'_> {
    /// Same schema class (Confluent's `schemaTypesEqual`: any two combined schemas match).
    pub(super) fn same_class(&self, other: &Shape<'_>) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

const OBJECT_KEYWORDS: &[&str] = &[
    "properties",
    "additionalProperties",
    "required",
    "minProperties",
    "maxProperties",
    "dependencies",
    "dependentRequired",
    "dependentSchemas",
    "patternProperties",
    "propertyNames",
    "unevaluatedProperties",
];
const ARRAY_KEYWORDS: &[&str] = &[
    "items",
    "prefixItems",
    "additionalItems",
    "minItems",
    "maxItems",
    "uniqueItems",
    "contains",
    "minContains",
    "maxContains",
    "unevaluatedItems",
];
const NUMBER_KEYWORDS: &[&str] = &[
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
];
const STRING_KEYWORDS: &[&str] = &["minLength", "maxLength", "pattern", "format"];

/// The loader's subschemas for one object, in the order its extractors run.
fn parts(map: &Map<String, Value>) -> Vec<Part> {
    let mut parts = Vec::new();
    if map.get("enum").is_some_and(Value::is_array) {
        parts.push(Part::Enum);
    }
    for crit in [Crit::All, Crit::Any, Crit::One] {
        if map.get(crit.keyword()).is_some_and(Value::is_array) {
            parts.push(Part::Combined(crit));
        }
    }
    if map.contains_key("not") {
        parts.push(Part::Not);
    }
    if map.contains_key("const") {
        parts.push(Part::Const);
    }
    match map.get("type") {
        Some(Value::String(name)) => parts.extend(Ty::parse(name).map(Part::Type)),
        Some(Value::Array(names)) if !names.is_empty() => parts.push(Part::TypeUnion),
        _ => {
            let implied = [
                (Ty::Object, OBJECT_KEYWORDS),
                (Ty::Array, ARRAY_KEYWORDS),
                (Ty::Number, NUMBER_KEYWORDS),
                (Ty::String, STRING_KEYWORDS),
            ];
            for (ty, keywords) in implied {
                if keywords.iter().any(|k| map.contains_key(*k)) {
                    parts.push(Part::Type(ty));
                }
            }
        }
    }
    if map.contains_key("if") {
        parts.push(Part::Conditional);
    }
    parts
}

/// `%XX` escapes in a URI fragment; malformed escapes are kept verbatim.
fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_owned();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
