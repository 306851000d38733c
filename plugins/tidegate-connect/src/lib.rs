//! Guest-side helpers for connector plugins (`sink-connector` and `source-connector` worlds of
//! `tidegate:plugin@0.1.0`), shared by `http-sink`, `http-source`, `datagen`, `file-sink` and
//! `hostile-connector`:
//!
//! * [`http`]: a small blocking HTTP/1.1 client over `wasi:http` 0.2. The host lets requests
//!   through only to the connector's `tidegate.http.allow` list; anything else comes back as an
//!   `Err` naming `HttpRequestDenied`, never as a panic;
//! * [`config_get`]: config lookup;
//! * [`record_json`] with [`RecordView`]: the JSON shape in which the sinks write a record,
//!   the gateway's fetch shape (`topic, partition, offset, timestamp, key, value, headers`);
//! * [`now_ms`] and [`monotonic_ms`]: the host's clocks, in milliseconds.
//!
//! The generated WIT types live in each plugin crate (every crate runs its own
//! `wit_bindgen::generate!`), so this crate takes plain fields: a plugin fills a [`RecordView`]
//! from its `input-record` in a few lines.

pub mod http;

use serde_json::{Value, json};

/// The value of `key` in `config`, trimmed; `None` if the key is absent or its value is empty
/// or blank. When a key repeats, the last occurrence wins (a later setting overrides an earlier
/// one, as in a properties file).
#[must_use]
pub fn config_get<'a>(config: &'a [(String, String)], key: &str) -> Option<&'a str> {
    config
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// One record as the sinks see it: plain borrowed fields of a generated `input-record`.
#[derive(Debug, Clone, Default)]
pub struct RecordView<'a> {
    /// Offset in its partition.
    pub offset: u64,
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
    /// The key, if any.
    pub key: Option<&'a [u8]>,
    /// Whether the record's encoding flags say the key is JSON text (`key-json`).
    pub key_json: bool,
    /// The value; `None` is a tombstone.
    pub value: Option<&'a [u8]>,
    /// Whether the record's encoding flags say the value is JSON text (`value-json`).
    pub value_json: bool,
    /// Headers (name, value bytes), in order.
    pub headers: Vec<(&'a str, &'a [u8])>,
}

/// `record_view!(input_record)`: a [`RecordView`] of a sink's generated `input-record` (each
/// guest crate has its own generated types, so this is a macro, not a function). Needs the
/// generated `Encoding` flags type in scope.
#[macro_export]
macro_rules! record_view {
    ($r:expr) => {{
        let r = $r;
        let m = &r.message;
        $crate::RecordView {
            offset: r.offset,
            timestamp: m.timestamp,
            key: m.key.as_deref(),
            key_json: m.encoding.contains(Encoding::KEY_JSON),
            value: m.value.as_deref(),
            value_json: m.encoding.contains(Encoding::VALUE_JSON),
            headers: m
                .headers
                .iter()
                .map(|h| (h.name.as_str(), h.value.as_slice()))
                .collect(),
        }
    }};
}

/// A key or value as JSON: embedded as is when flagged as JSON and parseable, else a string of
/// the (lossy) UTF-8 text; `null` when absent.
fn payload(bytes: Option<&[u8]>, is_json: bool) -> Value {
    match bytes {
        None => Value::Null,
        Some(b) => {
            if is_json && let Ok(v) = serde_json::from_slice(b) {
                return v;
            }
            Value::String(String::from_utf8_lossy(b).into_owned())
        }
    }
}

/// Appends the record as compact JSON text to `out`, in the same shape as [`record_json`] but
/// without building a `Value`: JSON-flagged keys and values are copied verbatim (the gateway
/// guarantees a JSON flag only on valid JSON text; it clears dishonest flags when records are
/// appended), others are written as (lossy) UTF-8 strings. About twice as fast as
/// `record_json` + `serde_json::to_writer` for 1 KiB values.
pub fn write_record_json(out: &mut Vec<u8>, topic: &str, partition: u32, r: &RecordView<'_>) {
    out.extend_from_slice(b"{\"topic\":");
    write_str(out, topic);
    out.extend_from_slice(
        format!(
            ",\"partition\":{partition},\"offset\":{},\"timestamp\":{},\"key\":",
            r.offset, r.timestamp
        )
        .as_bytes(),
    );
    write_payload(out, r.key, r.key_json);
    out.extend_from_slice(b",\"value\":");
    write_payload(out, r.value, r.value_json);
    out.extend_from_slice(b",\"headers\":[");
    for (i, (name, value)) in r.headers.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"name\":");
        write_str(out, name);
        out.extend_from_slice(b",\"value\":");
        write_str(out, &String::from_utf8_lossy(value));
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
}

