//! Confluent REST Proxy API v2 consumer instances (API-COMPAT §1.5): create and delete,
//! subscription, assignments, positions, records and offsets under
//! `/consumers/{group}/instances/{instance}`. A thin adapter over the broker's consumer
//! instances: it parses Confluent's bodies, checks that a records request's `Accept` matches
//! the instance's embedded format, and renders records in that format (binary as base64,
//! json as JSON, avro decoded from Confluent's wire format, jsonschema unframed).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{ACCEPT, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;

use super::rest_v2::{error, reply};
use crate::broker::{InstanceConfig, InstanceRecord, Interest, OffsetReset, Seek, TopicPartition};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::handlers::records::{DEFAULT_FETCH_BYTES, MAX_FETCH_BYTES, reserve_fetch_budget};
use crate::http::router::{HandlerResult, media_type, no_content, query, read_body, respond};

const V2: &str = "application/vnd.kafka.v2+json";

/// The consumer paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Group,
    Instance,
    Subscription,
    Assignments,
    Positions,
    PositionsBeginning,
    PositionsEnd,
    Records,
    Offsets,
}

/// Path patterns, for the router's table.
pub const ROUTES: &[(&str, Route)] = &[
    ("/consumers/{group}", Route::Group),
    ("/consumers/{group}/instances/{instance}", Route::Instance),
    (
        "/consumers/{group}/instances/{instance}/subscription",
        Route::Subscription,
    ),
    (
        "/consumers/{group}/instances/{instance}/assignments",
        Route::Assignments,
    ),
    (
        "/consumers/{group}/instances/{instance}/positions",
        Route::Positions,
    ),
    (
        "/consumers/{group}/instances/{instance}/positions/beginning",
        Route::PositionsBeginning,
    ),
    (
        "/consumers/{group}/instances/{instance}/positions/end",
        Route::PositionsEnd,
    ),
    (
        "/consumers/{group}/instances/{instance}/records",
        Route::Records,
    ),
    (
        "/consumers/{group}/instances/{instance}/offsets",
        Route::Offsets,
    ),
];

/// An instance's embedded format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Binary,
    Json,
    Avro,
    JsonSchema,
}

impl Format {
    fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "binary" => Some(Self::Binary),
            "json" => Some(Self::Json),
            "avro" => Some(Self::Avro),
            "jsonschema" => Some(Self::JsonSchema),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Binary => "binary",
            Self::Json => "json",
            Self::Avro => "avro",
            Self::JsonSchema => "jsonschema",
        }
    }

    fn media_type(self) -> &'static str {
        match self {
            Self::Binary => "application/vnd.kafka.binary.v2+json",
            Self::Json => "application/vnd.kafka.json.v2+json",
            Self::Avro => "application/vnd.kafka.avro.v2+json",
            Self::JsonSchema => "application/vnd.kafka.jsonschema.v2+json",
        }
    }
}

/// Serves one consumer request; the first value names the route for metrics.
pub async fn dispatch(
    state: &AppState,
    route: Route,
    group: &str,
    instance: &str,
    req: Request<Incoming>,
) -> (&'static str, HandlerResult) {
    let method = req.method().clone();
    let (g, i) = (group, instance);
    match (route, &method) {
        (Route::Group, &Method::POST) => ("v2_create_consumer", create(state, g, req).await),
        (Route::Instance, &Method::DELETE) => (
            "v2_delete_consumer",
            state
                .broker
                .delete_instance(g, i)
                .await
                .map(|()| no_content())
                .map_err(Into::into),
        ),
        (Route::Subscription, &Method::POST) => ("v2_subscribe", subscribe(state, g, i, req).await),
        (Route::Subscription, &Method::GET) => (
            "v2_subscription",
            match state.broker.instance_subscription(g, i).await {
                Ok(topics) => reply(&json!({"topics": topics})),
                Err(e) => Err(e.into()),
            },
        ),
        (Route::Subscription, &Method::DELETE) => (
            "v2_unsubscribe",
            set_interest(state, g, i, Interest::None).await,
        ),
        (Route::Assignments, &Method::POST) => ("v2_assign", assign(state, g, i, req).await),
        (Route::Assignments, &Method::GET) => (
            "v2_assignments",
            match state.broker.instance_assignment(g, i).await {
                Ok(tps) => reply(&json!({"partitions": tps})),
                Err(e) => Err(e.into()),
            },
        ),
        (Route::Positions, &Method::POST) => ("v2_seek", seek(state, g, i, req).await),
        (Route::PositionsBeginning, &Method::POST) => (
            "v2_seek_beginning",
            seek_to(state, g, i, req, Seek::Beginning).await,
        ),
        (Route::PositionsEnd, &Method::POST) => {
            ("v2_seek_end", seek_to(state, g, i, req, Seek::End).await)
        }
        (Route::Records, &Method::GET) => ("v2_records", records(state, g, i, &req).await),
        (Route::Offsets, &Method::POST) => ("v2_commit", commit(state, g, i, req).await),
        (Route::Offsets, &Method::GET) => ("v2_committed", committed(state, g, i, req).await),
        _ => {
            let path = req.uri().path().to_owned();
            ("unknown", Err(ApiError::method_not_allowed(&method, &path)))
        }
    }
}

