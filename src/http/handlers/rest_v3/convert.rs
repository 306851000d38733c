//! One v3 record → a record for the broker, and the `key`/`value` summaries its result
//! carries (`type`, `size`, and for schema types `subject`, `schema_id`, `schema_version`).
//!
//! Schema types are serialized into Confluent's wire format by the registry: by `schema_id`,
//! by `schema_version` of the subject, by `schema` text (registered under the subject if new,
//! as Confluent's proxy does), else with the subject's latest version. The subject is the
//! record's `subject` or `<topic>-key|value` (TopicNameStrategy).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use hyper::StatusCode;
use serde_json::{Value, json};

use super::error;
use super::records::{V3Data, V3Record};
use crate::broker::{Broker, ProduceRecord, SchemaId, SchemaKind, SchemaRequest, SchemaVersion};
use crate::event::{ATTR_KEY_JSON, ATTR_VALUE_JSON, Header, Record};
use crate::http::error::ApiError;

/// A converted record and its key and value summaries.
pub(super) struct Converted {
    pub(super) record: ProduceRecord,
    pub(super) summary: [Option<Value>; 2],
}

fn bad(message: impl Into<String>) -> ApiError {
    error(StatusCode::BAD_REQUEST, 400, message)
}

/// Converts one record; the error is that record's failure result.
pub(super) async fn convert(
    broker: &Broker,
    topic: &str,
    r: V3Record,
) -> Result<Converted, ApiError> {
    let partition = match r.partition_id {
        None => None,
        Some(p) => Some(u32::try_from(p).map_err(|_| {
            error(
                StatusCode::NOT_FOUND,
                40402,
                format!("Partition {p} not found."),
            )
        })?),
    };
    let headers = r
        .headers
        .into_iter()
        .map(|h| {
            let value = match h.value {
                None => Bytes::new(),
                Some(text) => Bytes::from(
                    BASE64
                        .decode(text.as_bytes())
                        .map_err(|_| bad(format!("header '{}' is not base64", h.name)))?,
                ),
            };
            Ok(Header {
                name: h.name,
                value,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let timestamp = match r.timestamp {
        None => crate::broker::now_ms(),
        Some(text) => {
            let at = humantime::parse_rfc3339_weak(&text)
                .map_err(|e| bad(format!("timestamp '{text}' is not ISO-8601: {e}")))?;
            at.duration_since(std::time::UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
                .map_err(|_| bad(format!("timestamp '{text}' is before 1970")))?
        }
    };
    let mut attributes = 0;
    let (mut key, mut key_summary) = (None, None);
    if let Some(data) = r.key {
        let (bytes, summary, json) = encode(broker, topic, data, true).await?;
        if json {
            attributes |= ATTR_KEY_JSON;
        }
        (key, key_summary) = (bytes, Some(summary));
    }
    let (mut value, mut value_summary) = (None, None);
    if let Some(data) = r.value {
        let (bytes, summary, json) = encode(broker, topic, data, false).await?;
        if json {
            attributes |= ATTR_VALUE_JSON;
        }
        (value, value_summary) = (bytes, Some(summary));
    }
    Ok(Converted {
        record: ProduceRecord {
            record: Record {
                key,
                value,
                headers,
                timestamp,
                attributes,
            },
            partition,
        },
        summary: [key_summary, value_summary],
    })
}

/// One side's bytes (None for null data), summary, and whether the bytes are JSON text.
async fn encode(
    broker: &Broker,
    topic: &str,
    data: V3Data,
    is_key: bool,
) -> Result<(Option<Bytes>, Value, bool), ApiError> {
    let kind = data.kind.as_deref().map(str::to_ascii_uppercase);
    let schema_given =
        data.schema_id.is_some() || data.schema_version.is_some() || data.schema.is_some();
    let simple = match kind.as_deref() {
        Some("BINARY" | "JSON" | "STRING") => kind.clone(),
        Some("AVRO" | "JSONSCHEMA") => None,
        Some("PROTOBUF") => {
            return Err(bad("PROTOBUF is not supported yet; use AVRO or JSONSCHEMA"));
        }
        Some(other) => return Err(bad(format!("unknown data type '{other}'"))),
        // No type and no schema: plain JSON (Confluent would look for a latest schema).
        None if !schema_given && latest_subject(broker, topic, &data, is_key)?.is_none() => {
            Some("JSON".to_owned())
        }
        None => None,
    };
    if let Some(simple) = simple {
        if data.data.is_null() {
            return Ok((None, json!({"type": simple, "size": 0}), false));
        }
        let (bytes, json) = match simple.as_str() {
            "BINARY" => {
                let text = data
                    .data
                    .as_str()
                    .ok_or_else(|| bad("BINARY data must be a base64 string"))?;
                let bytes = BASE64
                    .decode(text.as_bytes())
                    .map_err(|_| bad(format!("data={text} is not a (valid) base64 string.")))?;
                (bytes, false)
            }
            "STRING" => {
                let text = data
                    .data
                    .as_str()
                    .ok_or_else(|| bad("STRING data must be a string"))?;
                (text.as_bytes().to_vec(), false)
            }
            _ => (
                serde_json::to_vec(&data.data).map_err(|e| bad(e.to_string()))?,
                true,
            ),
        };
        let size = bytes.len();
        return Ok((
            Some(Bytes::from(bytes)),
            json!({"type": simple, "size": size}),
            json,
        ));
    }
    let subject = subject_of(topic, &data, is_key)?;
    let wanted = match kind.as_deref() {
        Some("JSONSCHEMA") => Some(SchemaKind::Json),
        Some("AVRO") => Some(SchemaKind::Avro),
        _ => None,
    };
    let (id, version) = resolve(broker, &subject, &data, wanted).await?;
    let view = broker
        .schemas()
        .schema(id)
        .map_err(|e| error(StatusCode::BAD_REQUEST, 40403, e.to_string()))?;
    let type_name = match view.kind {
        SchemaKind::Json => "JSONSCHEMA",
        _ => "AVRO",
    };
    if data.data.is_null() {
        let summary = json!({"type": type_name, "size": 0, "subject": subject,
                             "schema_id": id.0, "schema_version": version});
        return Ok((None, summary, false));
    }
    let bytes = broker.schemas().serialize(id, &data.data).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            42207,
            format!("Error serializing message: {e}"),
        )
    })?;
    let summary = json!({"type": type_name, "size": bytes.len(), "subject": subject,
                         "schema_id": id.0, "schema_version": version});
    Ok((Some(Bytes::from(bytes)), summary, false))
}

fn subject_of(topic: &str, data: &V3Data, is_key: bool) -> Result<String, ApiError> {
    if let Some(subject) = &data.subject {
        return Ok(subject.clone());
    }
    match data
        .subject_name_strategy
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None | Some("TOPIC_NAME") => {
            Ok(format!("{topic}-{}", if is_key { "key" } else { "value" }))
        }
        Some(other) => Err(bad(format!(
            "subject_name_strategy {other} needs an explicit 'subject' here (only TOPIC_NAME derives one)"
        ))),
    }
}

fn latest_subject(
    broker: &Broker,
    topic: &str,
    data: &V3Data,
    is_key: bool,
) -> Result<Option<SchemaId>, ApiError> {
    let subject = subject_of(topic, data, is_key)?;
    Ok(broker.schemas().latest_id(&subject))
}

/// The schema id and its version in `subject`.
async fn resolve(
    broker: &Broker,
    subject: &str,
    data: &V3Data,
    wanted: Option<SchemaKind>,
) -> Result<(SchemaId, Option<u32>), ApiError> {
    let registry = broker.schemas();
    let not_found = |m: String| error(StatusCode::NOT_FOUND, 40403, m);
    let (id, version) = if let Some(id) = data.schema_id {
        let id = SchemaId(id);
        let version = registry
            .uses_of(id, false)
            .map_err(|e| not_found(e.to_string()))?
            .into_iter()
            .find(|(s, _)| s == subject)
            .map(|(_, v)| v);
        (id, version)
    } else if let Some(v) = data.schema_version {
        let spec = if v == -1 {
            SchemaVersion::Latest
        } else {
            SchemaVersion::Number(
                u32::try_from(v).map_err(|_| bad(format!("schema_version {v} is not valid")))?,
            )
        };
        let view = registry
            .version(subject, spec, false)
            .map_err(|e| not_found(e.to_string()))?;
        (view.id, Some(view.version))
    } else if let Some(text) = &data.schema {
        let kind = wanted.unwrap_or(SchemaKind::Avro);
        let request = SchemaRequest {
            schema: text.clone(),
            kind,
            ..SchemaRequest::default()
        };
        // Found if known, registered if new, as Confluent's proxy does.
        let view = registry
            .register(subject, request)
            .await
            .map_err(|e| error(StatusCode::BAD_REQUEST, 42205, e.to_string()))?;
        (view.id, Some(view.version))
    } else {
        let view = registry
            .version(subject, SchemaVersion::Latest, false)
            .map_err(|e| not_found(e.to_string()))?;
        (view.id, Some(view.version))
    };
    if let Some(kind) = wanted {
        let view = registry.schema(id).map_err(|e| not_found(e.to_string()))?;
        if view.kind != kind {
            return Err(bad(format!(
                "schema {} is {}, not {}",
                id.0,
                view.kind.as_str(),
                kind.as_str()
            )));
        }
    }
    Ok((id, version))
}
