//! Avro: parsing a registered schema (with its references) safely, its canonical text, and
//! the submodules that encode, walk and compare Avro data and schemas.
//!
//! apache-avro parses; everything that touches data or compatibility is ours (see
//! `docs/plan-issue-9-schemas.md` §1.1: its parser panics on bad names, its decoder accepts
//! truncated input, its compatibility check misses aliases, enum defaults and decimals).
//! Owns no registry state: callers hand in the referenced schemas' texts.

pub mod binary;
pub mod compat;
pub mod data_error;
pub mod encode;
pub mod names;
pub mod plan;

use apache_avro::Schema;
use serde_json::{Map, Value};

pub use data_error::DataError;
pub use names::Names;

/// A parsed Avro schema and the named types it can reach.
#[derive(Debug)]
pub struct AvroSchema {
    /// The root schema.
    pub schema: Schema,
    /// Its named types and those of its references.
    pub names: Names,
    /// Its encoding plan for the produce fast path, when it has one.
    pub plan: Option<plan::Plan>,
}

/// Parses `text` with `references` (the texts of the named types it uses). Returns the
/// schema and its canonical text.
///
/// # Errors
/// A human-readable reason.
pub fn parse(text: &str, references: &[String]) -> Result<(AvroSchema, String), String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    check_names(&value)?;
    for reference in references {
        let value: Value =
            serde_json::from_str(reference).map_err(|e| format!("reference is not JSON: {e}"))?;
        check_names(&value)?;
    }
    // The names were checked above; the unwind guard stays as a backstop for the parser's
    // other `unwrap`s, so no schema text can take a request thread down.
    let parsed = std::panic::catch_unwind(|| {
        if references.is_empty() {
            Schema::parse_str(text).map(|s| (s, Vec::new()))
        } else {
            Schema::parse_str_with_list(text, references)
        }
    })
    .map_err(|_| "the schema could not be parsed".to_owned())?
    .map_err(|e| e.to_string())?;
    let (schema, dependencies) = parsed;
    let names = Names::new(std::iter::once(&schema).chain(dependencies.iter()));
    let plan = plan::Plan::compile(&schema, &names);
    Ok((
        AvroSchema {
            schema,
            names,
            plan,
        },
        canonical(&value),
    ))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

/// Refuses the names apache-avro's parser would panic on.
fn check_names(value: &Value) -> Result<(), String> {
    match value {
        Value::Array(items) => items.iter().try_for_each(check_names),
        Value::Object(map) => {
            let named = matches!(
                map.get("type").and_then(Value::as_str),
                Some("record" | "error" | "enum" | "fixed")
            );
            if named {
                match map.get("name") {
                    Some(Value::String(n)) if valid_name(n) => {}
                    Some(other) => return Err(format!("invalid name {other}")),
                    None => return Err("a named type has no \"name\"".into()),
                }
                match map.get("namespace") {
                    None | Some(Value::Null) => {}
                    Some(Value::String(ns)) if ns.is_empty() || valid_name(ns) => {}
                    Some(other) => return Err(format!("invalid namespace {other}")),
                }
                if let Some(aliases) = map.get("aliases") {
                    let ok = aliases
                        .as_array()
                        .is_some_and(|a| a.iter().all(|x| x.as_str().is_some_and(valid_name)));
                    if !ok {
                        return Err(format!("invalid aliases {aliases}"));
                    }
                }
            }
            if let Some(Value::Array(fields)) = map.get("fields") {
                for field in fields {
                    match field.get("name") {
                        Some(Value::String(n)) if valid_name(n) && !n.contains('.') => {}
                        other => {
                            return Err(format!(
                                "invalid field name {}",
                                other.map_or_else(|| "(none)".into(), Value::to_string)
                            ));
                        }
                    }
                }
            }
            map.values().try_for_each(check_names)
        }
        _ => Ok(()),
    }
}

const PRIMITIVES: [&str; 8] = [
    "null", "boolean", "int", "long", "float", "double", "bytes", "string",
];

/// Keys printed first, in Java's order; the rest follow sorted.
const TYPE_KEYS: [&str; 11] = [
    "type",
    "name",
    "namespace",
    "doc",
    "fields",
    "symbols",
    "items",
    "values",
    "size",
    "default",
    "aliases",
];
const FIELD_KEYS: [&str; 6] = ["name", "type", "doc", "default", "order", "aliases"];

/// The stored text: compact, `{"type":"int"}` collapsed to `"int"`, keys in a fixed order,
/// every other property (docs, defaults, logical types, custom ones) kept. Whitespace and
/// key order in a request never change a schema's id; content does.
#[must_use]
pub fn canonical(value: &Value) -> String {
    let mut out = String::with_capacity(256);
    write_type(value, &mut out);
    out
}

fn write_type(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            if let (1, Some(Value::String(t))) = (map.len(), map.get("type")) {
                if PRIMITIVES.contains(&t.as_str()) {
                    push_json(&Value::String(t.clone()), out);
                    return;
                }
            }
            write_object(map, &TYPE_KEYS, out, |key, v, out| match key {
                "type" | "items" | "values" => write_type(v, out),
                "fields" => write_fields(v, out),
                _ => push_json(v, out),
            });
        }
        Value::Array(branches) => {
            out.push('[');
            for (i, branch) in branches.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_type(branch, out);
            }
            out.push(']');
        }
        other => push_json(other, out),
    }
}

fn write_fields(value: &Value, out: &mut String) {
    let Value::Array(fields) = value else {
        push_json(value, out);
        return;
    };
    out.push('[');
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match field {
            Value::Object(map) => write_object(map, &FIELD_KEYS, out, |key, v, out| {
                if key == "type" {
                    write_type(v, out);
                } else {
                    push_json(v, out);
                }
            }),
            other => push_json(other, out),
        }
    }
    out.push(']');
}

