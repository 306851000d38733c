//! Produce and fetch: `POST /v1/topics/{t}/records`,
//! `GET /v1/topics/{t}/partitions/{p}/records` and `…/offsets?timestamp=`.

use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::json;

use bytes::Bytes;

use crate::broker::{OffsetSpec, Prechecked, ProduceRecord, ProducedOffset, RecordStatus};
use crate::http::AppState;
use crate::http::cloudevents;
use crate::http::error::ApiError;
use crate::http::router::{HandlerResult, json, query, read_body, respond};
use crate::http::wire::{ProduceDecodeError, decode_produce, encode_records, read_produce};

/// Most records one fetch returns.
pub const MAX_FETCH_RECORDS: usize = 100_000;
/// Default and largest `max_bytes` of a fetch.
pub const DEFAULT_FETCH_BYTES: usize = 4 << 20;
/// Largest `max_bytes` a fetch may ask for.
pub const MAX_FETCH_BYTES: usize = 64 << 20;
/// Longest long poll.
pub const MAX_WAIT_MS: u64 = 60_000;
/// Longest `Idempotency-Key` accepted.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// `POST /v1/topics/{topic}/records` → `{"offsets": [...]}` in request order. The body is
/// `{"records": […]}`, or CloudEvents (structured, batch or binary mode).
pub async fn produce(state: &AppState, topic: &str, req: Request<Incoming>) -> HandlerResult {
    let idempotency_key = idempotency_key(&req)?;
    let partial = match query(&req).into_iter().find(|(k, _)| k == "partial") {
        Some((name, value)) => parse_flag(&name, &value)?,
        None => false,
    };
    if partial && idempotency_key.is_some() {
        return Err(ApiError::bad_request(
            "partial=true cannot be combined with an Idempotency-Key",
        ));
    }
    let events = cloudevents::mode(req.headers());
    let headers = events.map(|_| req.headers().clone());
    let body = read_body(state, req).await?;
    let (records, prechecked) = match (events, &headers) {
        (Some(mode), Some(headers)) => (
            cloudevents::records(mode, headers, &body).map_err(ApiError::bad_request)?,
            Prechecked::none(),
        ),
        _ => decode_records(state, topic, &body)?,
    };
    if partial {
        return produce_partial(state, topic, records, &prechecked).await;
    }
    let offsets = produce_records(
        state,
        topic,
        records,
        idempotency_key.as_deref(),
        &prechecked,
    )
    .await?;
    json(StatusCode::OK, &Offsets { offsets: &offsets })
}

/// A produce answer, written straight from the offsets: a JSON tree per record cost more
/// than the rest of the answer.
#[derive(serde::Serialize)]
struct Offsets<'a> {
    offsets: &'a [ProducedOffset],
}

/// Decodes a `{"records": [...]}` body and produces it: the one produce path of every front
/// end (REST, WebSocket), with the same limits and checks.
///
/// # Errors
/// 400 for malformed JSON, 413 over the record limit, 422 for a bad record, and every broker
/// refusal.
pub async fn produce_body(
    state: &AppState,
    topic: &str,
    body: &Bytes,
    idempotency_key: Option<&str>,
) -> Result<Vec<ProducedOffset>, ApiError> {
    let (records, prechecked) = decode_records(state, topic, body)?;
    produce_records(state, topic, records, idempotency_key, &prechecked).await
}

async fn produce_records(
    state: &AppState,
    topic: &str,
    records: Vec<ProduceRecord>,
    idempotency_key: Option<&str>,
    prechecked: &Prechecked,
) -> Result<Vec<ProducedOffset>, ApiError> {
    let count = records.len() as u64;
    let bytes: usize = records.iter().map(|r| r.record.payload_len()).sum();
    let offsets = state
        .broker
        .produce_checked(topic, records, idempotency_key, prechecked)
        .await?;
    state.metrics.produced(topic, count, bytes as u64);
    Ok(offsets)
}

