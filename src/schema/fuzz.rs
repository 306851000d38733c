//! Entry points for the fuzz targets (`fuzz/`) and the never-panic proptests: schema texts and
//! rule sets as a client could register them, and Avro payloads as a producer could send them.
//!
//! Owns only the choice of entry and a few fixed schemas; it must not parse anything itself.
//! Built for tests and with the `fuzzing` feature.

use serde_json::Value;

use super::capture::{Capture, Slots};
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
/// is JSON, encoded to Avro both ways (the tree, the fast path's plan) and checked against a
/// JSON Schema.
///
/// # Panics
/// When the checking walk and the decoding walk disagree about the same bytes (the produce
/// path checks with one and consumers decode with the other), or when the plan writes other
/// bytes than the tree.
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
            let tree = avro::encode::encode(&schema.schema, &schema.names, value, &mut out);
            if tree.is_ok() {
                assert!(avro::binary::validate(&schema.schema, &schema.names, &out).is_ok());
            }
            if let Some(planned) = (schema.plan.as_ref())
                .and_then(|plan| fast_encode(|out, capture| plan.encode_json(data, out, capture)))
            {
                assert_eq!(
                    Some(planned),
                    tree.ok().map(|()| out),
                    "plan and tree disagree"
                );
            }
        }
    }
    if let (Some(schema), Some(value)) = (json_schema, &value) {
        let _ = schema.check(value);
    }
}

/// What a fast encoder wrote, or `None` when it declined.
fn fast_encode(encode: impl FnOnce(&mut Vec<u8>, &mut Capture<'_>) -> bool) -> Option<Vec<u8>> {
    let mut slots = Slots::default();
    let mut out = Vec::new();
    encode(&mut out, &mut Capture::new(&[], &mut slots)).then_some(out)
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

    /// JSON payloads run both encoders against each other: ones they take, and ones the plan
    /// leaves to the tree.
    #[test]
    fn json_payloads_encode_alike_both_ways() {
        let all = r#"{"b":true,"i":1,"l":2,"f":1.5,"d":2,"s":"x","by":"ab",
            "e":"B","fx":"abcd","arr":[1,2],"m":{"a":"1","b":"2"},"u":7,"ts":1,
            "dec":"1.25","id":"1481531d-ccc9-46d9-a56f-5b67459c0537"}"#;
        for text in [
            all,
            &all.replace(r#""m":{"a":"1","b":"2"}"#, r#""m":{"b":"1","a":"2"}"#),
            &all.replace(r#""u":7"#, r#""u":"seven""#),
            r#"{"v":1,"next":{"v":2,"next":null}}"#,
            r#"{"v":1,"next":null}"#,
            "[1,2]",
        ] {
            super::avro_payload(text.as_bytes());
        }
    }

    /// The fixed schemas parse: otherwise the payload target would test nothing.
    #[test]
    fn fixed_schemas_parse() {
        let plans: Vec<bool> = (super::AVRO.iter())
            .map(|text| super::avro::parse(text, &[]).unwrap().0.plan.is_some())
            .collect();
        assert_eq!(
            plans,
            [true, true],
            "both fixed schemas have plans, the recursive one too"
        );
        super::json::parse(super::JSON, &[]).unwrap();
    }
}
