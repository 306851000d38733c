//! REST Proxy v3 produce (API-COMPAT §2.1, §2.2): `POST …/topics/{t}/records`, one or many
//! concatenated JSON objects — streamed: results go out, one `\r\n`-terminated object per
//! record in order, while the client is still sending — and `POST …/records:batch` (207).
//!
//! Owns turning a v3 record (`key`/`value` with `type` BINARY, JSON, STRING, AVRO, JSONSCHEMA
//! or a schema by id, version, text or the subject's latest) into a record for the broker, and
//! the per-record results. Each group of records that arrived together is one
//! `produce_partial` call, so one bad record fails alone and later ones go on.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::CONTENT_TYPE;
use hyper::{Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::convert::convert;
use super::{CLUSTER_ID, error};
use crate::broker::{Broker, Prechecked, ProduceRecord, RecordStatus, StorageError};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::limits::PrincipalLimits;
use crate::http::router::{Body, HandlerResult, read_body, respond};

/// Most records produced together from one stream read.
const MAX_GROUP: usize = 1_000;
/// Longest a stream may stay open (Confluent's `streaming.connection.max.duration.ms`).
const MAX_STREAM: Duration = Duration::from_secs(24 * 3600);
/// Most entries of one `records:batch` request (Confluent's default).
const MAX_BATCH: usize = 10;

/// One record as v3 sends it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct V3Record {
    #[serde(default)]
    pub(super) partition_id: Option<i64>,
    #[serde(default)]
    pub(super) headers: Vec<V3Header>,
    #[serde(default)]
    pub(super) key: Option<V3Data>,
    #[serde(default)]
    pub(super) value: Option<V3Data>,
    #[serde(default)]
    pub(super) timestamp: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct V3Header {
    pub(super) name: String,
    #[serde(default)]
    pub(super) value: Option<String>,
}

/// A key or value.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct V3Data {
    #[serde(default, rename = "type")]
    pub(super) kind: Option<String>,
    #[serde(default)]
    pub(super) subject: Option<String>,
    #[serde(default)]
    pub(super) subject_name_strategy: Option<String>,
    #[serde(default)]
    pub(super) schema_id: Option<u32>,
    #[serde(default)]
    pub(super) schema_version: Option<i64>,
    #[serde(default)]
    pub(super) schema: Option<String>,
    #[serde(default)]
    pub(super) data: Value,
}

fn check_content_type(req: &Request<Incoming>) -> Result<(), ApiError> {
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(crate::http::router::media_type)
        .unwrap_or_default();
    if content_type.is_empty() || content_type == "application/json" {
        return Ok(());
    }
    Err(error(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        415,
        format!("HTTP 415 Unsupported Media Type: '{content_type}' (use application/json)"),
    ))
}

/// Converts and produces `records` (already parsed, or the parse error of each), returning one
/// result object per record, in order.
async fn produce_group(
    broker: &Broker,
    topic: &str,
    records: Vec<Result<V3Record, ApiError>>,
) -> Vec<Value> {
    let mut results: Vec<Option<Value>> = vec![None; records.len()];
    let mut batch = Vec::new();
    let mut placed = Vec::new();
    for (index, record) in records.into_iter().enumerate() {
        let converted = match record {
            Ok(r) => convert(broker, topic, r).await,
            Err(e) => Err(e),
        };
        match converted {
            Ok(converted) => {
                placed.push((index, converted.summary));
                batch.push(converted.record);
            }
            Err(e) => results[index] = Some(failure(&e)),
        }
    }
    if !batch.is_empty() {
        let timestamps: Vec<i64> = batch
            .iter()
            .map(|r: &ProduceRecord| r.record.timestamp)
            .collect();
        match broker
            .produce_partial(topic, batch, &Prechecked::none())
            .await
        {
            Ok(statuses) => {
                for (((index, summary), status), ts) in
                    placed.into_iter().zip(statuses).zip(timestamps)
                {
                    results[index] = Some(match status {
                        RecordStatus::Appended(at) => {
                            success(topic, at.partition, at.offset, ts, summary)
                        }
                        RecordStatus::Refused { message, .. } => {
                            json!({"error_code": 42206, "message": message})
                        }
                    });
                }
            }
            Err(e) => {
                let e = v3_error(e);
                for (index, _) in placed {
                    results[index] = Some(failure(&e));
                }
            }
        }
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| json!({"error_code": 500, "message": "no result"})))
        .collect()
}

/// A broker error as v3 reports it (unknown topic or partition: 404/40403).
pub(super) fn v3_error(e: crate::broker::Error) -> ApiError {
    match e {
        crate::broker::Error::Storage(StorageError::UnknownTopic { .. })
        | crate::broker::Error::InvalidTopicName(_) => error(
            StatusCode::NOT_FOUND,
            40403,
            "This server does not host this topic-partition.",
        ),
        crate::broker::Error::RecordPartition { .. }
        | crate::broker::Error::Storage(StorageError::UnknownPartition { .. }) => error(
            StatusCode::NOT_FOUND,
            40403,
            "This server does not host this topic-partition.",
        ),
        other => other.into(),
    }
}

