//! A streamed REST Proxy v3 produce body.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tidegate::http::fuzz::rest_v3_stream(data));
