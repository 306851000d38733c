//! Confluent REST Proxy API v2, metadata and produce (API-COMPAT §1): `GET /topics`,
//! `GET /topics/{t}`, partitions and their offsets, `GET /brokers`, and `POST /topics/{t}`
//! (`/partitions/{p}`) with the embedded formats binary, json, avro and jsonschema. A thin
//! adapter: records take the broker's one produce path; Avro and JSON Schema values are
//! serialized by the registry into Confluent's wire format, schemas given as text are
//! registered under `<topic>-key|value` as Confluent's proxy does.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::CONTENT_TYPE;
use hyper::{Method, Request, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::broker::{
    ProduceRecord, SchemaId, SchemaKind, SchemaRequest, StorageError, TopicDescription,
};
use crate::event::{ATTR_KEY_JSON, ATTR_VALUE_JSON, Record};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::router::{HandlerResult, media_type, read_body, respond};
use crate::http::wire::compact;

const V2: &str = "application/vnd.kafka.v2+json";

/// The proxy's paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Topics,
    Topic,
    Partitions,
    Partition,
    PartitionOffsets,
    Brokers,
}

/// Path patterns, for the router's table.
pub const ROUTES: &[(&str, Route)] = &[
    ("/topics", Route::Topics),
    ("/topics/{topic}", Route::Topic),
    ("/topics/{topic}/partitions", Route::Partitions),
    ("/topics/{topic}/partitions/{partition}", Route::Partition),
    (
        "/topics/{topic}/partitions/{partition}/offsets",
        Route::PartitionOffsets,
    ),
    ("/brokers", Route::Brokers),
];

/// The embedded format a produce request's Content-Type selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Binary,
    Json,
    Avro,
    JsonSchema,
}

/// An error with Confluent's whole code (shared by the proxy's v2 and v3 modules).
pub(super) fn error(status: StatusCode, code: u32, message: impl Into<String>) -> ApiError {
    ApiError::with_code(status, code, message)
}

/// 200 with `value` as `application/vnd.kafka.v2+json`.
pub(super) fn reply<T: Serialize + ?Sized>(value: &T) -> HandlerResult {
    let body = serde_json::to_vec(value).map_err(|e| ApiError::internal(&e))?;
    Ok(respond(StatusCode::OK, V2, body))
}

/// Serves one proxy request; the first value names the route for metrics.
pub async fn dispatch(
    state: &AppState,
    route: Route,
    topic: &str,
    partition: &str,
    req: Request<Incoming>,
) -> (&'static str, HandlerResult) {
    let method = req.method().clone();
    match (route, &method) {
        (Route::Topics, &Method::GET) => ("v2_topics", topics(state)),
        (Route::Topic, &Method::GET) => {
            ("v2_topic", topic_view(state, topic).and_then(|t| reply(&t)))
        }
        (Route::Topic, &Method::POST) => ("v2_produce", produce(state, topic, None, req).await),
        (Route::Partitions, &Method::GET) => ("v2_partitions", partitions(state, topic)),
        (Route::Partition, &Method::GET) => {
            ("v2_partition", partition_view(state, topic, partition))
        }
        (Route::Partition, &Method::POST) => {
            let p = match parse_partition(partition) {
                Ok(p) => p,
                Err(e) => return ("v2_produce", Err(e)),
            };
            ("v2_produce", produce(state, topic, Some(p), req).await)
        }
        (Route::PartitionOffsets, &Method::GET) => ("v2_offsets", offsets(state, topic, partition)),
        (Route::Brokers, &Method::GET) => ("v2_brokers", reply(&json!({"brokers": [0]}))),
        _ => {
            let path = req.uri().path().to_owned();
            ("unknown", Err(ApiError::method_not_allowed(&method, &path)))
        }
    }
}

fn topic_not_found() -> ApiError {
    error(StatusCode::NOT_FOUND, 40401, "Topic not found.")
}

fn partition_not_found() -> ApiError {
    error(StatusCode::NOT_FOUND, 40402, "Partition not found.")
}

fn describe(state: &AppState, topic: &str) -> Result<TopicDescription, ApiError> {
    let described = state.broker.describe_topic(topic);
    match described {
        Ok(t) if !t.internal => Ok(t),
        Ok(_) => Err(topic_not_found()),
        Err(crate::broker::Error::Storage(StorageError::UnknownTopic { .. }))
        | Err(crate::broker::Error::InvalidTopicName(_)) => Err(topic_not_found()),
        Err(e) => Err(e.into()),
    }
}

fn partition_json(partition: u32) -> Value {
    // One node leads every partition: the proxy's shape, with this gateway as broker 0.
    json!({"partition": partition, "leader": 0,
           "replicas": [{"broker": 0, "leader": true, "in_sync": true}]})
}

fn topics(state: &AppState) -> HandlerResult {
    let names: Vec<String> = state
        .broker
        .list_topics()
        .into_iter()
        .filter(|t| !t.internal)
        .map(|t| t.name)
        .collect();
    reply(&json!(names))
}

