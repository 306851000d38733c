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
