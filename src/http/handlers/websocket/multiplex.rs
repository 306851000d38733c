//! `GET /v1/ws`: one socket, many subscriptions, so a browser page needs one connection for
//! all its feeds.
//!
//! Owns the multiplexing protocol. Client → server:
//! `{"subscribe": {"id", "topic", …the query options of /subscribe…}}`,
//! `{"unsubscribe": id}`, `{"produce": {"records": [...]}, "topic": t, "id": n}`,
//! `{"commit": {"partition": p, "offset": o}, "subscription": id}` (group subscriptions).
//! Server → client: `{"subscribed": id, "positions": "0:15,1:20"}`, `{"unsubscribed": id}`,
//! every record with `"subscription": id` first, `ack`/`nack` as on `/subscribe`,
//! `assigned`, `committed` and `commit_failed` as on `/subscribe` with `"subscription": id`, and
//! `{"subscription": id, "error": {...}}` for a subscription that failed or was refused (the
//! socket stays open). The close codes, pings and idle limit are those of `/subscribe`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use futures_util::stream::{BoxStream, SelectAll};
use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::{Value, json, value::RawValue};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::{Role, frame::coding::CloseCode};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_util::sync::CancellationToken;

use super::session::{
    BATCH_BYTES, Commit, IDLE_LIMIT, PING_EVERY, Socket, close_with, commit_reply, produce_reply,
    send_records, socket_config,
};
use super::{Options, parse_options};
use crate::broker::{Delivery, Subscription};
use crate::http::handlers::stream_params::{format_positions, parse_spec};
use crate::http::metrics::OpenSubscription;
use crate::http::{ApiError, AppState};

/// Most subscriptions one socket may hold.
const MAX_SUBSCRIPTIONS: usize = 256;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientMessage<'a> {
    subscribe: Option<Value>,
    unsubscribe: Option<Value>,
    #[serde(borrow)]
    produce: Option<&'a RawValue>,
    topic: Option<String>,
    id: Option<Value>,
    commit: Option<Commit>,
    subscription: Option<Value>,
}

/// Commits queued for one subscription before the client must wait for replies.
const COMMITS_QUEUED: usize = 16;

/// What the socket keeps of one open subscription.
struct Handle {
    stop: CancellationToken,
    commits: mpsc::Sender<Commit>,
}

/// One subscription's next batch, tagged with its id.
struct Batch {
    tag: String,
    topic_json: String,
    as_array: bool,
    /// Control frames (assignment, commit replies) to send before the records.
    control: Vec<String>,
    result: Result<Vec<Delivery>, ApiError>,
}

pub(super) async fn run(state: Arc<AppState>, upgraded: Upgraded) {
    let config = socket_config(state.config.max_body_bytes);
    let mut socket =
        WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
    let mut feeds: SelectAll<BoxStream<'static, Batch>> = SelectAll::new();
    let mut stops: HashMap<String, Handle> = HashMap::new();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.reset();
    let mut heard = Instant::now();
    let (code, reason) = loop {
        tokio::select! {
            biased;
            () = state.shutdown.cancelled() => break (CloseCode::Away, "server shutting down".to_owned()),
            incoming = socket.next() => {
                heard = Instant::now();
                let text = match incoming {
                    None | Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) => return,
                    Some(Err(WsError::Capacity(e))) => break (CloseCode::Size, format!("frame too large: {e}")),
                    Some(Err(_)) => return,
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Binary(_))) => {
                        break (CloseCode::Unsupported, "binary frames are not supported; send JSON text".to_owned());
                    }
                    Some(Ok(Message::Close(_))) => return,
                    Some(Ok(_)) => continue,
                };
                let reply = match handle(&state, text.as_str(), &mut feeds, &mut stops).await {
                    Ok(reply) => reply,
                    Err(problem) => break (CloseCode::Invalid, problem),
                };
                if !reply.is_empty() && socket.send(Message::text(reply)).await.is_err() {
                    return;
                }
            }
            _ = ping.tick() => {
                if heard.elapsed() >= IDLE_LIMIT {
                    break (CloseCode::Away, format!("idle for {} s", IDLE_LIMIT.as_secs()));
                }
                if socket.send(Message::Ping(Default::default())).await.is_err() {
                    return;
                }
            }
            Some(batch) = feeds.next(), if !feeds.is_empty() => {
                if deliver(&mut socket, batch, &mut stops).await.is_err() {
                    return;
                }
            }
        }
    };
    close_with(&mut socket, code, reason).await;
}

