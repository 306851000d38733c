//! Client bytes on an upgraded WebSocket: frames and messages.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tidegate::http::fuzz::websocket_frames(data));
