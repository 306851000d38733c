//! A schema parsed into what checks and validation need, whatever its format. Parsing
//! resolves references from texts the caller supplies; this module owns no registry state.

use super::avro::{self, AvroSchema};
use super::json::{self, JsonSchema};
use super::types::SchemaKind;

/// A parsed schema.
#[derive(Debug)]
pub enum Parsed {
    /// Avro.
    Avro(AvroSchema),
    /// JSON Schema.
    Json(JsonSchema),
}

impl Parsed {
    /// Its format.
    #[must_use]
    pub fn kind(&self) -> SchemaKind {
        match self {
            Self::Avro(_) => SchemaKind::Avro,
            Self::Json(_) => SchemaKind::Json,
        }
    }
}

/// Parses `text` of `kind`, with `references` as `(name, text)` pairs (every schema reachable
/// through references, transitively). Returns the parsed schema and its canonical text.
///
/// # Errors
/// Why the text is not a valid schema of that kind.
pub fn parse(
    kind: SchemaKind,
    text: &str,
    references: &[(String, String)],
) -> Result<(Parsed, String), String> {
    match kind {
        SchemaKind::Avro => {
            let texts: Vec<String> = references.iter().map(|(_, t)| t.clone()).collect();
            avro::parse(text, &texts).map(|(s, c)| (Parsed::Avro(s), c))
        }
        SchemaKind::Json => json::parse(text, references).map(|(s, c)| (Parsed::Json(s), c)),
        SchemaKind::Protobuf => Err("PROTOBUF is not supported yet".into()),
    }
}

#[cfg(test)]
mod fuzz_tests {
    proptest::proptest! {
        /// Schema-shaped JSON (nested objects with type-like keys) too.
        #[test]
        fn schema_shaped_json_never_panics(
            kinds in proptest::collection::vec(proptest::sample::select(vec![
                "record", "enum", "array", "map", "fixed", "string", "int", "null", "object", "number"]), 1..6),
            names in proptest::collection::vec("[a-z]{0,5}", 1..6),
        ) {
            let fields: Vec<serde_json::Value> = names.iter().zip(kinds.iter().cycle())
                .map(|(n, k)| serde_json::json!({"name": n, "type": k, "items": k, "values": k, "symbols": [n], "size": 2}))
                .collect();
            let text = serde_json::json!({"type": kinds[0], "name": names[0], "fields": fields,
                "properties": {"a": {"type": kinds[0]}}, "items": kinds[0]}).to_string();
            let _ = crate::schema::avro::parse(&text, &[]);
            let _ = crate::schema::json::parse(&text, &[]);
        }
    }
}
