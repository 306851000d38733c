//! DER bytes as a verified client certificate, for each kind of principal name.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tidegate::http::fuzz::client_certificate(data));