fn topic_view(state: &AppState, topic: &str) -> Result<Value, ApiError> {
    let t = describe(state, topic)?;
    let mut configs = serde_json::Map::new();
    if let Ok(Value::Object(config)) = serde_json::to_value(&t.config) {
        for (k, v) in config {
            let text = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            configs.insert(k, Value::String(text));
        }
    }
    for (k, v) in t.schema_validation {
        configs.insert(k, Value::String(v));
    }
    let partitions: Vec<Value> = t
        .partitions
        .iter()
        .map(|p| partition_json(p.partition))
        .collect();
    Ok(json!({"name": t.name, "configs": configs, "partitions": partitions}))
}

fn partitions(state: &AppState, topic: &str) -> HandlerResult {
    let t = describe(state, topic)?;
    reply(&json!(
        t.partitions
            .iter()
            .map(|p| partition_json(p.partition))
            .collect::<Vec<_>>()
    ))
}

fn parse_partition(raw: &str) -> Result<u32, ApiError> {
    raw.parse::<u32>().map_err(|_| partition_not_found())
}

fn partition_view(state: &AppState, topic: &str, partition: &str) -> HandlerResult {
    let t = describe(state, topic)?;
    let p = parse_partition(partition)?;
    if !t.partitions.iter().any(|x| x.partition == p) {
        return Err(partition_not_found());
    }
    reply(&partition_json(p))
}

fn offsets(state: &AppState, topic: &str, partition: &str) -> HandlerResult {
    let t = describe(state, topic)?;
    let p = parse_partition(partition)?;
    let info = t
        .partitions
        .iter()
        .find(|x| x.partition == p)
        .ok_or_else(partition_not_found)?;
    reply(&json!({"beginning_offset": info.start_offset, "end_offset": info.end_offset}))
}

#[derive(Deserialize)]
struct ProduceBody<'a> {
    #[serde(default)]
    key_schema: Option<String>,
    #[serde(default)]
    key_schema_id: Option<u32>,
    #[serde(default)]
    value_schema: Option<String>,
    #[serde(default)]
    value_schema_id: Option<u32>,
    #[serde(default)]
    #[serde(borrow)]
    records: Vec<RecordBody<'a>>,
}

/// Keys and values stay raw JSON text: the json format stores them as sent (no parse into a
/// tree and back), the others parse them once for their schema.
#[derive(Deserialize)]
struct RecordBody<'a> {
    #[serde(borrow, default)]
    key: Option<&'a RawValue>,
    #[serde(borrow, default)]
    value: Option<&'a RawValue>,
    #[serde(default)]
    partition: Option<u32>,
}

fn format_of(req: &Request<Incoming>) -> Result<Format, ApiError> {
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(media_type)
        .unwrap_or_default();
    match content_type.as_str() {
        "application/vnd.kafka.binary.v2+json" => Ok(Format::Binary),
        "application/vnd.kafka.json.v2+json" => Ok(Format::Json),
        "application/vnd.kafka.avro.v2+json" => Ok(Format::Avro),
        "application/vnd.kafka.jsonschema.v2+json" => Ok(Format::JsonSchema),
        other => Err(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            415,
            format!(
                "HTTP 415 Unsupported Media Type: '{other}' (use application/vnd.kafka.{{binary,json,avro,jsonschema}}.v2+json)"
            ),
        )),
    }
}

/// The schema id a side's records are serialized with: given, or registered from text.
async fn schema_for(
    state: &AppState,
    subject: &str,
    kind: SchemaKind,
    text: Option<String>,
    id: Option<u32>,
) -> Result<Option<SchemaId>, ApiError> {
    let registry = state.broker.schemas();
    if let Some(id) = id {
        let id = SchemaId(id);
        let view = registry
            .schema(id)
            .map_err(|e| error(StatusCode::UNPROCESSABLE_ENTITY, 42205, e.to_string()))?;
        if view.kind != kind {
            return Err(error(
                StatusCode::UNPROCESSABLE_ENTITY,
                42205,
                format!(
                    "schema {id} is {}, not {}",
                    view.kind.as_str(),
                    kind.as_str()
                ),
            ));
        }
        return Ok(Some(id));
    }
    let Some(schema) = text else {
        return Ok(None);
    };
    let request = SchemaRequest {
        schema,
        kind,
        ..SchemaRequest::default()
    };
    let view = registry
        .register(subject, request)
        .await
        .map_err(|e| error(StatusCode::UNPROCESSABLE_ENTITY, 42205, e.to_string()))?;
    Ok(Some(view.id))
}

