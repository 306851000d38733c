//! WebSocket subscriptions: `GET /v1/topics/{topic}/subscribe` upgrades to a socket that
//! streams records and takes produce requests.
//!
//! Owns the upgrade: checking the handshake headers, the query (the same as Server-Sent
//! Events, plus `batch` and `max_in_flight`) and the topic before answering 101, so every
//! refusal is an HTTP status with the JSON error body. The session itself lives in
//! [`session`]. It must not read storage except through the broker's subscription.

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::header::{CONNECTION, HeaderValue, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, UPGRADE};
use hyper::{Request, StatusCode};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use super::stream_params::parse_spec;
use crate::http::router::{HandlerResult, query, respond};
use crate::http::{ApiError, AppState};

mod multiplex;
mod session;

/// Records per frame batch (and the default `max_in_flight`).
const DEFAULT_BATCH: usize = 256;
/// Largest `max_in_flight`.
const MAX_BATCH: usize = 10_000;

/// Per-socket options beyond the subscription itself.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    /// One JSON array per frame instead of one record per frame.
    batch: bool,
    /// Most records read and sent before the socket must drain (the send window).
    max_in_flight: usize,
}

/// Answers the handshake and starts the session (tracked, so shutdown waits for it).
pub async fn subscribe(
    state: &Arc<AppState>,
    topic: &str,
    mut req: Request<Incoming>,
) -> HandlerResult {
    let key = handshake_key(&req)?;
    let pairs = query(&req);
    let options = parse_options(&pairs)?;
    let spec = parse_spec(&pairs, None)?;
    let permit = state.limits.open_stream(&state.principal)?;
    let subscription = state.broker.subscribe(topic, spec).await?;
    let session_state = Arc::clone(state);
    let topic = topic.to_owned();
    start(state, &mut req, &key, move |upgraded| async move {
        session::run(session_state, topic, subscription, options, upgraded).await;
        drop(permit);
    })
}

/// `GET /v1/ws`: one socket, many subscriptions (see [`multiplex`]).
pub async fn multiplexed(state: &Arc<AppState>, mut req: Request<Incoming>) -> HandlerResult {
    let key = handshake_key(&req)?;
    let session_state = Arc::clone(state);
    start(state, &mut req, &key, move |upgraded| {
        multiplex::run(session_state, upgraded)
    })
}

/// Spawns `session` on the upgraded connection (tracked, so shutdown waits for it) and answers
/// 101.
fn start<F, Fut>(
    state: &Arc<AppState>,
    req: &mut Request<Incoming>,
    key: &str,
    session: F,
) -> HandlerResult
where
    F: FnOnce(hyper::upgrade::Upgraded) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    // The upgraded socket stays counted for its principal until the session ends.
    let counted = req
        .extensions()
        .get::<crate::http::router::ConnectionSlot>()
        .and_then(|slot| slot.0.lock().take());
    let upgrade = hyper::upgrade::on(req);
    state.sessions.spawn(async move {
        let _counted = counted;
        match upgrade.await {
            Ok(upgraded) => session(upgraded).await,
            Err(e) => tracing::debug!(error = %e, "WebSocket upgrade did not complete."),
        }
    });
    let mut response = respond(StatusCode::SWITCHING_PROTOCOLS, "text/plain", "");
    let headers = response.headers_mut();
    headers.remove(hyper::header::CONTENT_TYPE);
    headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    let accept = HeaderValue::from_str(key).map_err(|e| ApiError::internal(&e))?;
    headers.insert(SEC_WEBSOCKET_ACCEPT, accept);
    Ok(response)
}

/// `batch` and `max_in_flight`.
pub(crate) fn parse_options(pairs: &[(String, String)]) -> Result<Options, ApiError> {
    let mut options = Options {
        batch: false,
        max_in_flight: DEFAULT_BATCH,
    };
    for (name, value) in pairs {
        match name.as_str() {
            "batch" => {
                options.batch = value.parse().map_err(|_| {
                    ApiError::bad_request(format!("batch must be true or false, got '{value}'"))
                })?;
            }
            "max_in_flight" => {
                options.max_in_flight = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_BATCH).contains(n))
                    .ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "max_in_flight must be 1 to {MAX_BATCH}, got '{value}'"
                        ))
                    })?;
            }
            _ => {}
        }
    }
    Ok(options)
}

/// The `Sec-WebSocket-Accept` value for a valid version-13 upgrade request.
fn handshake_key(req: &Request<Incoming>) -> Result<String, ApiError> {
    let headers = req.headers();
    let has = |name: hyper::header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    if !has(UPGRADE, "websocket") || !has(CONNECTION, "upgrade") {
        return Err(ApiError::new(
            StatusCode::UPGRADE_REQUIRED,
            1,
            "this endpoint speaks WebSocket: send Connection: Upgrade and Upgrade: websocket",
        ));
    }
    if headers
        .get("sec-websocket-version")
        .and_then(|v| v.to_str().ok())
        != Some("13")
    {
        return Err(ApiError::bad_request("Sec-WebSocket-Version must be 13"));
    }
    let key = headers
        .get(SEC_WEBSOCKET_KEY)
        .ok_or_else(|| ApiError::bad_request("Sec-WebSocket-Key is missing"))?;
    Ok(derive_accept_key(key.as_bytes()))
}

/// The parsers a client's bytes meet after the upgrade, without a broker: WebSocket framing
/// (server role, the sockets' own settings and a 64 KiB frame limit), then each text message
/// as both kinds of socket read it.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn fuzz_frames(data: &[u8]) {
    use tokio_tungstenite::tungstenite::{Message, WebSocket, protocol::Role};

    /// The client's bytes to read; what the server writes (pongs, closes) is dropped.
    struct Wire(std::io::Cursor<Vec<u8>>);
    impl std::io::Read for Wire {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.0.read(buf)
        }
    }
    impl std::io::Write for Wire {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    let wire = Wire(std::io::Cursor::new(data.to_vec()));
    let config = session::socket_config(64 << 10);
    let mut socket = WebSocket::from_raw_socket(wire, Role::Server, Some(config));
    // Bounded: each read consumes input or fails, but a close handshake may repeat.
    for _ in 0..256 {
        match socket.read() {
            Ok(Message::Text(text)) => {
                session::fuzz_text(&text);
                multiplex::fuzz_text(&text);
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
}
