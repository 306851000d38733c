//! Entry points for the fuzz targets (`fuzz/`) and the never-panic proptests: request bytes
//! as a client could send them, fed to the parsers that meet them before the broker does.
//!
//! Owns only the choice of entry; it must not parse anything itself, so what is fuzzed is
//! exactly the code that runs in the gateway. Built for tests and with the `fuzzing` feature.

use bytes::Bytes;
use hyper::HeaderMap;
use hyper::header::HeaderValue;

use super::{cloudevents, handlers, wire};

/// A native produce body (`POST /v1/topics/{t}/records`), through both of its decoders: the
/// one-pass reader that runs first and the serde_json decoder it falls back to.
pub fn produce_body(data: &[u8]) {
    let _ = wire::read_produce(&Bytes::copy_from_slice(data), 1_000, None);
    let _ = wire::decode_produce(data, 1_000);
}

/// A CloudEvents produce body in each of the three modes.
pub fn cloudevents(data: &[u8]) {
    let body = Bytes::copy_from_slice(data);
    let mut headers = HeaderMap::new();
    headers.insert("ce-specversion", HeaderValue::from_static("1.0"));
    headers.insert("ce-id", HeaderValue::from_static("1"));
    headers.insert("ce-source", HeaderValue::from_static("/fuzz"));
    headers.insert("ce-type", HeaderValue::from_static("t"));
    for mode in [
        cloudevents::Mode::Structured,
        cloudevents::Mode::Batch,
        cloudevents::Mode::Binary,
    ] {
        let _ = cloudevents::records(mode, &headers, &body);
    }
}

/// A REST Proxy v2 produce body, its keys and values in the json and binary formats.
pub fn rest_v2_body(data: &[u8]) {
    handlers::rest_v2::fuzz_body(data);
}

/// A REST Proxy v3 streamed produce body, arriving in chunks.
pub fn rest_v3_stream(data: &[u8]) {
    handlers::rest_v3::fuzz_stream(data);
}

/// Bytes on an upgraded WebSocket: frames, then each text message.
pub fn websocket_frames(data: &[u8]) {
    handlers::websocket::fuzz_frames(data);
}

/// A subscription's query string (WebSocket and SSE), filter expressions included, and the
/// same bytes as a `Last-Event-ID`.
pub fn subscription_query(data: &[u8]) {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(data).into_owned().collect();
    let _ = handlers::stream_params::parse_spec(&pairs, None);
    let _ = handlers::websocket::parse_options(&pairs);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = handlers::stream_params::parse_spec(&[], Some(text));
    }
}

/// DER bytes as a verified client certificate, for each kind of principal name.
pub fn client_certificate(data: &[u8]) {
    use super::client_cert::{CertPrincipal, principal};
    for which in [
        CertPrincipal::CommonName,
        CertPrincipal::Dns,
        CertPrincipal::Email,
        CertPrincipal::Uri,
    ] {
        let _ = principal(data, which);
    }
}

#[cfg(test)]
mod tests {
    use proptest::{arbitrary::any, collection::vec};

    proptest::proptest! {
        /// Frames and messages of any bytes close or answer, never a panic.
        #[test]
        fn arbitrary_websocket_bytes_never_panic(bytes in vec(any::<u8>(), 0..1024)) {
            super::websocket_frames(&bytes);
        }

        /// Well-formed frames whose text is anything: the message parsers see it all.
        #[test]
        fn arbitrary_websocket_messages_never_panic(text in "\\PC{0,200}") {
            super::websocket_frames(&client_text_frame(&text));
        }

        /// Any native produce body is decoded or refused with an error, never a panic.
        #[test]
        fn arbitrary_produce_bodies_never_panic(bytes in vec(any::<u8>(), 0..2048)) {
            super::produce_body(&bytes);
        }

        /// Structured, batch and binary CloudEvents bodies of any bytes never panic.
        #[test]
        fn arbitrary_events_never_panic(bytes in vec(any::<u8>(), 0..2048)) {
            super::cloudevents(&bytes);
        }

        /// Streamed v3 bodies of any bytes, in any chunking, never panic.
        #[test]
        fn arbitrary_v3_streams_never_panic(bytes in vec(any::<u8>(), 0..2048)) {
            super::rest_v3_stream(&bytes);
        }

        /// Certificate bytes of any content name a principal or none, never a panic.
        #[test]
        fn arbitrary_certificates_never_panic(bytes in vec(any::<u8>(), 0..512)) {
            super::client_certificate(&bytes);
        }

        /// Any v2 produce body is decoded or refused without a panic.
        #[test]
        fn arbitrary_rest_v2_bodies_never_panic(bytes in vec(any::<u8>(), 0..1024)) {
            super::rest_v2_body(&bytes);
        }

        /// Any query string or Last-Event-ID is parsed or refused without a panic.
        #[test]
        fn arbitrary_subscription_queries_never_panic(text in "[a-z_=&%0-9:,.()<>!=/\"' ]{0,200}") {
            super::subscription_query(text.as_bytes());
        }
    }

    /// A masked client text frame carrying `text`.
    fn client_text_frame(text: &str) -> Vec<u8> {
        let mask = [1u8, 2, 3, 4];
        let payload = text.as_bytes();
        let mut frame = vec![0x81];
        match payload.len() {
            n @ 0..=125 => frame.push(0x80 | u8::try_from(n).unwrap_or(125)),
            n => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&u16::try_from(n).unwrap_or(u16::MAX).to_be_bytes());
            }
        }
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        frame
    }

    /// The framing really reaches the message parsers: a subscribe with a filter that does not
    /// parse is refused by the same parser the fuzz target feeds.
    #[test]
    fn frames_reach_the_subscription_parser() {
        use tokio_tungstenite::tungstenite::{Message, WebSocket, protocol::Role};
        let text = r#"{"subscribe": {"id": 1, "topic": "t", "filter": "/a =="}}"#;
        let frame = client_text_frame(text);
        let mut socket =
            WebSocket::from_raw_socket(std::io::Cursor::new(frame), Role::Server, None);
        assert_eq!(socket.read().unwrap(), Message::text(text));
        let pairs = vec![("filter".to_owned(), "/a ==".to_owned())];
        assert!(crate::http::handlers::stream_params::parse_spec(&pairs, None).is_err());
    }
}
