//! JSON wire formats of the native API: request DTOs and the hand-written fetch encoder.
//!
//! Produce keeps JSON keys/values as the compact text the client sent, sliced out of the
//! request body without a copy where it is already compact. Fetch writes its answer directly
//! into a byte buffer, embedding stored JSON text verbatim, because that path moves the most
//! bytes.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::{BufMut, Bytes, BytesMut};
use serde::Deserialize;
use serde::de::{MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::broker::ProduceRecord;

mod one_pass;

use crate::event::{ATTR_KEY_JSON, ATTR_VALUE_JSON, Header, Record, StoredRecord};
pub use one_pass::read_produce;

/// Most headers one produced record may carry.
pub const MAX_HEADERS_PER_RECORD: usize = 64;
/// Most header bytes (names + values) one produced record may carry.
pub const MAX_HEADER_BYTES: usize = 64 << 10;

/// `POST /v1/topics/{t}/records` body.
pub struct ProduceBody<'a> {
    /// The records, in order.
    pub records: Vec<ProduceEntry<'a>>,
}

/// Why a produce body was refused while decoding.
#[derive(Debug)]
pub enum ProduceDecodeError {
    /// More records than the limit: decoding stopped at the first one over it.
    TooManyRecords {
        /// The limit.
        limit: usize,
    },
    /// Not the JSON shape the endpoint takes.
    Json(serde_json::Error),
}

/// Decodes a produce body, counting records as they are decoded and stopping at the first one
/// over `limit`: a body of many tiny records costs memory in proportion to the limit, never to
/// the record count (600,000 `{"value":1}` records in 7 MB would otherwise take ~500 MB).
///
/// # Errors
/// [`ProduceDecodeError`].
pub fn decode_produce(body: &[u8], limit: usize) -> Result<ProduceBody<'_>, ProduceDecodeError> {
    let over = std::cell::Cell::new(false);
    let mut de = serde_json::Deserializer::from_slice(body);
    let seed = BodySeed { limit, over: &over };
    let decoded = serde::de::DeserializeSeed::deserialize(seed, &mut de).and_then(|b| {
        de.end()?;
        Ok(b)
    });
    match decoded {
        Ok(body) => Ok(body),
        Err(_) if over.get() => Err(ProduceDecodeError::TooManyRecords { limit }),
        Err(e) => Err(ProduceDecodeError::Json(e)),
    }
}

struct BodySeed<'c> {
    limit: usize,
    over: &'c std::cell::Cell<bool>,
}

impl<'de> serde::de::DeserializeSeed<'de> for BodySeed<'_> {
    type Value = ProduceBody<'de>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for BodySeed<'_> {
    type Value = ProduceBody<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(r#"an object {"records": [...]}"#)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut records = None;
        // Owned when escaped (`"rec\u006frds"`), as JSON allows and the one-pass reader takes.
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key != "records" {
                return Err(serde::de::Error::unknown_field(&key, &["records"]));
            }
            if records.is_some() {
                return Err(serde::de::Error::duplicate_field("records"));
            }
            records = Some(map.next_value_seed(RecordsSeed {
                limit: self.limit,
                over: self.over,
            })?);
        }
        let records = records.ok_or_else(|| serde::de::Error::missing_field("records"))?;
        Ok(ProduceBody { records })
    }
}

struct RecordsSeed<'c> {
    limit: usize,
    over: &'c std::cell::Cell<bool>,
}

impl<'de> serde::de::DeserializeSeed<'de> for RecordsSeed<'_> {
    type Value = Vec<ProduceEntry<'de>>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for RecordsSeed<'_> {
    type Value = Vec<ProduceEntry<'de>>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of records")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut records = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(self.limit));
        while let Some(entry) = seq.next_element::<ProduceEntry<'de>>()? {
            if records.len() == self.limit {
                self.over.set(true);
                return Err(serde::de::Error::custom("too many records"));
            }
            records.push(entry);
        }
        Ok(records)
    }
}

