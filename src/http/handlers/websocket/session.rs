//! One WebSocket session: records out as they are appended, client messages in.
//!
//! Owns the frame protocol. Server → client: one text frame per record in the native fetch's
//! JSON shape (or one array per batch), `{"ack": id, "offsets": [...]}` / `{"nack": id,
//! "error_code", "message"}` for produce requests, `{"assigned": [partitions]}` when a group
//! subscription's partitions change (before any record of a new partition),
//! `{"committed": {...}}` / `{"commit_failed": {...}, "error_code", "message"}` for commits,
//! `{"error": {...}}` before a close. Client → server: `{"produce": {"records": [...]},
//! "id": n}`, `{"commit": {"partition": p, "offset": o}}`. Pings every 20 s; a client
//! silent for 60 s is closed. Close codes: 1001 shutdown or idle, 1003 binary frame, 1007
//! malformed message, 1009 oversized frame, 1011 server error, 4404 topic deleted.
//!
//! Backpressure: the next batch is read only after the previous one was written to the
//! socket, so a stalled client holds one batch at most and never slows anyone else.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::{json, value::RawValue};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::{
    CloseFrame, Role, WebSocketConfig, frame::coding::CloseCode,
};
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};

use super::Options;
use crate::broker::{Delivery, Subscription};
use crate::http::handlers::records::produce_body;
use crate::http::{ApiError, AppState, wire};

/// Bytes of records per batch read from the log.
pub(super) const BATCH_BYTES: usize = 256 << 10;
pub(super) const PING_EVERY: Duration = Duration::from_secs(20);
pub(super) const IDLE_LIMIT: Duration = Duration::from_secs(60);
/// How long a closing handshake may take before the socket is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

pub(super) type Socket = WebSocketStream<TokioIo<Upgraded>>;

/// A client message.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientMessage<'a> {
    #[serde(borrow)]
    produce: Option<&'a RawValue>,
    id: Option<u64>,
    commit: Option<Commit>,
}

/// `{"commit": {"partition": p, "offset": o}}`: the next offset the group will read.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Commit {
    pub(super) partition: u32,
    pub(super) offset: u64,
}

pub(super) async fn run(
    state: Arc<AppState>,
    topic: String,
    mut subscription: Subscription,
    options: Options,
    upgraded: Upgraded,
) {
    // Idle sockets must stay small: buffers grow only while a frame is in flight.
    let config = socket_config(state.config.max_body_bytes);
    let mut socket =
        WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
    let mut open = state.metrics.subscriptions().opened("websocket");
    let topic_json = serde_json::to_string(&topic).unwrap_or_default();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.reset();
    let mut heard = Instant::now();
    let close = loop {
        tokio::select! {
            biased;
            () = state.shutdown.cancelled() => break (CloseCode::Away, "server shutting down".to_owned()),
            incoming = socket.next() => {
                heard = Instant::now();
                match incoming {
                    None | Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) => return,
                    Some(Err(WsError::Capacity(e))) => break (CloseCode::Size, format!("frame too large: {e}")),
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "WebSocket read failed.");
                        return;
                    }
                    Some(Ok(Message::Text(text))) => {
                        match handle(&state, &topic, &mut subscription, text.as_str()).await {
                            Ok(reply) => {
                                if socket.send(Message::text(reply)).await.is_err() {
                                    return;
                                }
                            }
                            Err(problem) => break (CloseCode::Invalid, problem),
                        }
                    }
                    Some(Ok(Message::Binary(_))) => {
                        break (CloseCode::Unsupported, "binary frames are not supported; send JSON text".to_owned());
                    }
                    Some(Ok(Message::Close(_))) => return,
                    Some(Ok(_)) => {}
                }
            }
            _ = ping.tick() => {
                if heard.elapsed() >= IDLE_LIMIT {
                    break (CloseCode::Away, format!("idle for {} s", IDLE_LIMIT.as_secs()));
                }
                if socket.send(Message::Ping(Bytes::new())).await.is_err() {
                    return;
                }
            }
            polled = subscription.poll(options.max_in_flight, BATCH_BYTES, PING_EVERY) => {
                if polled.is_ok() {
                    open.set_lag(subscription.lag());
                }
                if let Some(assigned) = subscription.take_assignment() {
                    let frame = json!({"assigned": assigned}).to_string();
                    if socket.send(Message::text(frame)).await.is_err() {
                        return;
                    }
                }
                match polled {
                    Ok(batch) if batch.is_empty() => {}
                    Ok(batch) => {
                        open.delivered(batch.len() as u64);
                        let shared = subscription.batch_encoding();
                        if send_records(&mut socket, &topic_json, &batch, options.batch, None, shared).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        let e = ApiError::from(e);
                        let frame = json!({"error": {"error_code": e.error_code, "message": e.message}});
                        let _ = socket.send(Message::text(frame.to_string())).await;
                        let code = if e.status == hyper::StatusCode::NOT_FOUND {
                            CloseCode::Library(4404)
                        } else {
                            CloseCode::Error
                        };
                        break (code, e.message);
                    }
                }
            }
        }
    };
    let (code, reason) = close;
    close_with(&mut socket, code, reason).await;
}

