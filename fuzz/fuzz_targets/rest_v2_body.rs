//! A REST Proxy v2 produce body.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tidegate::http::fuzz::rest_v2_body(data));