/// One record of a produce body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProduceEntry<'a> {
    #[serde(borrow, default)]
    key: Option<&'a RawValue>,
    #[serde(borrow, default)]
    value: Option<&'a RawValue>,
    #[serde(default)]
    key_base64: Option<String>,
    #[serde(default)]
    value_base64: Option<String>,
    #[serde(default)]
    headers: Headers,
    #[serde(default)]
    partition: Option<u32>,
    #[serde(default)]
    timestamp: Option<i64>,
}

/// Header map that keeps the order the client wrote.
#[derive(Default)]
struct Headers(Vec<Header>);

impl<'de> Deserialize<'de> for Headers {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Headers;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of string header values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Headers, A::Error> {
                let mut out = Vec::new();
                while let Some((name, value)) = map.next_entry::<String, String>()? {
                    out.push(Header {
                        name,
                        value: Bytes::from(value),
                    });
                }
                Ok(Headers(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl ProduceEntry<'_> {
    /// Converts to a broker record, slicing JSON text out of `body` (the buffer it was parsed
    /// from). `index` names the record in error messages.
    pub fn into_record(self, body: &Bytes, index: usize) -> Result<ProduceRecord, String> {
        let json = |raw: Option<&RawValue>| {
            raw.filter(|raw| raw.get() != "null")
                .map(|raw| (compact(body, raw), true))
        };
        EntryParts {
            key: json(self.key),
            value: json(self.value),
            key_base64: self.key_base64,
            value_base64: self.value_base64,
            headers: self.headers.0,
            partition: self.partition,
            timestamp: self.timestamp,
        }
        .into_record(index)
    }
}

/// One record of a produce body as decoded, whichever decoder read it.
#[derive(Default)]
struct EntryParts {
    /// The key's bytes, and whether they are JSON text; `None` for an absent or null key.
    key: Option<(Bytes, bool)>,
    /// The value's, likewise.
    value: Option<(Bytes, bool)>,
    key_base64: Option<String>,
    value_base64: Option<String>,
    headers: Vec<Header>,
    partition: Option<u32>,
    timestamp: Option<i64>,
}

impl EntryParts {
    fn into_record(self, index: usize) -> Result<ProduceRecord, String> {
        let mut attributes = 0;
        let mut payload = |bytes: Option<(Bytes, bool)>,
                           b64: Option<String>,
                           field: &str,
                           flag: u8|
         -> Result<Option<Bytes>, String> {
            match (bytes, b64) {
                (Some(_), Some(_)) => Err(format!(
                    "record {index}: give {field} or {field}_base64, not both"
                )),
                (Some((bytes, is_json)), None) => {
                    if is_json {
                        attributes |= flag;
                    }
                    Ok(Some(bytes))
                }
                (None, Some(b64)) => {
                    decode_base64(&b64, index, &format!("{field}_base64")).map(Some)
                }
                (None, None) => Ok(None),
            }
        };
        let key = payload(self.key, self.key_base64, "key", ATTR_KEY_JSON)?;
        let value = payload(self.value, self.value_base64, "value", ATTR_VALUE_JSON)?;
        let header_bytes: usize = self
            .headers
            .iter()
            .map(|h| h.name.len() + h.value.len())
            .sum();
        if self.headers.len() > MAX_HEADERS_PER_RECORD || header_bytes > MAX_HEADER_BYTES {
            return Err(format!(
                "record {index}: at most {MAX_HEADERS_PER_RECORD} headers of {MAX_HEADER_BYTES} \
                 bytes in all (names + values), got {} of {header_bytes} bytes",
                self.headers.len()
            ));
        }
        let record = Record {
            key,
            value,
            headers: self.headers,
            timestamp: self.timestamp.unwrap_or(0),
            attributes,
        };
        Ok(ProduceRecord {
            record,
            partition: self.partition,
        })
    }
}

fn decode_base64(text: &str, index: usize, field: &str) -> Result<Bytes, String> {
    BASE64
        .decode(text)
        .map(Bytes::from)
        .map_err(|e| format!("record {index}: {field} is not valid base64: {e}"))
}

/// The compact JSON text of `raw`: a zero-copy slice of `body` when it has no insignificant
/// whitespace, else a minified copy.
pub fn compact(body: &Bytes, raw: &RawValue) -> Bytes {
    let text = raw.get();
    compact_text(body, text, !is_compact(text.as_bytes()))
}

/// Whether JSON text holds no insignificant whitespace.
fn is_compact(text: &[u8]) -> bool {
    let mut in_string = false;
    let mut escaped = false;
    let mut needs_copy = false;
    for &b in text {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else if b == b'"' {
            in_string = true;
        } else if b.is_ascii_whitespace() {
            needs_copy = true;
            break;
        }
    }
    !needs_copy
}

/// `text` (a JSON value inside `body`) as stored: a zero-copy slice when it is compact, else a
/// minified copy.
fn compact_text(body: &Bytes, text: &str, spaced: bool) -> Bytes {
    if !spaced {
        return body.slice_ref(text.as_bytes());
    }
    // Re-serializing through serde_json yields the canonical compact form.
    serde_json::from_str::<serde_json::Value>(text)
        .and_then(|v| serde_json::to_vec(&v))
        .map_or_else(|_| Bytes::copy_from_slice(text.as_bytes()), Bytes::from)
}

/// `POST /v1/topics` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTopic {
    /// Topic name.
    pub name: String,
    /// Partition count (default 1).
    #[serde(default = "one")]
    pub partitions: i64,
    /// Kafka-style config; numbers or strings.
    #[serde(default)]
    pub config: BTreeMap<String, ConfigValue>,
}

fn one() -> i64 {
    1
}

/// A config value given as a JSON string, number or boolean.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum ConfigValue {
    /// `"compact"`, `"3600000"`.
    Text(String),
    /// `3600000`.
    Number(serde_json::Number),
    /// `true`.
    Bool(bool),
}

/// Turns a JSON config map into the broker's `key = value` strings.
pub fn config_strings(config: BTreeMap<String, ConfigValue>) -> BTreeMap<String, String> {
    config
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                ConfigValue::Text(s) => s,
                ConfigValue::Number(n) => n.to_string(),
                ConfigValue::Bool(b) => b.to_string(),
            };
            (k, v)
        })
        .collect()
}

