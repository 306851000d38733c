//! The listener while storage recovers. The port answers from the moment it is bound, so an
//! orchestrator can tell a live process that is still recovering (`/healthz` 200, `/readyz`
//! 503) from a dead one, and clients get a clear 503 with `Retry-After` instead of a refused
//! connection.
//!
//! Owns only that interim answer; it must not reach the broker (there is none yet). TLS and
//! the header deadline are the real server's, through the same connection code.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::header::{HeaderValue, RETRY_AFTER};
use hyper::{Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::connection::{self, Settings};
use super::router::{Body, respond};
use super::tls::Tls;

/// How long connections opened during recovery get to finish their request once the gateway
/// is ready; the real server then takes the listener.
const HANDOVER: Duration = Duration::from_secs(1);

/// Answers on `listener` until `ready` is cancelled, then hands the listener back. At most
/// `max_connections` are open at once, as for the real server: a flood during recovery waits
/// in the accept queue instead of taking the file descriptors recovery needs.
pub async fn serve_starting(
    listener: TcpListener,
    tls: Option<Arc<Tls>>,
    header_timeout: Duration,
    max_connections: usize,
    ready: CancellationToken,
) -> TcpListener {
    let permits = Arc::new(tokio::sync::Semaphore::new(max_connections.max(1)));
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let permit = tokio::select! {
            biased;
            () = ready.cancelled() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            permit = Arc::clone(&permits).acquire_owned() => permit,
        };
        let Ok(permit) = permit else { break };
        let (stream, peer) = tokio::select! {
            biased;
            () = ready.cancelled() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = super::accept(&listener) => accepted,
        };
        let settings = Settings {
            tls: tls.clone(),
            header_timeout,
            service: |_client| hyper::service::service_fn(answer),
        };
        let stop = ready.clone();
        connections.spawn(async move {
            connection::serve(stream, peer, settings, stop).await;
            drop(permit);
        });
    }
    // `ready` also ends those connections gracefully: the request in flight is answered.
    let drained = async { while connections.join_next().await.is_some() {} };
    let _ = tokio::time::timeout(HANDOVER, drained).await;
    connections.shutdown().await;
    listener
}

async fn answer(req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let json = "application/json";
    let mut response = match req.uri().path() {
        "/healthz" => respond(StatusCode::OK, json, &br#"{"status":"ok"}"#[..]),
        "/readyz" => respond(
            StatusCode::SERVICE_UNAVAILABLE,
            json,
            &br#"{"status":"recovering"}"#[..],
        ),
        _ => respond(
            StatusCode::SERVICE_UNAVAILABLE,
            json,
            &br#"{"error_code":50301,"message":"the gateway is recovering its storage; retry shortly"}"#[..],
        ),
    };
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    Ok(response)
}
