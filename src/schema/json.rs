//! JSON Schema: parsing a registered schema (with its references) into a compiled validator,
//! its canonical text, and checking values against it. Owns nothing of the registry's state:
//! callers hand in the referenced schemas' texts.

use jsonschema::{Draft, Validator};
use serde_json::Value;

use super::capture::Capture;
use super::json_fast::FastSchema;

/// Base URI relative `$ref`s (a reference's `name`, e.g. `address.json`) resolve against.
/// `.invalid` never resolves: with the crate's network features off nothing is fetched anyway.
const BASE_URI: &str = "https://tidegate.invalid/schemas/";

/// Most violations one message lists.
const MAX_REPORTED: usize = 10;

/// A compiled JSON schema.
pub struct JsonSchema {
    /// The schema document, for the compatibility checker.
    pub value: Value,
    validator: Validator,
    /// The same schema for the fast path, when it stays within its subset.
    fast: Option<FastSchema>,
}

impl std::fmt::Debug for JsonSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonSchema")
            .field("value", &self.value)
            .finish()
    }
}

/// One way a value breaks a schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON pointer to the offending part of the value (`/` for the root).
    pub path: String,
    /// What is wrong, with up to ten problems when there are several.
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Parses `text` (a JSON Schema document) with `references` as `(name, text)` pairs, the
/// names its `$ref`s use. Returns the compiled schema and its canonical text.
///
/// # Errors
/// A human-readable reason: not JSON, not a schema, or an unresolvable `$ref`.
pub fn parse(text: &str, references: &[(String, String)]) -> Result<(JsonSchema, String), String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    if !(value.is_object() || value.is_boolean()) {
        return Err("a JSON schema must be an object or a boolean".into());
    }
    let mut resources = Vec::with_capacity(references.len());
    for (name, text) in references {
        let doc: Value = serde_json::from_str(text)
            .map_err(|e| format!("reference '{name}' is not JSON: {e}"))?;
        resources.push((absolute(name), doc));
    }
    let registry = jsonschema::Registry::new()
        .extend(resources)
        .and_then(jsonschema::RegistryBuilder::prepare)
        .map_err(|e| format!("references: {e}"))?;
    let mut options = jsonschema::options()
        .with_registry(&registry)
        .with_base_uri(BASE_URI);
    if value.get("$schema").is_none() {
        // Confluent's default draft when a schema does not name one.
        options = options.with_draft(Draft::Draft7);
    }
    let validator = options.build(&value).map_err(|e| e.to_string())?;
    let canonical = canonical(&value);
    let fast = FastSchema::compile(&value);
    Ok((
        JsonSchema {
            value,
            validator,
            fast,
        },
        canonical,
    ))
}

impl JsonSchema {
    /// Whether `bytes` (JSON text) is valid, judged without a tree; `false` also when the fast
    /// validator cannot tell (then [`JsonSchema::check`] on the parsed value decides).
    pub fn fast_check(&self, bytes: &[u8], capture: &mut Capture<'_>) -> bool {
        self.fast.as_ref().is_some_and(|f| f.check(bytes, capture))
    }

    /// [`JsonSchema::fast_check`] of the value at `reader`'s position in a larger text; on
    /// `false` the reader may be left inside the value.
    pub fn fast_check_in(
        &self,
        reader: &mut crate::json_text::Reader<'_>,
        capture: &mut Capture<'_>,
    ) -> bool {
        self.fast
            .as_ref()
            .is_some_and(|f| f.check_in(reader, capture))
    }

    /// Checks `instance`; `Err` lists up to ten violations, the first one's path reported.
    pub fn check(&self, instance: &Value) -> Result<(), Violation> {
        if self.validator.is_valid(instance) {
            return Ok(());
        }
        let mut path = None;
        let mut messages = Vec::new();
        for error in self.validator.iter_errors(instance).take(MAX_REPORTED) {
            let at = pointer(&error.instance_path().to_string());
            if path.is_none() {
                path = Some(at.clone());
                messages.push(error.to_string());
            } else {
                messages.push(format!("{at}: {error}"));
            }
        }
        Err(Violation {
            path: path.unwrap_or_else(|| "/".into()),
            message: messages.join("; "),
        })
    }
}

fn pointer(path: &str) -> String {
    if path.is_empty() {
        "/".into()
    } else {
        path.into()
    }
}

fn absolute(name: &str) -> String {
    if name.contains("://") || name.starts_with("urn:") {
        name.to_owned()
    } else {
        format!("{BASE_URI}{}", name.trim_start_matches('/'))
    }
}

/// The stored text: compact, object keys sorted (so whitespace and key order in the request
/// never change the id, whatever serde_json's map ordering feature is).
#[must_use]
pub fn canonical(value: &Value) -> String {
    let mut out = String::with_capacity(256);
    write_sorted(value, &mut out);
    out
}

fn write_sorted(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                if let Some(v) = map.get(key) {
                    write_sorted(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_sorted(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]
    use serde_json::json;

    use super::*;

    #[test]
    fn canonical_text_ignores_whitespace_and_key_order() {
        let (_, a) = parse(
            r#"{ "type": "object", "properties": {"b": {}, "a": {}} }"#,
            &[],
        )
        .unwrap();
        let (_, b) = parse(r#"{"properties":{"a":{},"b":{}},"type":"object"}"#, &[]).unwrap();
        assert_eq!(a, b);
        assert_eq!(a, r#"{"properties":{"a":{},"b":{}},"type":"object"}"#);
    }

    #[test]
    fn violations_name_the_path_and_the_problem() {
        let schema = r#"{"type":"object","properties":{"amount":{"type":"number","exclusiveMinimum":0},
            "items":{"type":"array","items":{"type":"object","required":["sku"]}}},"additionalProperties":false}"#;
        let (s, _) = parse(schema, &[]).unwrap();
        assert!(
            s.check(&json!({"amount": 2, "items": [{"sku": 1}]}))
                .is_ok()
        );
        let v = s.check(&json!({"amount": -1})).unwrap_err();
        assert_eq!(v.path, "/amount");
        assert!(v.message.contains("-1"), "{v}");
        let v = s
            .check(&json!({"amount": 1, "items": [{"sku": 1}, {}]}))
            .unwrap_err();
        assert_eq!(v.path, "/items/1");
        assert!(v.message.contains("sku"), "{v}");
        let v = s.check(&json!({"amount": 1, "extra": true})).unwrap_err();
        assert_eq!(v.path, "/");
        assert!(v.message.contains("extra"), "{v}");
    }

    #[test]
    fn references_resolve_by_name_and_unknown_ones_are_refused() {
        let address = r#"{"type":"object","required":["city"]}"#;
        let schema = r#"{"type":"object","properties":{"home":{"$ref":"address.json"}}}"#;
        let (s, _) = parse(schema, &[("address.json".into(), address.into())]).unwrap();
        assert!(s.check(&json!({"home": {"city": "Oslo"}})).is_ok());
        assert_eq!(s.check(&json!({"home": {}})).unwrap_err().path, "/home");
        let e = parse(schema, &[]).unwrap_err();
        assert!(e.contains("address.json"), "{e}");
    }

    #[test]
    fn invalid_schemas_are_refused_with_a_reason() {
        assert!(parse("{", &[]).unwrap_err().contains("not JSON"));
        assert!(parse("42", &[]).is_err());
        assert!(parse(r#"{"type":"no-such-type"}"#, &[]).is_err());
        assert!(parse(r#"{"minimum":"ten"}"#, &[]).is_err());
    }
}