/// `PATCH /v1/topics/{t}` body: `{"config": {…}}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlterTopic {
    /// Keys to change.
    pub config: BTreeMap<String, ConfigValue>,
}

/// `POST /v1/groups/{g}/offsets` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitBody {
    /// Offsets to commit.
    pub offsets: Vec<crate::broker::GroupOffsetCommit>,
}

/// Encodes a fetch answer: `{"records": [...], "next_offset": N}`.
pub fn encode_records(topic: &str, partition: u32, records: &[StoredRecord], next: u64) -> Bytes {
    let estimate: usize = records.iter().map(|r| r.record.payload_len() + 128).sum();
    let mut buf = BytesMut::with_capacity(estimate + 64);
    buf.put_slice(b"{\"records\":[");
    let topic_json = serde_json::to_string(topic).unwrap_or_default();
    for (i, stored) in records.iter().enumerate() {
        if i > 0 {
            buf.put_u8(b',');
        }
        encode_record(&mut buf, &topic_json, partition, stored);
    }
    buf.put_slice(b"],\"next_offset\":");
    buf.put_slice(itoa::Buffer::new().format(next).as_bytes());
    buf.put_u8(b'}');
    buf.freeze()
}

/// Appends one record object; shared by fetch and the streaming front ends.
pub fn encode_record(buf: &mut BytesMut, topic_json: &str, partition: u32, stored: &StoredRecord) {
    encode_tagged_record(buf, None, topic_json, partition, stored);
}

/// One record object on its own (what a live subscription shares between subscribers).
pub fn record_bytes(topic_json: &str, partition: u32, stored: &StoredRecord) -> Bytes {
    let mut buf = BytesMut::with_capacity(stored.record.payload_len() + 128);
    encode_record(&mut buf, topic_json, partition, stored);
    buf.freeze()
}

