//! Compatibility between a candidate schema and a subject's versions, per level
//! (API-COMPAT §4.1). The format-specific rules live in `avro::compat` and `json_compat`;
//! this module only picks directions and versions.

use super::parsed::Parsed;
use super::types::{Level, Policy};

/// Every reason `reader` cannot read data written with `writer`; empty means compatible.
#[must_use]
pub fn reasons(reader: &Parsed, writer: &Parsed, policy: Policy) -> Vec<String> {
    match (reader, writer) {
        (Parsed::Avro(r), Parsed::Avro(w)) => {
            super::avro::compat::incompatibilities(&r.schema, &r.names, &w.schema, &w.names)
                .iter()
                .map(ToString::to_string)
                .collect()
        }
        (Parsed::Json(r), Parsed::Json(w)) => {
            let policy = match policy {
                Policy::Strict => super::json_compat::Policy::Strict,
                Policy::Lenient => super::json_compat::Policy::Lenient,
            };
            super::json_compat::incompatibilities(&r.value, &w.value, policy)
                .iter()
                .map(ToString::to_string)
                .collect()
        }
        _ => vec![format!(
            "Incompatible because of different schema type: {} and {}",
            writer.kind().as_str(),
            reader.kind().as_str()
        )],
    }
}

/// One existing version to check against.
pub struct Existing<'a> {
    /// Its version number.
    pub version: u32,
    /// Its canonical text (quoted in messages).
    pub text: &'a str,
    /// Parsed.
    pub parsed: &'a Parsed,
}

/// Checks `candidate` under `level` against `existing` (live versions, newest first; only
/// the first is used unless the level is transitive). Empty means compatible; otherwise the
/// messages Confluent's verbose answer gives, ending with the version and level.
#[must_use]
pub fn check(
    level: Level,
    policy: Policy,
    candidate: &Parsed,
    existing: &[Existing<'_>],
) -> Vec<String> {
    if level == Level::None {
        return Vec::new();
    }
    let take = if level.transitive() {
        existing.len()
    } else {
        1
    };
    for old in existing.iter().take(take) {
        let mut messages = Vec::new();
        if level.backward() {
            messages.extend(reasons(candidate, old.parsed, policy));
        }
        if level.forward() {
            messages.extend(reasons(old.parsed, candidate, policy));
        }
        if !messages.is_empty() {
            messages.push(format!("{{oldSchemaVersion: {}}}", old.version));
            messages.push(format!("{{oldSchema: '{}'}}", old.text));
            messages.push(format!("{{compatibility: '{level}'}}"));
            return messages;
        }
    }
    Vec::new()
}
