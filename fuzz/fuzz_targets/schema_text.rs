//! A schema text (Avro, JSON Schema) and a CEL rule set.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tidegate::schema::fuzz::schema_text(data));
