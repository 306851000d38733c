//! A whole segment file recovered on open and read to its end.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tidegate::log::fuzz::segment_file(data));
