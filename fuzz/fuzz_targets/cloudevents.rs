//! A CloudEvents produce body, in structured, batch and binary mode.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tidegate::http::fuzz::cloudevents(data));