async fn deliver(
    socket: &mut Socket,
    batch: Batch,
    stops: &mut HashMap<String, Handle>,
) -> Result<(), WsError> {
    for frame in batch.control {
        socket.feed(Message::text(frame)).await?;
    }
    match batch.result {
        Ok(records) if records.is_empty() => socket.flush().await,
        Ok(records) => {
            let tag = Some(batch.tag.as_str());
            send_records(
                socket,
                &batch.topic_json,
                &records,
                batch.as_array,
                tag,
                None,
            )
            .await
        }
        Err(e) => {
            // The feed has ended itself; forget it so its id can be used again.
            stops.remove(&batch.tag);
            let frame = format!(
                r#"{{"subscription":{},"error":{}}}"#,
                batch.tag,
                json!({"error_code": e.error_code, "message": e.message})
            );
            socket.send(Message::text(frame)).await
        }
    }
}

/// Answers one client message; `Err` closes the socket as malformed.
async fn handle(
    state: &AppState,
    text: &str,
    feeds: &mut SelectAll<BoxStream<'static, Batch>>,
    stops: &mut HashMap<String, Handle>,
) -> Result<String, String> {
    let message: ClientMessage<'_> =
        serde_json::from_str(text).map_err(|e| format!("malformed message: {e}"))?;
    match message {
        ClientMessage {
            subscribe: Some(spec),
            unsubscribe: None,
            produce: None,
            ..
        } => Ok(subscribe(state, spec, feeds, stops).await),
        ClientMessage {
            unsubscribe: Some(id),
            subscribe: None,
            produce: None,
            ..
        } => {
            let tag = id.to_string();
            Ok(match stops.remove(&tag) {
                Some(handle) => {
                    handle.stop.cancel();
                    json!({"unsubscribed": id}).to_string()
                }
                None => refusal(&tag, &ApiError::bad_request("no subscription with this id")),
            })
        }
        ClientMessage {
            produce: Some(records),
            topic: Some(topic),
            id,
            subscribe: None,
            unsubscribe: None,
            commit: None,
            subscription: None,
        } => Ok(produce_reply(state, &topic, records, &id.unwrap_or(Value::Null)).await),
        ClientMessage {
            commit: Some(commit),
            subscription: Some(id),
            subscribe: None,
            unsubscribe: None,
            produce: None,
            topic: None,
            id: None,
        } => {
            let tag = id.to_string();
            let queued = match stops.get(&tag) {
                None => Err(ApiError::bad_request("no subscription with this id")),
                Some(handle) => handle.commits.try_send(commit).map_err(|_| {
                    ApiError::new(
                        hyper::StatusCode::TOO_MANY_REQUESTS,
                        1,
                        format!("more than {COMMITS_QUEUED} commits wait; wait for replies"),
                    )
                }),
            };
            // Queued commits are answered by the subscription's feed, in order with records.
            Ok(queued.map_or_else(|e| refusal(&tag, &e), |()| String::new()))
        }
        _ => Err(
            "a message is {\"subscribe\": {...}}, {\"unsubscribe\": id}, \
             {\"produce\": {...}, \"topic\": t, \"id\": n} or \
             {\"commit\": {\"partition\": p, \"offset\": o}, \"subscription\": id}"
                .to_owned(),
        ),
    }
}

/// A subscribe's options as query pairs: they are /subscribe's query parameters, given as
/// strings, numbers, booleans, or a list.
fn option_pairs(fields: serde_json::Map<String, Value>) -> Vec<(String, String)> {
    fields
        .into_iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s,
                Value::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                    .collect::<Vec<_>>()
                    .join(","),
                other => other.to_string(),
            };
            (k, text)
        })
        .collect()
}

/// The parsers a `/v1/ws` text message meets without a broker: the message, a subscribe's
/// options (as the query parsers read them), a produce's records (as a produce body).
#[cfg(any(test, feature = "fuzzing"))]
pub(super) fn fuzz_text(text: &str) {
    let Ok(message) = serde_json::from_str::<ClientMessage<'_>>(text) else {
        return;
    };
    if let Some(Value::Object(fields)) = message.subscribe {
        let pairs = option_pairs(fields);
        let _ = parse_options(&pairs);
        let _ = parse_spec(&pairs, None);
    }
    if let Some(records) = message.produce {
        let _ = crate::http::wire::decode_produce(records.get().as_bytes(), 1_000);
    }
}

