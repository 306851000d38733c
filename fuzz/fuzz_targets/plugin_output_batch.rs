//! The output batch a raw plugin returns.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tidegate::plugin::fuzz::raw_output_batch(data));