/// One key or value in the request's embedded format → stored bytes and whether they are
/// JSON text.
fn encode(
    state: &AppState,
    format: Format,
    body: &Bytes,
    raw: &RawValue,
    id: Option<SchemaId>,
    missing: u32,
) -> Result<(Bytes, bool), ApiError> {
    match format {
        // Stored as sent, like native produce: no parse into a tree and back.
        Format::Json => Ok((compact(body, raw), true)),
        Format::Binary => Ok((base64_data(raw)?, false)),
        Format::Avro | Format::JsonSchema => {
            let Some(id) = id else {
                let side = if missing == 42201 { "key" } else { "value" };
                return Err(error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    missing,
                    format!("Request includes {side}s but does not include {side} schema"),
                ));
            };
            let data: Value = serde_json::from_str(raw.get())
                .map_err(|e| error(StatusCode::BAD_REQUEST, 400, format!("invalid JSON: {e}")))?;
            let bytes = state.broker.schemas().serialize(id, &data).map_err(|e| {
                error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    42203,
                    format!("Conversion of JSON to Object failed: {e}"),
                )
            })?;
            Ok((Bytes::from(bytes), false))
        }
    }
}

/// The bytes of a `binary` key or value: a JSON string of base64.
fn base64_data(raw: &RawValue) -> Result<Bytes, ApiError> {
    let text: String = serde_json::from_str(raw.get()).map_err(|_| {
        error(
            StatusCode::BAD_REQUEST,
            400,
            format!("data={} is not a base64 string.", raw.get()),
        )
    })?;
    let bytes = BASE64.decode(text.as_bytes()).map_err(|_| {
        error(
            StatusCode::BAD_REQUEST,
            400,
            format!("data={text} is not a (valid) base64 string."),
        )
    })?;
    Ok(Bytes::from(bytes))
}

/// The parsers a v2 produce body meets before any schema is involved: the request, then each
/// key and value as the json and the binary formats read them.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn fuzz_body(data: &[u8]) {
    let body = Bytes::copy_from_slice(data);
    let Ok(request) = serde_json::from_slice::<ProduceBody<'_>>(&body) else {
        return;
    };
    for record in &request.records {
        for raw in [record.key, record.value].into_iter().flatten() {
            let _ = compact(&body, raw);
            let _ = base64_data(raw);
        }
    }
}

async fn produce(
    state: &AppState,
    topic: &str,
    path_partition: Option<u32>,
    req: Request<Incoming>,
) -> HandlerResult {
    let format = format_of(&req)?;
    let body = read_body(state, req).await?;
    let request: ProduceBody = serde_json::from_slice(&body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            400,
            format!("invalid JSON body: {e}"),
        )
    })?;
    if request.records.is_empty() {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            422,
            "records may not be empty",
        ));
    }
    describe(state, topic)?;
    let kind = match format {
        Format::JsonSchema => SchemaKind::Json,
        _ => SchemaKind::Avro,
    };
    let schemas = matches!(format, Format::Avro | Format::JsonSchema);
    let (key_id, value_id) = if schemas {
        let key = schema_for(
            state,
            &format!("{topic}-key"),
            kind,
            request.key_schema,
            request.key_schema_id,
        )
        .await?;
        let value = schema_for(
            state,
            &format!("{topic}-value"),
            kind,
            request.value_schema,
            request.value_schema_id,
        )
        .await?;
        (key, value)
    } else {
        (None, None)
    };
    let mut records = Vec::with_capacity(request.records.len());
    for r in request.records {
        let mut attributes = 0;
        let key = match r.key.filter(|k| k.get() != "null") {
            None => None,
            Some(k) => {
                let (bytes, json) = encode(state, format, &body, k, key_id, 42201)?;
                if json {
                    attributes |= ATTR_KEY_JSON;
                }
                Some(bytes)
            }
        };
        let value = match r.value.filter(|v| v.get() != "null") {
            None => None,
            Some(v) => {
                let (bytes, json) = encode(state, format, &body, v, value_id, 42202)?;
                if json {
                    attributes |= ATTR_VALUE_JSON;
                }
                Some(bytes)
            }
        };
        records.push(ProduceRecord {
            record: Record {
                key,
                value,
                attributes,
                ..Record::default()
            },
            partition: r.partition.or(path_partition),
        });
    }
    let offsets = match state.broker.produce(topic, records, None).await {
        Ok(offsets) => offsets,
        Err(crate::broker::Error::RecordPartition { .. }) => return Err(partition_not_found()),
        Err(crate::broker::Error::Storage(StorageError::UnknownTopic { .. })) => {
            return Err(topic_not_found());
        }
        Err(e) => return Err(e.into()),
    };
    reply(&Produced {
        offsets: offsets
            .iter()
            .map(|o| ProducedAt {
                partition: o.partition,
                offset: o.offset,
                error_code: None,
                error: None,
            })
            .collect(),
        key_schema_id: key_id.map(|i| i.0),
        value_schema_id: value_id.map(|i| i.0),
    })
}

/// A produce answer, written straight from the offsets: a JSON tree per record cost more
/// than the rest of the answer.
#[derive(Serialize)]
struct Produced {
    offsets: Vec<ProducedAt>,
    key_schema_id: Option<u32>,
    value_schema_id: Option<u32>,
}

/// Where one record landed, in Confluent's shape (the errors are always null: a refused
/// request answers an error as a whole).
#[derive(Serialize)]
struct ProducedAt {
    partition: u32,
    offset: u64,
    error_code: Option<u32>,
    error: Option<String>,
}