fn write_payload(out: &mut Vec<u8>, bytes: Option<&[u8]>, is_json: bool) {
    match bytes {
        None => out.extend_from_slice(b"null"),
        Some(b) if is_json && !b.is_empty() => out.extend_from_slice(b),
        Some(b) => write_str(out, &String::from_utf8_lossy(b)),
    }
}

fn write_str(out: &mut Vec<u8>, text: &str) {
    // Writing a `&str` into a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

/// The record as `{"topic", "partition", "offset", "timestamp", "key", "value",
/// "headers": [{"name", "value"}]}`.
///
/// `key` and `value` are embedded as JSON when their encoding flag says JSON and they parse,
/// otherwise as (lossy) UTF-8 strings, `null` when absent. Header values are (lossy) UTF-8
/// strings. Object keys come out sorted (`serde_json` without `preserve_order`).
#[must_use]
pub fn record_json(topic: &str, partition: u32, r: &RecordView<'_>) -> Value {
    let headers: Vec<Value> = r
        .headers
        .iter()
        .map(|(name, value)| json!({"name": name, "value": String::from_utf8_lossy(value)}))
        .collect();
    json!({
        "topic": topic,
        "partition": partition,
        "offset": r.offset,
        "timestamp": r.timestamp,
        "key": payload(r.key, r.key_json),
        "value": payload(r.value, r.value_json),
        "headers": headers,
    })
}

/// Milliseconds since the Unix epoch, from the host's wall clock (1 ms resolution; it may jump).
#[must_use]
pub fn now_ms() -> i64 {
    let now = wasip2::clocks::wall_clock::now();
    i64::try_from(now.seconds)
        .unwrap_or(i64::MAX / 1000)
        .saturating_mul(1000)
        .saturating_add(i64::from(now.nanoseconds / 1_000_000))
}

/// Milliseconds on the host's monotonic clock: for rates and intervals (never goes back).
#[must_use]
pub fn monotonic_ms() -> u64 {
    wasip2::clocks::monotonic_clock::now() / 1_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_get_takes_the_last_non_blank_value() {
        let config = vec![
            ("url".to_owned(), "http://a".to_owned()),
            ("url".to_owned(), " http://b ".to_owned()),
            ("blank".to_owned(), "  ".to_owned()),
        ];
        assert_eq!(config_get(&config, "url"), Some("http://b"));
        assert_eq!(config_get(&config, "blank"), None);
        assert_eq!(config_get(&config, "missing"), None);
    }

    #[test]
    fn record_json_embeds_json_payloads_only_when_flagged_and_valid() {
        let r = RecordView {
            offset: 7,
            timestamp: 1_700_000_000_000,
            key: Some(b"\"k\""),
            key_json: false,
            value: Some(br#"{"a":1}"#),
            value_json: true,
            headers: vec![("h", b"v\xff")],
        };
        let v = record_json("t", 2, &r);
        assert_eq!(v["key"], json!("\"k\""));
        assert_eq!(v["value"], json!({"a": 1}));
        assert_eq!(v["headers"], json!([{"name": "h", "value": "v\u{fffd}"}]));
        assert_eq!(
            (v["topic"].as_str(), v["partition"].as_u64()),
            (Some("t"), Some(2))
        );
        let broken = RecordView {
            value: Some(b"{not json"),
            value_json: true,
            ..RecordView::default()
        };
        assert_eq!(record_json("t", 0, &broken)["value"], json!("{not json"));
        assert_eq!(
            record_json("t", 0, &RecordView::default())["value"],
            Value::Null
        );
    }
}

#[cfg(test)]
mod write_tests {
    use super::*;

    #[test]
    fn written_json_matches_the_value_form() {
        let r = RecordView {
            offset: 7,
            timestamp: 1,
            key: Some(b"k\"1"),
            key_json: false,
            value: Some(br#"{"a":[1,2]}"#),
            value_json: true,
            headers: vec![("h", b"v")],
        };
        let mut out = Vec::new();
        write_record_json(&mut out, "t", 2, &r);
        let parsed: Value = serde_json::from_slice(&out).expect("valid JSON");
        assert_eq!(parsed, record_json("t", 2, &r));
    }
}