fn failure(e: &ApiError) -> Value {
    json!({"error_code": e.error_code, "message": e.message})
}

fn success(
    topic: &str,
    partition: u32,
    offset: u64,
    ts: i64,
    summary: [Option<Value>; 2],
) -> Value {
    let time = std::time::UNIX_EPOCH + Duration::from_millis(u64::try_from(ts).unwrap_or(0));
    let mut out = json!({
        "error_code": 200,
        "cluster_id": CLUSTER_ID,
        "topic_name": topic,
        "partition_id": partition,
        "offset": offset,
        "timestamp": humantime::format_rfc3339_millis(time).to_string(),
    });
    let [key, value] = summary;
    if let Some(key) = key {
        out["key"] = key;
    }
    if let Some(value) = value {
        out["value"] = value;
    }
    out
}

/// `POST …/records`: answers 200 at once and streams one result per record as they arrive.
pub(super) async fn produce(
    state: &AppState,
    topic: &str,
    req: Request<Incoming>,
) -> HandlerResult {
    check_content_type(&req)?;
    // The topic is checked before the stream starts, so a typo is one plain 404.
    super::describe(state, topic)?;
    let stream = RecordStream {
        limits: Arc::clone(&state.limits),
        principal: Arc::clone(&state.principal),
        broker: state.broker.clone(),
        topic: topic.to_owned(),
        body: req.into_body(),
        buffer: BytesMut::new(),
        limit: state.config.max_body_bytes,
        shutdown: state.shutdown.clone(),
        deadline: tokio::time::Instant::now() + MAX_STREAM,
        seen_any: false,
        done: false,
    };
    let body = StreamBody::new(futures_util::stream::unfold(stream, |mut s| async move {
        let chunk = s.next_chunk().await?;
        Some((Ok::<_, hyper::Error>(Frame::data(chunk)), s))
    }));
    let mut response: Response<Body> = Response::new(BodyExt::boxed_unsync(body));
    response.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

struct RecordStream {
    /// The principal's produce bytes are charged as the body arrives; while they are in debt
    /// the stream is read no further (throttled, not refused).
    limits: Arc<PrincipalLimits>,
    principal: Arc<crate::broker::Principal>,
    broker: Broker,
    topic: String,
    body: Incoming,
    buffer: BytesMut,
    limit: usize,
    shutdown: CancellationToken,
    deadline: tokio::time::Instant,
    seen_any: bool,
    done: bool,
}

/// What the buffer holds: complete records (parsed or not), and whether the rest is a record
/// still arriving.
pub(super) fn split_records(buffer: &mut BytesMut) -> (Vec<Result<V3Record, ApiError>>, bool) {
    let mut out = Vec::new();
    let mut consumed = 0;
    let mut partial = false;
    {
        let mut values = serde_json::Deserializer::from_slice(buffer).into_iter::<Value>();
        while out.len() < MAX_GROUP {
            match values.next() {
                None => break,
                Some(Ok(value)) => {
                    consumed = values.byte_offset();
                    out.push(serde_json::from_value::<V3Record>(value).map_err(|e| {
                        error(StatusCode::BAD_REQUEST, 400, format!("invalid record: {e}"))
                    }));
                }
                Some(Err(e)) if e.is_eof() => {
                    partial = true;
                    break;
                }
                Some(Err(e)) => {
                    // Not JSON: nothing after it can be framed; the stream ends with this.
                    out.push(Err(error(
                        StatusCode::BAD_REQUEST,
                        400,
                        format!("invalid JSON: {e}"),
                    )));
                    consumed = buffer.len();
                    break;
                }
            }
        }
    }
    let _ = buffer.split_to(consumed);
    if buffer.iter().all(u8::is_ascii_whitespace) {
        buffer.clear();
        partial = false;
    }
    (out, partial)
}

impl RecordStream {
    /// The results of the next records to arrive; `None` once the request ended and all
    /// results went out.
    async fn next_chunk(&mut self) -> Option<Bytes> {
        loop {
            if self.done {
                return None;
            }
            let (records, _) = split_records(&mut self.buffer);
            if !records.is_empty() {
                self.seen_any = true;
                let fatal = records.last().is_some_and(|r| {
                    r.as_ref()
                        .err()
                        .is_some_and(|e| e.message.starts_with("invalid JSON"))
                });
                let results = produce_group(&self.broker, &self.topic, records).await;
                if fatal {
                    self.done = true;
                }
                return Some(lines(&results));
            }
            if self.buffer.len() > self.limit {
                self.done = true;
                let e = json!({"error_code": 413, "message": format!("a record exceeds the limit of {} bytes", self.limit)});
                return Some(lines(&[e]));
            }
            // While the principal's produce bytes are in debt the body is read no further.
            let throttle = self
                .limits
                .check_produce(&self.principal)
                .err()
                .map(|e| Duration::from_secs(e.retry_after.unwrap_or(1).min(5)));
            let frame = tokio::select! {
                biased;
                () = self.shutdown.cancelled() => {
                    self.done = true;
                    return Some(lines(&[json!({"error_code": 503, "message": "the server is shutting down"})]));
                }
                () = tokio::time::sleep_until(self.deadline) => {
                    self.done = true;
                    return Some(lines(&[json!({"error_code": 408, "message": "the stream reached its maximum duration"})]));
                }
                () = tokio::time::sleep(throttle.unwrap_or_default()), if throttle.is_some() => continue,
                frame = self.body.frame(), if throttle.is_none() => frame,
            };
            match frame {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.limits.charge_produce(&self.principal, data.len());
                        self.buffer.extend_from_slice(&data);
                    }
                }
                Some(Err(_)) => {
                    self.done = true;
                    return None;
                }
                None => {
                    self.done = true;
                    if !self.buffer.is_empty() {
                        let e = json!({"error_code": 400, "message": "the request ended inside a record"});
                        return Some(lines(&[e]));
                    }
                    if !self.seen_any {
                        let e = json!({"error_code": 42206, "message": "Payload error. Request body is empty. Data is required."});
                        return Some(lines(&[e]));
                    }
                    return None;
                }
            }
        }
    }
}

