//! A native produce body.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tidegate::http::fuzz::produce_body(data));