/// The body of a consumer request: any of the v2 media types (or plain JSON) is accepted,
/// since Confluent's clients send the embedded type they consume; an empty body is `None`.
async fn body_of<T: for<'de> Deserialize<'de>>(
    state: &AppState,
    req: Request<Incoming>,
) -> Result<Option<T>, ApiError> {
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(media_type)
        .unwrap_or_default();
    let known = content_type.is_empty()
        || content_type == "application/json"
        || content_type == "application/vnd.kafka+json"
        || (content_type.starts_with("application/vnd.kafka.") && content_type.ends_with("+json"));
    if !known {
        return Err(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            415,
            format!(
                "HTTP 415 Unsupported Media Type: '{content_type}' (use application/vnd.kafka.v2+json)"
            ),
        ));
    }
    let body = read_body(state, req).await?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(&body).map(Some).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            400,
            format!("invalid JSON body: {e}"),
        )
    })
}

/// A number or a numeric string (Confluent's clients send both).
#[derive(Deserialize)]
#[serde(untagged)]
enum Loose {
    Number(i64),
    Text(String),
    Flag(bool),
}

impl Loose {
    fn int(&self, key: &str) -> Result<i64, ApiError> {
        match self {
            Self::Number(n) => Ok(*n),
            Self::Text(t) => t.trim().parse().map_err(|_| invalid_config(key, t)),
            Self::Flag(b) => Err(invalid_config(key, &b.to_string())),
        }
    }

    fn flag(&self, key: &str) -> Result<bool, ApiError> {
        match self {
            Self::Flag(b) => Ok(*b),
            Self::Text(t) if t.eq_ignore_ascii_case("true") => Ok(true),
            Self::Text(t) if t.eq_ignore_ascii_case("false") => Ok(false),
            Self::Text(t) => Err(invalid_config(key, t)),
            Self::Number(n) => Err(invalid_config(key, &n.to_string())),
        }
    }
}

fn invalid_config(key: &str, value: &str) -> ApiError {
    error(
        StatusCode::UNPROCESSABLE_ENTITY,
        42204,
        format!("Invalid consumer configuration: {key}={value} is not valid"),
    )
}

#[derive(Deserialize, Default)]
struct CreateBody {
    name: Option<String>,
    id: Option<String>,
    format: Option<String>,
    #[serde(rename = "auto.offset.reset")]
    auto_offset_reset: Option<String>,
    #[serde(rename = "auto.commit.enable")]
    auto_commit_enable: Option<Loose>,
    #[serde(rename = "fetch.min.bytes", alias = "responseMinBytes")]
    fetch_min_bytes: Option<Loose>,
    #[serde(rename = "consumer.request.timeout.ms", alias = "requestWaitMs")]
    request_timeout_ms: Option<Loose>,
}