/// `?partial=true`: per-record statuses, refused records as `{"error_code": 42230,
/// "message", "dead_letter"?: {"topic", "partition", "offset"}}`.
async fn produce_partial(
    state: &AppState,
    topic: &str,
    records: Vec<ProduceRecord>,
    prechecked: &Prechecked,
) -> HandlerResult {
    let sizes: Vec<usize> = records.iter().map(|r| r.record.payload_len()).collect();
    let statuses = state
        .broker
        .produce_partial(topic, records, prechecked)
        .await?;
    let mut appended = (0u64, 0usize);
    let offsets: Vec<serde_json::Value> = statuses
        .into_iter()
        .zip(sizes)
        .map(|(status, size)| match status {
            RecordStatus::Appended(at) => {
                appended.0 += 1;
                appended.1 += size;
                json!(at)
            }
            RecordStatus::Refused {
                message,
                dead_letter,
            } => {
                let mut refused = json!({"error_code": 42230, "message": message});
                if let Some((topic, at)) = dead_letter {
                    refused["dead_letter"] =
                        json!({"topic": topic, "partition": at.partition, "offset": at.offset});
                }
                refused
            }
        })
        .collect();
    state.metrics.produced(topic, appended.0, appended.1 as u64);
    json(StatusCode::OK, &json!({ "offsets": offsets }))
}

/// A produce body's records, with the request limits applied, and which values of them
/// passed `topic`'s schema check while they were read (see [`read_produce`]).
fn decode_records(
    state: &AppState,
    topic: &str,
    body: &Bytes,
) -> Result<(Vec<ProduceRecord>, Prechecked), ApiError> {
    let limit = state.config.max_records_per_request;
    let mut check = state.broker.value_check(topic);
    if let Some(records) = read_produce(body, limit, check.as_mut()) {
        return Ok((records, check.map_or_else(Prechecked::none, |c| c.finish())));
    }
    // Not taken in one pass: decoded again for its errors, and checked in full by produce.
    let parsed = match decode_produce(body, limit) {
        Ok(parsed) => parsed,
        Err(ProduceDecodeError::TooManyRecords { limit }) => {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                2,
                format!("a produce request may carry at most {limit} records"),
            ));
        }
        Err(ProduceDecodeError::Json(e)) => {
            return Err(ApiError::bad_request(format!("invalid JSON body: {e}")));
        }
    };
    parsed
        .records
        .into_iter()
        .enumerate()
        .map(|(i, entry)| entry.into_record(body, i))
        .collect::<Result<Vec<ProduceRecord>, String>>()
        .map(|records| (records, Prechecked::none()))
        .map_err(|message| ApiError::unprocessable(8, message))
}

fn idempotency_key(req: &Request<Incoming>) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= MAX_IDEMPOTENCY_KEY_LEN)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} visible ASCII characters"
            ))
        })?;
    Ok(Some(key.to_owned()))
}

/// `GET /v1/topics/{t}/partitions/{p}/records?offset=&max_records=&max_bytes=&timeout_ms=`.
pub async fn fetch(
    state: &AppState,
    topic: &str,
    partition: &str,
    req: &Request<Incoming>,
) -> HandlerResult {
    let partition = parse_partition(partition)?;
    let mut offset = OffsetSpec::Earliest;
    let mut max_records = 500;
    let mut max_bytes = DEFAULT_FETCH_BYTES as u64;
    let mut wait_ms = 0;
    let mut decode = false;
    for (name, value) in query(req) {
        match name.as_str() {
            "decode" => decode = parse_flag(&name, &value)?,
            "offset" => {
                offset = match value.as_str() {
                    "earliest" => OffsetSpec::Earliest,
                    "latest" => OffsetSpec::Latest,
                    n => OffsetSpec::At(parse_param(&name, n, u64::MAX)?),
                }
            }
            "max_records" => max_records = parse_param(&name, &value, MAX_FETCH_RECORDS as u64)?,
            "max_bytes" => max_bytes = parse_param(&name, &value, MAX_FETCH_BYTES as u64)?,
            "timeout_ms" => wait_ms = parse_param(&name, &value, MAX_WAIT_MS)?,
            _ => {}
        }
    }
    let max_records = usize::try_from(max_records.max(1)).unwrap_or(MAX_FETCH_RECORDS);
    let max_bytes = usize::try_from(max_bytes.max(1)).unwrap_or(MAX_FETCH_BYTES);
    let wait = Duration::from_millis(wait_ms);
    state.limits.check_fetch(&state.principal)?;
    // The budget covers reads only: a long poll waits for data without holding any.
    let mut budget = Some(reserve_fetch_budget(state, max_bytes, wait).await?);
    let broker = &state.broker;
    let mut read = broker
        .fetch(
            topic,
            partition,
            offset,
            max_records,
            max_bytes,
            Duration::ZERO,
        )
        .await?;
    if read.records.is_empty() && !wait.is_zero() {
        budget = None;
        let next = read.next_offset;
        let arrived = tokio::select! {
            biased;
            // At shutdown a long poll answers at once with what is there.
            () = state.shutdown.cancelled() => false,
            arrived = broker.wait_for_data(topic, partition, next, wait) => arrived?,
        };
        if arrived {
            budget = Some(reserve_fetch_budget(state, max_bytes, wait).await?);
            let at = OffsetSpec::At(next);
            read = broker
                .fetch(topic, partition, at, max_records, max_bytes, Duration::ZERO)
                .await?;
        }
    }
    let bytes: usize = read.records.iter().map(|r| r.record.payload_len()).sum();
    state
        .metrics
        .fetched(topic, read.records.len() as u64, bytes as u64);
    state.limits.charge_fetch(&state.principal, bytes);
    if decode {
        broker.decode_records(&mut read.records);
    }
    let body = encode_records(topic, partition, &read.records, read.next_offset);
    // Held until the answer is encoded: the records and their encoding are what it bounds.
    drop(budget);
    Ok(respond(StatusCode::OK, "application/json", body))
}