fn write_object(
    map: &Map<String, Value>,
    first: &[&str],
    out: &mut String,
    write: impl Fn(&str, &Value, &mut String),
) {
    let mut rest: Vec<&String> = map
        .keys()
        .filter(|k| !first.contains(&k.as_str()))
        .collect();
    rest.sort();
    let keys = first
        .iter()
        .copied()
        .filter(|k| map.contains_key(*k))
        .chain(rest.into_iter().map(String::as_str));
    out.push('{');
    for (i, key) in keys.enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json(&Value::String(key.to_owned()), out);
        out.push(':');
        if let Some(v) = map.get(key) {
            write(key, v, out);
        }
    }
    out.push('}');
}

fn push_json(value: &Value, out: &mut String) {
    // Sorted keys inside custom properties and defaults, whatever the map's ordering.
    out.push_str(&super::json::canonical(value));
}

/// Schemas shared by the codec's tests.
#[cfg(test)]
pub(crate) mod fixtures {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use apache_avro::Schema;

    use super::Names;

    /// A schema and its names, for tests; panics on invalid text.
    pub fn parse(text: &str) -> (Schema, Names) {
        let schema = Schema::parse_str(text).unwrap();
        let names = Names::new([&schema]);
        (schema, names)
    }

    /// A record using every kind of Avro type.
    pub const PAYMENT: &str = r#"{"type":"record","name":"Payment","namespace":"com.acme","fields":[
        {"name":"b","type":"boolean"},
        {"name":"i","type":"int"},
        {"name":"l","type":"long"},
        {"name":"f","type":"float"},
        {"name":"d","type":"double"},
        {"name":"s","type":"string"},
        {"name":"by","type":"bytes"},
        {"name":"n","type":"null"},
        {"name":"addr","type":{"type":"record","name":"Address","fields":[
            {"name":"city","type":"string"},
            {"name":"zip","type":["null","int"],"default":null}]}},
        {"name":"currency","type":{"type":"enum","name":"Currency","symbols":["EUR","USD"]}},
        {"name":"hash","type":{"type":"fixed","name":"Hash","size":4}},
        {"name":"items","type":{"type":"array","items":{"type":"record","name":"Item","fields":[
            {"name":"sku","type":"string"},{"name":"amount","type":"long"}]}}},
        {"name":"tags","type":{"type":"map","values":"string"}},
        {"name":"note","type":["null","string","Address"]},
        {"name":"day","type":{"type":"int","logicalType":"date"}},
        {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},
        {"name":"id","type":{"type":"string","logicalType":"uuid"}},
        {"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":4,"scale":2}}
    ]}"#;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use super::*;

    #[test]
    fn canonical_text_is_compact_ordered_and_keeps_properties() {
        let text = r#"{ "fields": [ {"type": {"type": "string"}, "name": "id", "default": "x"},
            {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 4, "scale": 2}} ],
            "name": "Payment", "type": "record", "connect.name": "p", "doc": "d" }"#;
        let (_, canonical) = parse(text, &[]).unwrap();
        assert_eq!(
            canonical,
            r#"{"type":"record","name":"Payment","doc":"d","fields":[{"name":"id","type":"string","default":"x"},{"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":4,"scale":2}}],"connect.name":"p"}"#
        );
        let (_, primitive) = parse(r#"{"type": "string"}"#, &[]).unwrap();
        assert_eq!(primitive, r#""string""#);
        // A primitive with a custom property keeps it (apache-avro's printer drops it).
        let (_, custom) = parse(r#"{"type":"string","connect.name":"x"}"#, &[]).unwrap();
        assert_eq!(custom, r#"{"type":"string","connect.name":"x"}"#);
    }

    #[test]
    fn names_the_parser_would_panic_on_are_refused() {
        for bad in [
            r#"{"type":"record","name":"1R","fields":[]}"#,
            r#"{"type":"record","name":"R","aliases":["a-b"],"fields":[]}"#,
            r#"{"type":"record","name":"R","namespace":"a..b","fields":[]}"#,
            r#"{"type":"enum","name":"E-","symbols":["A"]}"#,
            r#"{"type":"record","name":"R","fields":[{"name":"a b","type":"int"}]}"#,
            r#"{"type":"fixed","size":4}"#,
        ] {
            assert!(parse(bad, &[]).is_err(), "{bad}");
        }
    }

    #[test]
    fn invalid_schemas_are_refused_with_a_reason() {
        for bad in [
            "{",
            r#""no-such-type""#,
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"a","type":"int"}]}"#,
            r#"{"type":"enum","name":"E","symbols":["A","A"]}"#,
            r#"{"type":"fixed","name":"F","size":-1}"#,
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":"x"}]}"#,
        ] {
            let e = parse(bad, &[]).unwrap_err();
            assert!(!e.is_empty(), "{bad}");
        }
    }

    #[test]
    fn references_supply_named_types() {
        let address = r#"{"type":"record","name":"Address","namespace":"acme","fields":[{"name":"city","type":"string"}]}"#;
        let person = r#"{"type":"record","name":"Person","namespace":"acme","fields":[{"name":"home","type":"acme.Address"}]}"#;
        assert!(parse(person, &[]).is_err());
        let (parsed, _) = parse(person, &[address.to_owned()]).unwrap();
        let Schema::Record(record) = &parsed.schema else {
            panic!("not a record")
        };
        let home = parsed.names.resolve(&record.fields[0].schema).unwrap();
        assert!(matches!(home, Schema::Record(r) if r.name.name == "Address"));
    }
}