async fn create(state: &AppState, group: &str, req: Request<Incoming>) -> HandlerResult {
    let host = req
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned);
    let body: CreateBody = body_of(state, req).await?.unwrap_or_default();
    let format = match body.format.as_deref() {
        None => Format::Binary,
        Some(name) => Format::parse(name).ok_or_else(|| {
            error(
                StatusCode::UNPROCESSABLE_ENTITY,
                422,
                "Invalid format type.",
            )
        })?,
    };
    let offset_reset = match body
        .auto_offset_reset
        .as_deref()
        .map(str::to_ascii_lowercase)
    {
        None => OffsetReset::Latest,
        Some(r) if r == "earliest" || r == "smallest" => OffsetReset::Earliest,
        Some(r) if r == "latest" || r == "largest" => OffsetReset::Latest,
        Some(r) => return Err(invalid_config("auto.offset.reset", &r)),
    };
    let auto_commit = match &body.auto_commit_enable {
        None => true,
        Some(v) => v.flag("auto.commit.enable")?,
    };
    let fetch_min_bytes = match &body.fetch_min_bytes {
        None => -1,
        Some(v) => v.int("fetch.min.bytes")?,
    };
    if !(-1..=i64::from(u32::MAX)).contains(&fetch_min_bytes) {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            40001,
            format!("fetch.min.bytes must be between -1 and {}", u32::MAX),
        ));
    }
    let request_wait_ms = match &body.request_timeout_ms {
        None => None,
        Some(v) => {
            let ms = v.int("consumer.request.timeout.ms")?;
            Some(
                u64::try_from(ms)
                    .map_err(|_| invalid_config("consumer.request.timeout.ms", &ms.to_string()))?,
            )
        }
    };
    let config = InstanceConfig {
        format: format.name().to_owned(),
        offset_reset,
        auto_commit,
        fetch_min_bytes,
        request_wait_ms,
    };
    let name = body.id.or(body.name);
    let instance = state
        .broker
        .create_instance(group, name.as_deref(), config)
        .await?;
    let host = host.unwrap_or_else(|| "localhost".to_owned());
    let base = format!(
        "http://{host}/consumers/{}/instances/{}",
        encode_segment(&instance.group),
        encode_segment(&instance.name)
    );
    reply(&json!({"instance_id": instance.name, "base_uri": base}))
}

fn encode_segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC)
        .to_string()
        .replace("%2D", "-")
        .replace("%5F", "_")
        .replace("%2E", ".")
}

async fn set_interest(state: &AppState, g: &str, i: &str, interest: Interest) -> HandlerResult {
    state.broker.set_instance_interest(g, i, interest).await?;
    Ok(no_content())
}

#[derive(Deserialize)]
struct SubscribeBody {
    #[serde(default)]
    topics: Option<Vec<String>>,
    #[serde(default)]
    topic_pattern: Option<String>,
}

async fn subscribe(state: &AppState, g: &str, i: &str, req: Request<Incoming>) -> HandlerResult {
    let body: Option<SubscribeBody> = body_of(state, req).await?;
    let interest = match body {
        Some(SubscribeBody {
            topics: Some(topics),
            topic_pattern: None,
        }) => Interest::Topics { topics },
        Some(SubscribeBody {
            topics: None,
            topic_pattern: Some(pattern),
        }) => Interest::Pattern { pattern },
        _ => {
            return Err(error(
                StatusCode::UNPROCESSABLE_ENTITY,
                422,
                "A subscription names either 'topics' or 'topic_pattern'.",
            ));
        }
    };
    set_interest(state, g, i, interest).await
}

#[derive(Deserialize)]
struct PartitionsBody {
    partitions: Vec<TopicPartition>,
}

async fn assign(state: &AppState, g: &str, i: &str, req: Request<Incoming>) -> HandlerResult {
    let body: Option<PartitionsBody> = body_of(state, req).await?;
    let partitions = body.map(|b| b.partitions).unwrap_or_default();
    let interest = if partitions.is_empty() {
        Interest::None
    } else {
        Interest::Partitions { partitions }
    };
    set_interest(state, g, i, interest).await
}

#[derive(Deserialize)]
struct OffsetEntry {
    topic: String,
    partition: u32,
    offset: u64,
}

#[derive(Deserialize)]
struct TimestampEntry {
    topic: String,
    partition: u32,
    timestamp: String,
}

#[derive(Deserialize)]
struct PositionsBody {
    #[serde(default)]
    offsets: Vec<OffsetEntry>,
    #[serde(default)]
    timestamps: Vec<TimestampEntry>,
}

