//! Server-Sent Events: `GET /v1/topics/{topic}/events` streams records as they are appended.
//!
//! Owns the SSE framing: a `retry:` hint and an event carrying the start positions first, one
//! `data:` event per record whose `id` is the position after it (`0:16,1:20`), so a browser's
//! `EventSource` resumes exactly through `Last-Event-ID`; comments keep idle connections open
//! through proxies. A group member (`group=`, auto-committing) gets an `assigned` event when
//! its partitions change. The subscription reads at the pace the socket drains (hyper polls the
//! stream only when it can write), so a stalled client holds at most one batch. It must not
//! read storage except through the broker's subscription.

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::StreamExt;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response, StatusCode};
use tokio_util::sync::CancellationToken;

use super::stream_params::{format_positions, parse_spec};
use crate::broker::Subscription;
use crate::http::limits::Permit;
use crate::http::metrics::OpenSubscription;
use crate::http::router::{HandlerResult, query};
use crate::http::{ApiError, AppState, wire};

/// Records per event batch read from the log.
const BATCH_RECORDS: usize = 256;
/// About this many payload bytes per batch: what a stalled subscriber holds at most.
const BATCH_BYTES: usize = 256 << 10;
/// An idle stream gets a comment this often.
const KEEPALIVE: Duration = Duration::from_secs(15);
/// The reconnection delay suggested to `EventSource`, in ms.
const RETRY_MS: u32 = 2000;

/// Opens the stream; a bad query or an unknown topic is answered before it starts.
pub async fn events(state: &AppState, topic: &str, req: &Request<Incoming>) -> HandlerResult {
    let resume = req
        .headers()
        .get("last-event-id")
        .map(|v| {
            v.to_str()
                .map_err(|_| ApiError::bad_request("Last-Event-ID must be text like 0:15,1:20"))
        })
        .transpose()?;
    let spec = parse_spec(&query(req), resume)?;
    let permit = state.limits.open_stream(&state.principal)?;
    let subscription = state.broker.subscribe(topic, spec).await?;
    let stream = Events {
        _permit: permit,
        subscription,
        topic_json: serde_json::to_string(topic).unwrap_or_default(),
        shutdown: state.shutdown.clone(),
        started: false,
        done: false,
        open: state.metrics.subscriptions().opened("sse"),
    };
    let body = StreamBody::new(
        futures_util::stream::unfold(stream, |mut s| async move {
            let chunk = s.next_chunk().await?;
            Some((Ok::<_, hyper::Error>(Frame::data(chunk)), s))
        })
        .boxed(),
    );
    let mut response = Response::new(BodyExt::boxed_unsync(body));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Tells nginx-style proxies not to buffer the stream.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

struct Events {
    /// The principal's stream slot, freed when the stream ends.
    _permit: Permit,
    subscription: Subscription,
    topic_json: String,
    shutdown: CancellationToken,
    started: bool,
    done: bool,
    open: OpenSubscription,
}

impl Events {
    /// The next piece of the stream, `None` when it ends.
    async fn next_chunk(&mut self) -> Option<Bytes> {
        if self.done {
            return None;
        }
        let mut out = BytesMut::new();
        if !self.started {
            self.started = true;
            // The start positions as an id: a client that reconnects before any record came
            // resumes from here, not from a new `latest`.
            let positions = format_positions(self.subscription.positions());
            out.put_slice(
                format!("retry: {RETRY_MS}\nevent: subscribed\nid: {positions}\n").as_bytes(),
            );
            out.put_slice(format!("data: {{\"positions\":\"{positions}\"}}\n\n").as_bytes());
            return Some(out.freeze());
        }
        let polled = tokio::select! {
            biased;
            () = self.shutdown.cancelled() => {
                self.done = true;
                return None;
            }
            polled = self.subscription.poll(BATCH_RECORDS, BATCH_BYTES, KEEPALIVE) => polled,
        };
        if let Some(assigned) = self.subscription.take_assignment() {
            // A group member's partitions changed: the client learns which it now reads.
            let list = serde_json::to_string(&assigned).unwrap_or_default();
            out.put_slice(format!("event: assigned\ndata: {{\"assigned\":{list}}}\n\n").as_bytes());
        }
        match polled {
            Ok(batch) if batch.is_empty() && !out.is_empty() => {}
            Ok(batch) if batch.is_empty() => {
                self.open.set_lag(self.subscription.lag());
                out.put_slice(b": keepalive\n\n");
            }
            Ok(batch) => {
                // Ids: the positions after each record, so resuming skips exactly what was seen.
                let mut at = self.subscription.positions().clone();
                for d in batch.iter().rev() {
                    at.insert(d.partition, d.record.offset);
                }
                for d in &batch {
                    at.insert(d.partition, d.record.offset + 1);
                    out.put_slice(b"id: ");
                    out.put_slice(format_positions(&at).as_bytes());
                    out.put_slice(b"\ndata: ");
                    let topic_json = &self.topic_json;
                    out.put_slice(
                        &d.encoded(|d| wire::record_bytes(topic_json, d.partition, &d.record)),
                    );
                    out.put_slice(b"\n\n");
                }
                self.open.delivered(batch.len() as u64);
                self.open.set_lag(self.subscription.lag());
            }
            Err(e) => {
                let e = ApiError::from(e);
                out.put_slice(b"event: error\ndata: ");
                out.put_slice(&e.body());
                out.put_slice(b"\n\n");
                self.done = true;
            }
        }
        Some(out.freeze())
    }
}
