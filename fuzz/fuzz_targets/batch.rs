//! One stored batch: header, CRC and records.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tidegate::log::fuzz::batch(data));