/// Appends `record` (an encoded record object) with `"subscription": tag` as its first field:
/// the same bytes [`encode_tagged_record`] makes, without encoding the record again.
pub fn put_tagged(buf: &mut BytesMut, tag: &str, record: &[u8]) {
    buf.put_slice(b"{\"subscription\":");
    buf.put_slice(tag.as_bytes());
    buf.put_u8(b',');
    buf.put_slice(record.get(1..).unwrap_or_default());
}

/// [`encode_record`] with `"subscription": tag` (a JSON value) as the first field.
pub fn encode_tagged_record(
    buf: &mut BytesMut,
    tag: Option<&str>,
    topic_json: &str,
    partition: u32,
    stored: &StoredRecord,
) {
    let r = &stored.record;
    let mut ints = itoa::Buffer::new();
    if let Some(tag) = tag {
        buf.put_slice(b"{\"subscription\":");
        buf.put_slice(tag.as_bytes());
        buf.put_slice(b",\"topic\":");
    } else {
        buf.put_slice(b"{\"topic\":");
    }
    buf.put_slice(topic_json.as_bytes());
    buf.put_slice(b",\"partition\":");
    buf.put_slice(ints.format(partition).as_bytes());
    buf.put_slice(b",\"offset\":");
    buf.put_slice(ints.format(stored.offset).as_bytes());
    buf.put_slice(b",\"timestamp\":");
    buf.put_slice(ints.format(r.timestamp).as_bytes());
    put_payload(
        buf,
        "key",
        r.key.as_ref(),
        r.attributes & ATTR_KEY_JSON != 0,
    );
    put_payload(
        buf,
        "value",
        r.value.as_ref(),
        r.attributes & ATTR_VALUE_JSON != 0,
    );
    // Header values that are not UTF-8 go to `headers_base64`, never lossily into `headers`.
    let mut binary = Vec::new();
    buf.put_slice(b",\"headers\":{");
    let mut first = true;
    for h in &r.headers {
        let Ok(text) = std::str::from_utf8(&h.value) else {
            binary.push(h);
            continue;
        };
        if !std::mem::take(&mut first) {
            buf.put_u8(b',');
        }
        put_json_string(buf, &h.name);
        buf.put_u8(b':');
        put_json_string(buf, text);
    }
    buf.put_u8(b'}');
    if !binary.is_empty() {
        buf.put_slice(b",\"headers_base64\":{");
        for (i, h) in binary.iter().enumerate() {
            if i > 0 {
                buf.put_u8(b',');
            }
            put_json_string(buf, &h.name);
            buf.put_u8(b':');
            put_json_string(buf, &BASE64.encode(&h.value));
        }
        buf.put_u8(b'}');
    }
    buf.put_u8(b'}');
}

fn put_payload(buf: &mut BytesMut, field: &str, bytes: Option<&Bytes>, is_json: bool) {
    buf.put_slice(b",\"");
    buf.put_slice(field.as_bytes());
    match bytes {
        None => buf.put_slice(b"\":null"),
        Some(b) if is_json => {
            buf.put_slice(b"\":");
            buf.put_slice(b);
        }
        Some(b) => {
            buf.put_slice(b"_base64\":\"");
            buf.put_slice(BASE64.encode(b).as_bytes());
            buf.put_u8(b'"');
        }
    }
}