/// A `true`/`false` query parameter.
pub fn parse_flag(name: &str, value: &str) -> Result<bool, ApiError> {
    match value {
        "true" | "" => Ok(true),
        "false" => Ok(false),
        _ => Err(ApiError::bad_request(format!(
            "{name}={value}: use true or false"
        ))),
    }
}

/// `POST /v1/topics/{topic}/validate`: the produce body checked against the topic's schemas
/// and rules without appending anything → `{"valid": true, "records": N}`, or the 422 a
/// produce would get.
pub async fn validate(state: &AppState, topic: &str, req: Request<Incoming>) -> HandlerResult {
    let body = read_body(state, req).await?;
    let (records, prechecked) = decode_records(state, topic, &body)?;
    let dead_lettered = state.broker.validate(topic, records, &prechecked)?;
    json(
        StatusCode::OK,
        &json!({ "valid": true, "dead_lettered": dead_lettered }),
    )
}

/// Reserves twice `max_bytes` (records read plus their encoding) of the global in-flight fetch
/// budget, waiting up to the fetch's own timeout (at least 1 s); 503 when none frees up.
pub(crate) async fn reserve_fetch_budget(
    state: &AppState,
    max_bytes: usize,
    wait: Duration,
) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
    let total = state.fetch_budget_permits();
    let wanted =
        u32::try_from((max_bytes.saturating_mul(2) >> 10).clamp(1, total)).unwrap_or(u32::MAX);
    let budget = std::sync::Arc::clone(&state.fetch_budget);
    let patience = wait.max(Duration::from_secs(1));
    match tokio::time::timeout(patience, budget.acquire_many_owned(wanted)).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            3,
            "the server's in-flight fetch budget is used up; retry later or ask for less max_bytes",
        )),
    }
}

/// `GET /v1/topics/{t}/partitions/{p}/offsets?timestamp=MS` → `{"offset": N}`.
pub async fn offset_for_time(
    state: &AppState,
    topic: &str,
    partition: &str,
    req: &Request<Incoming>,
) -> HandlerResult {
    let partition = parse_partition(partition)?;
    let timestamp = query(req)
        .into_iter()
        .find(|(name, _)| name == "timestamp")
        .ok_or_else(|| {
            ApiError::bad_request("query parameter 'timestamp' (ms since epoch) is required")
        })?
        .1;
    let timestamp: i64 = timestamp
        .parse()
        .map_err(|_| ApiError::bad_request(format!("timestamp '{timestamp}' is not an integer")))?;
    let offset = state
        .broker
        .offset_for_timestamp(topic, partition, timestamp)
        .await?;
    json(StatusCode::OK, &json!({ "offset": offset }))
}

fn parse_partition(text: &str) -> Result<u32, ApiError> {
    text.parse().map_err(|_| {
        ApiError::bad_request(format!("partition '{text}' is not a non-negative integer"))
    })
}

fn parse_param(name: &str, value: &str, max: u64) -> Result<u64, ApiError> {
    value
        .parse::<u64>()
        .ok()
        .filter(|v| *v <= max)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "{name} must be an integer from 0 to {max}, got '{value}'"
            ))
        })
}
