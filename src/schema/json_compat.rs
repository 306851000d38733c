//! JSON Schema compatibility: is data written under one schema still acceptable to a consumer
//! that expects another? Follows Confluent's `json/diff/SchemaDiff`: the writer schema
//! (`original`) is diffed against the reader schema (`update`) into `(Difference type, JSON
//! pointer)` pairs, and the pair is compatible iff every difference is in the policy's
//! compatible set. Schemas are plain `serde_json::Value`s (boolean schemas included); in-document
//! `$ref`s (`#`, `#/definitions/x`, `#/$defs/x`, any `#/…` pointer) are followed, anything else
//! (a reference to another registered schema) compares by its `$ref` string.
//!
//! Owns: the schema model Confluent's loader builds (keywords of several kinds on one object
//! act as a synthetic `allOf`, a `type` array as an `anyOf`, keywords without `type` imply it),
//! the diff, and the two compatible sets. Must not: validate schemas, fetch referenced schemas,
//! decide which versions to check (the caller picks reader and writer per compatibility level),
//! panic, or recurse without bound. A pair met again while it is still being compared (a
//! recursive `$ref`) counts as compatible, iterated to a fixpoint as Confluent does; our stack
//! never holds more than 64 pairs (pairs below that are compared in a later pass from an empty
//! stack, up to 32 passes, else `MAX_DEPTH_EXCEEDED`); more than 2,000,000 pair comparisons
//! report `COMPARISON_BUDGET_EXCEEDED`. Both are incompatible under every policy.
//!
//! One deliberate departure from Confluent: a property added to an open model as required,
//! without a default, is `REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL` even when its schema
//! is empty (`{}`/`true`); Confluent reports it as the compatible
//! `PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL` although old data lacking it fails
//! the reader. Confluent's other blind spots are kept for parity: a `required` name with no
//! entry under `properties` is not compared, an object with `patternProperties` that do not
//! match a property is treated as closed, and `oneOf` is handled like `anyOf`.
//!
//! Policies. [`Policy::Strict`] is Confluent's default set (`COMPATIBLE_CHANGES_STRICT`).
//! [`Policy::Lenient`] is our documented extension, identical to Confluent's
//! `COMPATIBLE_CHANGES_LENIENT`: STRICT's set plus exactly these nine types, so that a
//! BACKWARD check stops treating them as breaking:
//! `OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL`,
//! `REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_OPEN_CONTENT_MODEL`,
//! `PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL`,
//! `PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL`,
//! `PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL`,
//! `ADDITIONAL_PROPERTIES_NARROWED`, `ADDITIONAL_PROPERTIES_REMOVED`,
//! `UNEVALUATED_PROPERTIES_NARROWED`, `UNEVALUATED_PROPERTIES_REMOVED`.
//! A "not covered" difference always comes with the differences that made it so (say a
//! `TYPE_CHANGED` inside the property), and those still count: like Confluent, LENIENT accepts
//! the property only when those inner differences are themselves acceptable.
//!
//! Deliberately ignored, as in Confluent: `if`/`then`/`else`, `contains`, `propertyNames`,
//! `format`, draft-4 boolean `exclusiveMaximum`/`exclusiveMinimum`, and `$ref` siblings.

use serde_json::Value;

mod array;
mod combined;
mod engine;
mod kind;
mod model;
mod object;
mod scalar;

/// Most schema pairs on our stack at once; deeper pairs wait for a later pass.
const MAX_DEPTH: usize = 64;
/// Most schema-pair comparisons (memoised ones included) in one check; bounds `oneOf` cross
/// products on hostile input.
const MAX_STEPS: usize = 2_000_000;

/// Which differences count as compatible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// Confluent's default set.
    #[default]
    Strict,
    /// STRICT plus the nine property/additional-properties types listed in the module doc.
    Lenient,
}

/// One change between the writer and the reader schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// Confluent's `Difference.Type` name, e.g. `"OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"`.
    pub kind: &'static str,
    /// JSON pointer into the writer schema's structure, as Confluent prints it:
    /// `"#/"` for the root, `"#/properties/b"`, `"#/items/0"`, `"#/oneOf/1/maxLength"`.
    pub location: String,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{{errorType:\"{}\", description:\"{}\"}}",
            self.kind,
            kind::describe(self.kind, &self.location)
        )
    }
}

/// Every breaking difference when data valid under `writer` is read by a consumer expecting
/// `reader`; empty means compatible.
pub fn incompatibilities(reader: &Value, writer: &Value, policy: Policy) -> Vec<Difference> {
    engine::diff(writer, reader, policy)
        .into_iter()
        .filter(|d| !d.kind.is_compatible(policy))
        .map(engine::Diff::into_difference)
        .collect()
}

/// All differences, compatible ones included, from `original` (writer) to `update` (reader).
#[cfg(test)]
fn differences(original: &Value, update: &Value, policy: Policy) -> Vec<Difference> {
    engine::diff(original, update, policy)
        .into_iter()
        .map(engine::Diff::into_difference)
        .collect()
}

#[cfg(test)]
mod tests;