fn put_json_string(buf: &mut BytesMut, s: &str) {
    buf.put_slice(serde_json::to_string(s).unwrap_or_default().as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Vec<ProduceRecord> {
        let bytes = Bytes::copy_from_slice(body.as_bytes());
        let parsed = decode_produce(&bytes, 100).unwrap();
        parsed
            .records
            .into_iter()
            .enumerate()
            .map(|(i, e)| e.into_record(&bytes, i).unwrap())
            .collect()
    }

    #[test]
    fn non_utf8_header_values_come_back_base64() {
        let stored = StoredRecord {
            offset: 0,
            record: Record {
                headers: vec![
                    Header {
                        name: "text".into(),
                        value: Bytes::from_static(b"ok"),
                    },
                    Header {
                        name: "bin".into(),
                        value: Bytes::from_static(&[0xff, 0x00, 0xfe]),
                    },
                ],
                ..Record::default()
            },
        };
        let body = encode_records("t", 0, &[stored], 1);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let r = &v["records"][0];
        assert_eq!(r["headers"], serde_json::json!({"text": "ok"}));
        assert_eq!(r["headers_base64"], serde_json::json!({"bin": "/wD+"}));
    }

    #[test]
    fn headers_per_record_are_limited() {
        let many: Vec<String> = (0..=MAX_HEADERS_PER_RECORD)
            .map(|i| format!(r#""h{i}":"v""#))
            .collect();
        let body = format!(
            r#"{{"records":[{{"value":1,"headers":{{{}}}}}]}}"#,
            many.join(",")
        );
        let bytes = Bytes::from(body);
        let entry = decode_produce(&bytes, 10).unwrap().records.remove(0);
        let err = entry.into_record(&bytes, 0).err().unwrap();
        assert!(err.contains("at most 64 headers"), "{err}");
        let big = format!(
            r#"{{"records":[{{"value":1,"headers":{{"h":"{}"}}}}]}}"#,
            "x".repeat(MAX_HEADER_BYTES)
        );
        let bytes = Bytes::from(big);
        let entry = decode_produce(&bytes, 10).unwrap().records.remove(0);
        assert!(entry.into_record(&bytes, 0).is_err());
    }

    #[test]
    fn record_count_is_limited_while_decoding() {
        let body = format!(r#"{{"records":[{}]}}"#, [r#"{"value":1}"#; 11].join(","));
        assert!(matches!(
            decode_produce(body.as_bytes(), 10),
            Err(ProduceDecodeError::TooManyRecords { limit: 10 })
        ));
        assert_eq!(
            decode_produce(body.as_bytes(), 11).unwrap().records.len(),
            11
        );
        let wrong = [
            r#"{"records":[],"x":1}"#,
            r#"{}"#,
            r#"{"records":[]} x"#,
            "[]",
        ];
        for body in wrong {
            let err = decode_produce(body.as_bytes(), 10).err();
            assert!(matches!(err, Some(ProduceDecodeError::Json(_))), "{body}");
        }
    }

    #[test]
    fn json_values_are_stored_compact() {
        let recs = parse(r#"{"records":[{"key":"k","value":{ "a" : [1, 2], "s": "x y" }}]}"#);
        assert_eq!(
            recs[0].record.value.as_deref(),
            Some(&br#"{"a":[1,2],"s":"x y"}"#[..])
        );
        assert_eq!(recs[0].record.key.as_deref(), Some(&br#""k""#[..]));
        assert_eq!(recs[0].record.attributes, ATTR_KEY_JSON | ATTR_VALUE_JSON);
    }

    #[test]
    fn base64_and_null_and_headers() {
        let recs = parse(
            r#"{"records":[{"key":null,"value_base64":"AAEC","headers":{"b":"2","a":"1"}}]}"#,
        );
        let r = &recs[0].record;
        assert_eq!(r.key, None);
        assert_eq!(r.value.as_deref(), Some(&[0u8, 1, 2][..]));
        assert_eq!(r.attributes, 0);
        let names: Vec<_> = r.headers.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["b", "a"]);
    }

    #[test]
    fn fetch_encoding_is_valid_json() {
        let stored = StoredRecord {
            offset: 7,
            record: Record {
                key: Some(Bytes::from_static(b"\xff\x00")),
                value: Some(Bytes::from_static(br#"{"x":"\"q\""}"#)),
                headers: vec![Header {
                    name: "h\"".into(),
                    value: Bytes::from_static(b"v"),
                }],
                timestamp: 42,
                attributes: ATTR_VALUE_JSON,
            },
        };
        let out = encode_records("t", 3, &[stored], 8);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["records"][0]["value"]["x"], "\"q\"");
        assert_eq!(v["records"][0]["key_base64"], "/wA=");
        assert_eq!(v["records"][0]["headers"]["h\""], "v");
        assert_eq!(v["next_offset"], 8);
    }
}