fn lines(results: &[Value]) -> Bytes {
    let mut out = Vec::new();
    for r in results {
        if serde_json::to_writer(&mut out, r).is_ok() {
            out.extend_from_slice(b"\r\n");
        }
    }
    Bytes::from(out)
}

#[derive(Deserialize)]
struct BatchEntry {
    id: String,
    #[serde(flatten)]
    record: Value,
}

#[derive(Deserialize)]
struct BatchBody {
    entries: Vec<BatchEntry>,
}

/// `POST …/records:batch` → 207 with successes and failures by entry id.
pub(super) async fn batch(state: &AppState, topic: &str, req: Request<Incoming>) -> HandlerResult {
    check_content_type(&req)?;
    super::describe(state, topic)?;
    let body = read_body(state, req).await?;
    let batch: BatchBody = serde_json::from_slice(&body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            400,
            format!("invalid JSON body: {e}"),
        )
    })?;
    let invalid = |m: &str| error(StatusCode::UNPROCESSABLE_ENTITY, 42208, m);
    if batch.entries.is_empty() {
        return Err(invalid("Empty batch."));
    }
    if batch.entries.len() > MAX_BATCH {
        return Err(invalid("Too many entries in batch."));
    }
    let mut ids = std::collections::BTreeSet::new();
    for e in &batch.entries {
        if e.id.is_empty() || e.id.len() > 80 {
            return Err(invalid("Batch entry IDs must be 1 to 80 characters."));
        }
        if !ids.insert(e.id.clone()) {
            return Err(invalid("Batch entry IDs are not distinct."));
        }
    }
    let ids: Vec<String> = batch.entries.iter().map(|e| e.id.clone()).collect();
    let records = batch
        .entries
        .into_iter()
        .map(|e| {
            serde_json::from_value::<V3Record>(e.record).map_err(|err| {
                error(
                    StatusCode::BAD_REQUEST,
                    400,
                    format!("invalid record: {err}"),
                )
            })
        })
        .collect();
    let results = produce_group(&state.broker, topic, records).await;
    let (mut successes, mut failures) = (Vec::new(), Vec::new());
    for (id, mut result) in ids.into_iter().zip(results) {
        let ok = result["error_code"] == 200;
        if let Some(map) = result.as_object_mut() {
            map.insert("id".into(), Value::String(id));
            if ok {
                map.remove("error_code");
            }
        }
        if ok {
            successes.push(result);
        } else {
            failures.push(result);
        }
    }
    let body = serde_json::to_vec(&json!({"successes": successes, "failures": failures}))
        .map_err(|e| ApiError::internal(&e))?;
    Ok(respond(StatusCode::MULTI_STATUS, "application/json", body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_split_across_reads_are_framed_whole() {
        let mut buf =
            BytesMut::from(&b"{\"value\": {\"type\": \"JSON\", \"data\": 1}}\n{\"val"[..]);
        let (records, partial) = split_records(&mut buf);
        assert_eq!((records.len(), partial), (1, true));
        buf.extend_from_slice(b"ue\": null}");
        let (records, partial) = split_records(&mut buf);
        assert_eq!((records.len(), partial, buf.is_empty()), (1, false, true));
    }

    proptest::proptest! {
        /// A streamed body of any bytes is framed, refused or kept waiting, never a panic,
        /// and the buffer only shrinks.
        #[test]
        fn arbitrary_streams_never_panic(bytes in proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..2048)) {
            let mut buf = BytesMut::from(&bytes[..]);
            let before = buf.len();
            let _ = split_records(&mut buf);
            proptest::prop_assert!(buf.len() <= before);
        }
    }
}