/// Writes a batch, one frame per record or one array, and waits until the socket took it.
/// With `tag` (a JSON value), every record object carries `"subscription": tag` first. A
/// record from a shared tail read is encoded once for all its subscribers, and so is an
/// untagged array of a whole shared batch (`shared`, from [`Subscription::batch_encoding`]).
pub(super) async fn send_records(
    socket: &mut Socket,
    topic_json: &str,
    batch: &[Delivery],
    as_array: bool,
    tag: Option<&str>,
    shared: Option<&OnceLock<Bytes>>,
) -> Result<(), WsError> {
    let encoded =
        |d: &Delivery| d.encoded(|d| wire::record_bytes(topic_json, d.partition, &d.record));
    let put = |buf: &mut BytesMut, record: &[u8]| match tag {
        Some(tag) => wire::put_tagged(buf, tag, record),
        None => buf.put_slice(record),
    };
    if as_array {
        let array = || {
            let records: Vec<Bytes> = batch.iter().map(&encoded).collect();
            // Sized once: a tag adds `{"subscription":<tag>,` to each record.
            let per_record = 1 + tag.map_or(0, |t| 18 + t.len());
            let size: usize = records.iter().map(|r| r.len() + per_record).sum();
            let mut buf = BytesMut::with_capacity(size + 2);
            buf.put_u8(b'[');
            for (i, record) in records.iter().enumerate() {
                if i > 0 {
                    buf.put_u8(b',');
                }
                put(&mut buf, record);
            }
            buf.put_u8(b']');
            buf.freeze()
        };
        let frame = match (tag, shared) {
            (None, Some(slot)) => slot.get_or_init(array).clone(),
            _ => array(),
        };
        return socket.send(text(frame)).await;
    }
    for d in batch {
        let record = encoded(d);
        let frame = match tag {
            // The shared bytes themselves are the frame.
            None => record,
            Some(_) => {
                let mut buf = BytesMut::with_capacity(record.len() + 32);
                put(&mut buf, &record);
                buf.freeze()
            }
        };
        socket.feed(text(frame)).await?;
    }
    socket.flush().await
}

/// Our own JSON encoding is UTF-8 by construction.
fn text(buf: Bytes) -> Message {
    // Checked, not copied: the frame carries the encoded bytes as they are.
    match Utf8Bytes::try_from(buf) {
        Ok(text) => Message::Text(text),
        Err(e) => Message::text(format!("{{\"error\":{{\"message\":\"encoding: {e}\"}}}}")),
    }
}

/// Answers one client message; `Err` closes the socket as malformed.
async fn handle(
    state: &AppState,
    topic: &str,
    subscription: &mut Subscription,
    text: &str,
) -> Result<String, String> {
    let message: ClientMessage<'_> =
        serde_json::from_str(text).map_err(|e| format!("malformed message: {e}"))?;
    match message {
        ClientMessage {
            produce: Some(records),
            id,
            commit: None,
        } => Ok(produce_reply(state, topic, records, &json!(id)).await),
        ClientMessage {
            commit: Some(commit),
            produce: None,
            id: None,
        } => Ok(commit_reply(subscription, &commit, None).await),
        _ => Err(
            "a message is {\"produce\": {\"records\": [...]}, \"id\": n} or \
             {\"commit\": {\"partition\": p, \"offset\": o}}"
                .to_owned(),
        ),
    }
}

/// Commits for a group subscription; the `committed` or `commit_failed` frame (tagged with
/// the subscription when `tag` is given).
pub(super) async fn commit_reply(
    subscription: &mut Subscription,
    commit: &Commit,
    tag: Option<&serde_json::Value>,
) -> String {
    let what = json!({"partition": commit.partition, "offset": commit.offset});
    let mut reply = match subscription.commit(commit.partition, commit.offset).await {
        Ok(()) => json!({"committed": what}),
        Err(e) => {
            let e = ApiError::from(e);
            json!({"commit_failed": what, "error_code": e.error_code, "message": e.message})
        }
    };
    if let (Some(tag), Some(fields)) = (tag, reply.as_object_mut()) {
        fields.insert("subscription".to_owned(), tag.clone());
    }
    reply.to_string()
}

/// The parsers a subscription socket's text message meets without a broker.
#[cfg(any(test, feature = "fuzzing"))]
pub(super) fn fuzz_text(text: &str) {
    if let Ok(ClientMessage {
        produce: Some(records),
        ..
    }) = serde_json::from_str::<ClientMessage<'_>>(text)
    {
        let _ = crate::http::wire::decode_produce(records.get().as_bytes(), 1_000);
    }
}

/// Produces `{"records": [...]}` through the REST path; the `ack` or `nack` frame for `id`.
pub(super) async fn produce_reply(
    state: &AppState,
    topic: &str,
    records: &RawValue,
    id: &serde_json::Value,
) -> String {
    // A key revoked (or a token expired) since the socket opened produces nothing more.
    if let Err(e) = state.broker.credentials_hold() {
        let e = ApiError::from(e);
        return json!({"nack": id, "error_code": e.error_code, "message": e.message}).to_string();
    }
    let body = Bytes::copy_from_slice(records.get().as_bytes());
    if let Err(e) = state.limits.check_produce(&state.principal) {
        let retry = e.retry_after.unwrap_or(1);
        return json!({"nack": id, "error_code": e.error_code, "message": e.message, "retry_after": retry}).to_string();
    }
    state.limits.charge_produce(&state.principal, body.len());
    match produce_body(state, topic, &body, None).await {
        Ok(offsets) => json!({"ack": id, "offsets": offsets}).to_string(),
        Err(e) => json!({"nack": id, "error_code": e.error_code, "message": e.message}).to_string(),
    }
}

/// The socket settings every session uses: small buffers while idle, frames up to `limit`.
pub(super) fn socket_config(limit: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 << 10)
        .write_buffer_size(0)
        .max_message_size(Some(limit))
        .max_frame_size(Some(limit))
}

/// Sends a close frame (reason cut to fit a control frame) and gives the handshake a moment.
pub(super) async fn close_with(socket: &mut Socket, code: CloseCode, mut reason: String) {
    while reason.len() > 120 {
        reason.pop();
    }
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = tokio::time::timeout(CLOSE_GRACE, socket.close(Some(frame))).await;
}
