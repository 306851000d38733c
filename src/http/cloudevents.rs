//! CloudEvents 1.0 on the native produce endpoint: structured mode
//! (`application/cloudevents+json`), batches (`application/cloudevents-batch+json`) and binary
//! mode (`ce-*` headers, the body is the data). Events become records as the Kafka protocol
//! binding maps them: every attribute a `ce_<name>` header, `datacontenttype` the
//! `content-type` header, the key the `partitionkey` extension (else `subject`), the value
//! the data. Only the mapping lives here; the records then take the one produce path.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use hyper::HeaderMap;
use serde_json::{Map, Value};

use crate::broker::ProduceRecord;
use crate::event::{ATTR_KEY_JSON, ATTR_VALUE_JSON, Header, Record};
use crate::http::router::media_type;

/// How a produce request carries events, read from its headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One event as a JSON object.
    Structured,
    /// A JSON array of events.
    Batch,
    /// Attributes in `ce-*` headers, the body is the data.
    Binary,
}

/// The request's CloudEvents mode; `None` for a native `{"records": …}` body.
#[must_use]
pub fn mode(headers: &HeaderMap) -> Option<Mode> {
    let content_type = media_type(
        headers
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(""),
    );
    match content_type.as_str() {
        "application/cloudevents+json" => Some(Mode::Structured),
        "application/cloudevents-batch+json" => Some(Mode::Batch),
        _ if headers.contains_key("ce-specversion") => Some(Mode::Binary),
        _ => None,
    }
}

/// The records of a CloudEvents request, or why it is not valid (answered 400).
///
/// # Errors
/// Not JSON, not an event, a missing or wrong required attribute, bad `data_base64`.
pub fn records(
    mode: Mode,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Vec<ProduceRecord>, String> {
    match mode {
        Mode::Structured => {
            let event: Map<String, Value> = serde_json::from_slice(body)
                .map_err(|e| format!("a structured CloudEvent must be a JSON object: {e}"))?;
            Ok(vec![from_structured(event, 0)?])
        }
        Mode::Batch => {
            let events: Vec<Map<String, Value>> = serde_json::from_slice(body)
                .map_err(|e| format!("a CloudEvents batch must be a JSON array of objects: {e}"))?;
            events
                .into_iter()
                .enumerate()
                .map(|(i, e)| from_structured(e, i))
                .collect()
        }
        Mode::Binary => Ok(vec![from_binary(headers, body)?]),
    }
}

fn attribute_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn is_json_type(content_type: Option<&str>) -> bool {
    content_type.is_none_or(|t| {
        let essence = media_type(t);
        essence == "application/json" || essence == "text/json" || essence.ends_with("+json")
    })
}

fn check_required(get: impl Fn(&str) -> Option<String>, index: usize) -> Result<(), String> {
    match get("specversion").as_deref() {
        Some("1.0") => {}
        Some(other) => {
            return Err(format!(
                "event {index}: specversion {other} is not supported (1.0 is)"
            ));
        }
        None => return Err(format!("event {index}: specversion is required")),
    }
    for name in ["id", "source", "type"] {
        if get(name).is_none_or(|v| v.is_empty()) {
            return Err(format!("event {index}: attribute '{name}' is required"));
        }
    }
    Ok(())
}

fn timestamp(time: Option<&str>, index: usize) -> Result<i64, String> {
    let Some(time) = time else {
        return Ok(0);
    };
    let at = humantime::parse_rfc3339_weak(time)
        .map_err(|e| format!("event {index}: time '{time}' is not RFC 3339: {e}"))?;
    let ms = at
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| format!("event {index}: time '{time}' is before 1970"))?
        .as_millis();
    Ok(i64::try_from(ms).unwrap_or(i64::MAX))
}