async fn seek(state: &AppState, g: &str, i: &str, req: Request<Incoming>) -> HandlerResult {
    let body: PositionsBody = body_of(state, req).await?.ok_or_else(|| {
        error(
            StatusCode::UNPROCESSABLE_ENTITY,
            422,
            "offsets or timestamps are required",
        )
    })?;
    let mut seeks = Vec::new();
    for o in body.offsets {
        let tp = TopicPartition {
            topic: o.topic,
            partition: o.partition,
        };
        seeks.push((tp, Seek::To(o.offset)));
    }
    for t in body.timestamps {
        let at = humantime::parse_rfc3339_weak(&t.timestamp).map_err(|e| {
            error(
                StatusCode::UNPROCESSABLE_ENTITY,
                422,
                format!("timestamp '{}' is not ISO-8601: {e}", t.timestamp),
            )
        })?;
        let ms = at
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let tp = TopicPartition {
            topic: t.topic,
            partition: t.partition,
        };
        seeks.push((tp, Seek::Time(ms)));
    }
    state.broker.seek_instance(g, i, &seeks).await?;
    Ok(no_content())
}

async fn seek_to(
    state: &AppState,
    g: &str,
    i: &str,
    req: Request<Incoming>,
    to: Seek,
) -> HandlerResult {
    let body: Option<PartitionsBody> = body_of(state, req).await?;
    let seeks: Vec<(TopicPartition, Seek)> = body
        .map(|b| b.partitions)
        .unwrap_or_default()
        .into_iter()
        .map(|tp| (tp, to))
        .collect();
    state.broker.seek_instance(g, i, &seeks).await?;
    Ok(no_content())
}

#[derive(Deserialize)]
struct CommitBody {
    #[serde(default)]
    offsets: Option<Vec<OffsetEntry>>,
}

async fn commit(state: &AppState, g: &str, i: &str, req: Request<Incoming>) -> HandlerResult {
    let body: Option<CommitBody> = body_of(state, req).await?;
    // The client names the last offset it consumed; the group stores the next one to read.
    let offsets = body.and_then(|b| b.offsets).map(|list| {
        list.into_iter()
            .map(|o| {
                let tp = TopicPartition {
                    topic: o.topic,
                    partition: o.partition,
                };
                (tp, o.offset.saturating_add(1))
            })
            .collect()
    });
    state.broker.commit_instance(g, i, offsets).await?;
    reply(&json!([]))
}

async fn committed(state: &AppState, g: &str, i: &str, req: Request<Incoming>) -> HandlerResult {
    let body: PartitionsBody = body_of(state, req).await?.ok_or_else(|| {
        error(
            StatusCode::NOT_FOUND,
            40402,
            "Partition not found. (GET …/offsets needs a body naming {\"partitions\": [...]})",
        )
    })?;
    let found = state
        .broker
        .instance_committed(g, i, &body.partitions)
        .await?;
    let offsets: Vec<Value> = found
        .into_iter()
        .map(|(tp, offset)| {
            json!({"topic": tp.topic, "partition": tp.partition, "offset": offset, "metadata": ""})
        })
        .collect();
    reply(&json!({"offsets": offsets}))
}

/// Whether `Accept` lets a client read `format`: its own embedded type, the plain v2 type for
/// binary (Confluent's weights route it there), or no preference.
fn accepts(req: &Request<Incoming>, format: Format) -> bool {
    let Some(accept) = req.headers().get(ACCEPT).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    accept.split(',').map(media_type).any(|t| {
        t == format.media_type()
            || t == "*/*"
            || t == "application/*"
            || (format == Format::Binary
                && (t == V2 || t == "application/vnd.kafka+json" || t == "application/json"))
    })
}

