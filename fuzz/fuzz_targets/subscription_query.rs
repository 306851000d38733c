//! A subscription's query string (filters included) and Last-Event-ID.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tidegate::http::fuzz::subscription_query(data));