fn record(
    attributes: Vec<(String, String)>,
    value: Option<(Bytes, bool)>,
    index: usize,
) -> Result<ProduceRecord, String> {
    let get = |name: &str| {
        attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let key = get("partitionkey")
        .or_else(|| get("subject"))
        .map(|k| Bytes::from(k.to_owned()));
    let timestamp = timestamp(get("time"), index)?;
    let content_type = get("datacontenttype").map(str::to_owned);
    let mut headers: Vec<Header> = attributes
        .iter()
        .filter(|(name, _)| name != "datacontenttype")
        .map(|(name, value)| Header {
            name: format!("ce_{name}"),
            value: Bytes::from(value.clone()),
        })
        .collect();
    if let Some(ct) = content_type {
        headers.push(Header {
            name: "content-type".into(),
            value: Bytes::from(ct),
        });
    }
    let mut attributes_bits = 0;
    let key_is_json = key
        .as_ref()
        .is_some_and(|k| serde_json::from_slice::<serde::de::IgnoredAny>(k).is_ok());
    if key_is_json {
        attributes_bits |= ATTR_KEY_JSON;
    }
    let value = value.map(|(bytes, json)| {
        if json {
            attributes_bits |= ATTR_VALUE_JSON;
        }
        bytes
    });
    Ok(ProduceRecord {
        record: Record {
            key,
            value,
            headers,
            timestamp,
            attributes: attributes_bits,
        },
        partition: None,
    })
}

fn from_structured(mut event: Map<String, Value>, index: usize) -> Result<ProduceRecord, String> {
    let data = event.remove("data");
    let data_base64 = event.remove("data_base64");
    check_required(|n| event.get(n).map(attribute_text), index)?;
    let content_type = event.get("datacontenttype").map(attribute_text);
    let value = match (data, data_base64) {
        (Some(_), Some(_)) => {
            return Err(format!("event {index}: give data or data_base64, not both"));
        }
        (Some(Value::String(s)), None) if !is_json_type(content_type.as_deref()) => {
            Some((Bytes::from(s), false))
        }
        (Some(data), None) => Some((Bytes::from(data.to_string()), true)),
        (None, Some(Value::String(b64))) => Some((
            Bytes::from(
                BASE64
                    .decode(b64.as_bytes())
                    .map_err(|e| format!("event {index}: data_base64: {e}"))?,
            ),
            false,
        )),
        (None, Some(_)) => return Err(format!("event {index}: data_base64 must be a string")),
        (None, None) => None,
    };
    let attributes = event
        .iter()
        .map(|(k, v)| (k.clone(), attribute_text(v)))
        .collect();
    record(attributes, value, index)
}

fn from_binary(headers: &HeaderMap, body: &Bytes) -> Result<ProduceRecord, String> {
    let mut attributes = Vec::new();
    for (name, value) in headers {
        let Some(attr) = name.as_str().strip_prefix("ce-") else {
            continue;
        };
        let value = value
            .to_str()
            .map_err(|_| format!("header {name} is not visible ASCII"))?;
        // Binary-mode header values are percent-encoded (CloudEvents HTTP binding §3.1.3.2).
        let decoded = percent_encoding::percent_decode_str(value)
            .decode_utf8_lossy()
            .into_owned();
        attributes.push((attr.to_owned(), decoded));
    }
    if let Some(ct) = headers
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        attributes.push(("datacontenttype".into(), ct.to_owned()));
    }
    check_required(
        |n| {
            attributes
                .iter()
                .find(|(a, _)| a == n)
                .map(|(_, v)| v.clone())
        },
        0,
    )?;
    let content_type = attributes
        .iter()
        .find(|(a, _)| a == "datacontenttype")
        .map(|(_, v)| v.clone());
    let value = if body.is_empty() {
        None
    } else if is_json_type(content_type.as_deref()) {
        serde_json::from_slice::<serde::de::IgnoredAny>(body)
            .map_err(|e| format!("the body is declared JSON but is not: {e}"))?;
        Some((body.clone(), true))
    } else {
        Some((body.clone(), false))
    };
    record(attributes, value, 0)
}