fn refusal(tag: &str, e: &ApiError) -> String {
    format!(
        r#"{{"subscription":{tag},"error":{}}}"#,
        json!({"error_code": e.error_code, "message": e.message})
    )
}

/// Opens a subscription from `{"id", "topic", …options}`; answers `subscribed` or the error.
async fn subscribe(
    state: &AppState,
    spec: Value,
    feeds: &mut SelectAll<BoxStream<'static, Batch>>,
    stops: &mut HashMap<String, Handle>,
) -> String {
    let Value::Object(mut fields) = spec else {
        return refusal("null", &ApiError::bad_request("subscribe takes an object"));
    };
    let Some(id) = fields
        .remove("id")
        .filter(|id| id.is_string() || id.is_number())
    else {
        return refusal(
            "null",
            &ApiError::bad_request("subscribe needs an id (string or number)"),
        );
    };
    let tag = id.to_string();
    let Some(Value::String(topic)) = fields.remove("topic") else {
        return refusal(&tag, &ApiError::bad_request("subscribe needs a topic"));
    };
    if stops.contains_key(&tag) {
        return refusal(
            &tag,
            &ApiError::bad_request("a subscription with this id is open"),
        );
    }
    if stops.len() >= MAX_SUBSCRIPTIONS {
        let e = ApiError::bad_request(format!(
            "at most {MAX_SUBSCRIPTIONS} subscriptions per socket"
        ));
        return refusal(&tag, &e);
    }
    let pairs = option_pairs(fields);
    let opened = async {
        let options = parse_options(&pairs)?;
        let spec = parse_spec(&pairs, None)?;
        let permit = state.limits.open_stream(&state.principal)?;
        let subscription = state.broker.subscribe(&topic, spec).await?;
        Ok::<_, ApiError>((options, subscription, permit))
    };
    let (options, subscription, permit) = match opened.await {
        Ok(opened) => opened,
        Err(e) => return refusal(&tag, &e),
    };
    let positions = format_positions(subscription.positions());
    let stop = CancellationToken::new();
    let (commits, queued) = mpsc::channel(COMMITS_QUEUED);
    let handle = Handle {
        stop: stop.clone(),
        commits,
    };
    stops.insert(tag.clone(), handle);
    let open = state.metrics.subscriptions().opened("websocket");
    let source = Source {
        id: id.clone(),
        subscription,
        commits: queued,
        open,
        _permit: permit,
    };
    feeds.push(feed(tag, &topic, source, options, stop));
    json!({"subscribed": id, "positions": positions}).to_string()
}

/// What a feed owns.
struct Source {
    id: Value,
    subscription: Subscription,
    commits: mpsc::Receiver<Commit>,
    open: OpenSubscription,
    /// The principal's stream slot, freed when the subscription ends.
    _permit: crate::http::limits::Permit,
}

/// The batches of one subscription until it is stopped or fails (the failure is the last).
fn feed(
    tag: String,
    topic: &str,
    source: Source,
    options: Options,
    stop: CancellationToken,
) -> BoxStream<'static, Batch> {
    let topic_json = serde_json::to_string(topic).unwrap_or_default();
    let state = Some((source, tag, topic_json));
    futures_util::stream::unfold(state, move |state| async move {
        let (mut source, tag, topic_json) = state?;
        let mut control = Vec::new();
        let polled = tokio::select! {
            polled = source.subscription.poll(options.max_in_flight, BATCH_BYTES, PING_EVERY) => polled,
            Some(commit) = source.commits.recv() => {
                control.push(commit_reply(&mut source.subscription, &commit, Some(&source.id)).await);
                Ok(Vec::new())
            }
        };
        if let Some(assigned) = source.subscription.take_assignment() {
            control.insert(0, json!({"subscription": source.id, "assigned": assigned}).to_string());
        }
        if let Ok(records) = &polled {
            source.open.delivered(records.len() as u64);
            source.open.set_lag(source.subscription.lag());
        }
        let failed = polled.is_err();
        let batch = Batch {
            tag: tag.clone(),
            topic_json: topic_json.clone(),
            as_array: options.batch,
            control,
            result: polled.map_err(ApiError::from),
        };
        let next = (!failed).then_some((source, tag, topic_json));
        Some((batch, next))
    })
    .take_until(stop.cancelled_owned())
    .boxed()
}
