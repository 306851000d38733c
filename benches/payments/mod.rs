//! The payment records and schemas both validation benchmarks use (`schemas`,
//! `validate_record`), so their figures describe the same load.

use serde_json::json;

/// The Avro schema, the JSON Schema and a CEL rule set that every payment passes.
pub struct Schemas {
    pub avro: String,
    pub json_schema: String,
    pub rule: serde_json::Value,
}

pub fn schemas() -> Schemas {
    let avro = json!({"type": "record", "name": "Payment", "fields": [
        {"name": "id", "type": "string"}, {"name": "amount", "type": "double"},
        {"name": "currency", "type": {"type": "enum", "name": "Currency", "symbols": ["EUR", "USD"]}},
        {"name": "note", "type": ["null", "string"], "default": null}]})
    .to_string();
    let json_schema = json!({"type": "object", "required": ["id", "amount", "currency"],
        "additionalProperties": false, "properties": {"id": {"type": "string"},
        "amount": {"type": "number", "exclusiveMinimum": 0},
        "currency": {"enum": ["EUR", "USD"]}, "note": {"type": ["null", "string"]}}})
    .to_string();
    let rule = json!({"domainRules": [{"name": "valid-amount", "kind": "CONDITION", "type": "CEL",
        "mode": "WRITE", "expr": "message.amount > 0 && message.currency in ['EUR', 'USD']"}]});
    Schemas {
        avro,
        json_schema,
        rule,
    }
}

/// Payment `i`: ~70 bytes of JSON.
pub fn payment(i: usize) -> Vec<u8> {
    let currency = ["EUR", "USD"][i % 2];
    format!(
        r#"{{"id":"p-{i:08}","amount":{}.5,"currency":"{currency}","note":null}}"#,
        i % 1000 + 1
    )
    .into_bytes()
}
