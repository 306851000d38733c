//! A produced payload against Avro and JSON schemas.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tidegate::schema::fuzz::avro_payload(data));
