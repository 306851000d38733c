//! Entry points for the fuzz targets (`fuzz/`) and the never-panic proptests: schema texts and
//! rule sets as a client could register them, and Avro payloads as a producer could send them.
//!
//! Owns only the choice of entry and a few fixed schemas; it must not parse anything itself.
//! Built for tests and with the `fuzzing` feature.

use serde_json::Value;

use super::{avro, json, rules};

/// Schemas the payload target decodes against: every Avro type, logical types, a recursive
/// union, and a JSON Schema with the keywords that recurse.
const AVRO: [&str; 2] = [
    r#"{"type":"record","name":"All","fields":[
        {"name":"b","type":"boolean"},{"name":"i","type":"int"},{"name":"l","type":"long"},
        {"name":"f","type":"float"},{"name":"d","type":"double"},{"name":"s","type":"string"},
        {"name":"by","type":"bytes"},
        {"name":"e","type":{"type":"enum","name":"E","symbols":["A","B","C"]}},
        {"name":"fx","type":{"type":"fixed","name":"F","size":4}},
        {"name":"arr","type":{"type":"array","items":"int"}},
        {"name":"m","type":{"type":"map","values":"string"}},
        {"name":"u","type":["null","string","long"]},
        {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
        {"name":"dec","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}},
        {"name":"id","type":{"type":"string","logicalType":"uuid"}}]}"#,
    r#"{"type":"record","name":"L","fields":[{"name":"v","type":"int"},
        {"name":"next","type":["null","L",{"type":"map","values":"L"}]}]}"#,
];
const JSON: &str = r##"{"type":"object","required":["a"],"properties":{
    "a":{"type":"integer","minimum":0},"b":{"type":"array","items":{"$ref":"#"}},
    "c":{"oneOf":[{"type":"string","pattern":"^x+$"},{"type":"null"}]}},
    "additionalProperties":false}"##;

/// A schema text registered as Avro and as JSON Schema, and as a `ruleSet` (CEL rules).
pub fn schema_text(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = avro::parse(text, &[]);
    let _ = avro::parse(AVRO[1], &[text.to_owned()]);
    let _ = json::parse(text, &[]);
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        let _ = rules::compile(Some(&value));
    }
}

/// A produced payload: Avro binary checked and decoded (both walks must agree), and, when it
/// is JSON, encoded to Avro and checked against a JSON Schema.
///
/// # Panics
/// When the checking walk and the decoding walk disagree about the same bytes: the produce
/// path checks with one and consumers decode with the other.
pub fn avro_payload(data: &[u8]) {
    // Compiled once: the target is about the payload walks, not schema compilation.
    static SCHEMAS: std::sync::OnceLock<(Vec<avro::AvroSchema>, Option<json::JsonSchema>)> =
        std::sync::OnceLock::new();
    let (avro_schemas, json_schema) = SCHEMAS.get_or_init(|| {
        let avro_schemas = AVRO
            .iter()
            .filter_map(|text| avro::parse(text, &[]).ok().map(|(s, _)| s))
            .collect();
        (avro_schemas, json::parse(JSON, &[]).ok().map(|(s, _)| s))
    });
    let value = serde_json::from_slice::<Value>(data).ok();
    for schema in avro_schemas {
        let checked = avro::binary::validate(&schema.schema, &schema.names, data);
        let decoded = avro::binary::decode(&schema.schema, &schema.names, data);
        assert_eq!(checked.err(), decoded.err(), "check and decode disagree");
        if let Some(value) = &value {
            let mut out = Vec::new();
            if avro::encode::encode(&schema.schema, &schema.names, value, &mut out).is_ok() {
                assert!(avro::binary::validate(&schema.schema, &schema.names, &out).is_ok());
            }
        }
    }
    if let (Some(schema), Some(value)) = (json_schema, &value) {
        let _ = schema.check(value);
    }
}

#[cfg(test)]
mod tests {
    use proptest::{arbitrary::any, collection::vec};

    proptest::proptest! {
        /// Schema and rule texts of any content are parsed or refused, never a panic.
        #[test]
        fn arbitrary_schema_texts_never_panic(text in "\\PC{0,300}") {
            super::schema_text(text.as_bytes());
        }

        /// Payloads of any bytes are refused or decoded the same way by both walks.
        #[test]
        fn arbitrary_payloads_never_panic(bytes in vec(any::<u8>(), 0..256)) {
            super::avro_payload(&bytes);
        }
    }

    /// The fixed schemas parse: otherwise the payload target would test nothing.
    #[test]
    fn fixed_schemas_parse() {
        for text in super::AVRO {
            super::avro::parse(text, &[]).unwrap();
        }
        super::json::parse(super::JSON, &[]).unwrap();
    }
}