async fn records(state: &AppState, g: &str, i: &str, req: &Request<Incoming>) -> HandlerResult {
    let instance = state.broker.instance(g, i).await?;
    let format = Format::parse(&instance.config.format).unwrap_or(Format::Binary);
    if !accepts(req, format) {
        return Err(error(
            StatusCode::NOT_ACCEPTABLE,
            40601,
            format!(
                "The requested embedded data format does not match the deserializer for this \
                 consumer instance (it reads {}; ask for {})",
                format.name(),
                format.media_type()
            ),
        ));
    }
    let mut timeout = None;
    let mut max_bytes = DEFAULT_FETCH_BYTES;
    for (name, value) in query(req) {
        let bad = || {
            error(
                StatusCode::BAD_REQUEST,
                400,
                format!("{name}={value} is not an integer"),
            )
        };
        match name.as_str() {
            "timeout" => {
                let ms: i64 = value.parse().map_err(|_| bad())?;
                timeout = u64::try_from(ms)
                    .ok()
                    .filter(|ms| *ms > 0)
                    .map(Duration::from_millis);
            }
            "max_bytes" => {
                let n: i64 = value.parse().map_err(|_| bad())?;
                if n > 0 {
                    max_bytes = usize::try_from(n)
                        .unwrap_or(MAX_FETCH_BYTES)
                        .min(MAX_FETCH_BYTES);
                }
            }
            _ => {}
        }
    }
    let wait = timeout.unwrap_or(crate::broker::DEFAULT_INSTANCE_WAIT);
    state.limits.check_fetch(&state.principal)?;
    let budget = reserve_fetch_budget(state, max_bytes, wait).await?;
    let got = state
        .broker
        .instance_records(g, i, max_bytes, timeout)
        .await?;
    let bytes = got.iter().map(|r| r.record.record.payload_len()).sum();
    state.limits.charge_fetch(&state.principal, bytes);
    let rendered = render(state, format, &got);
    let body = match rendered {
        Ok(body) => body,
        Err((at, problem)) => {
            // Nothing of this answer reaches the client: move back to its first records, so
            // the records are read again (the client may seek past the bad one).
            rewind(state, g, i, &got).await;
            let r = &got[at];
            return Err(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                50002,
                format!(
                    "Error deserializing {}-{} at offset {} as {}: {problem}",
                    r.topic,
                    r.partition,
                    r.record.offset,
                    format.name()
                ),
            ));
        }
    };
    drop(budget);
    Ok(respond(StatusCode::OK, format.media_type(), body))
}

/// The records as Confluent's JSON array; on a record that is not in the instance's format,
/// its index and why.
fn render(
    state: &AppState,
    format: Format,
    got: &[InstanceRecord],
) -> Result<Vec<u8>, (usize, String)> {
    let mut out = Vec::with_capacity(got.len());
    for (index, r) in got.iter().enumerate() {
        let side = |bytes: &Option<Bytes>| -> Result<Value, String> {
            let Some(bytes) = bytes else {
                return Ok(Value::Null);
            };
            match format {
                Format::Binary => Ok(Value::String(BASE64.encode(bytes))),
                Format::Json => serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}")),
                Format::Avro => {
                    let json = state.broker.schemas().decode_avro(bytes).ok_or_else(|| {
                        "not an Avro value in Confluent's wire format with a registered schema"
                            .to_owned()
                    })?;
                    serde_json::from_slice(&json).map_err(|e| e.to_string())
                }
                Format::JsonSchema => {
                    let payload = state.broker.schemas().json_payload(bytes).ok_or_else(|| {
                        "not a JSON Schema value in Confluent's wire format with a registered schema".to_owned()
                    })?;
                    serde_json::from_slice(payload).map_err(|e| format!("not JSON: {e}"))
                }
            }
        };
        let key = side(&r.record.record.key).map_err(|e| (index, format!("key: {e}")))?;
        let value = side(&r.record.record.value).map_err(|e| (index, format!("value: {e}")))?;
        out.push(json!({
            "topic": r.topic,
            "key": key,
            "value": value,
            "partition": r.partition,
            "offset": r.record.offset,
        }));
    }
    serde_json::to_vec(&out).map_err(|e| (0, e.to_string()))
}

/// Seeks every partition of `got` back to its first record there.
async fn rewind(state: &AppState, g: &str, i: &str, got: &[InstanceRecord]) {
    let mut first = std::collections::BTreeMap::new();
    for r in got {
        first
            .entry(TopicPartition {
                topic: r.topic.clone(),
                partition: r.partition,
            })
            .or_insert(r.record.offset);
    }
    let seeks: Vec<(TopicPartition, Seek)> = first
        .into_iter()
        .map(|(tp, at)| (tp, Seek::To(at)))
        .collect();
    if let Err(e) = state.broker.seek_instance(g, i, &seeks).await {
        tracing::warn!(group = g, instance = i, error = %e, "Rewinding after a bad record failed.");
    }
}
