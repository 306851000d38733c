//! One accepted connection, served to its end: plain HTTP/1.1 (with upgrades, for
//! WebSocket), or TLS with HTTP/1.1 or HTTP/2 as ALPN chose.
//!
//! Owns the handshake deadline (a client that stalls mid-handshake is dropped after the
//! header-read timeout, like one that stalls before its headers) and the graceful end at
//! shutdown: the request in flight finishes, then the connection closes. It must not route.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::router::Body;
use super::tls::Tls;

/// How to serve one connection: TLS (or plain), the header-read deadline, and the service
/// to build once the client certificate's principal (if any) is known.
pub(super) struct Settings<F> {
    pub(super) tls: Option<Arc<Tls>>,
    pub(super) header_timeout: Duration,
    pub(super) service: F,
}

/// Serves `stream` until it closes or `stop` ends it gracefully.
pub(super) async fn serve<F, S>(
    stream: TcpStream,
    peer: SocketAddr,
    settings: Settings<F>,
    stop: CancellationToken,
) where
    F: FnOnce(Option<String>) -> S,
    S: hyper::service::Service<Request<Incoming>, Response = Response<Body>, Error = Infallible>
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let Settings {
        tls,
        header_timeout,
        service,
    } = settings;
    let Some(tls) = tls else {
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .keep_alive(true)
            .serve_connection(TokioIo::new(stream), service(None))
            .with_upgrades();
        let ended = drive(conn, &stop, |c| c.graceful_shutdown()).await;
        if let Err(e) = ended {
            tracing::debug!(peer = %peer, error = %e, "Connection ended with an error.");
        }
        return;
    };
    let handshake = tokio::select! {
        () = stop.cancelled() => return,
        done = tokio::time::timeout(header_timeout, tls.acceptor().accept(stream)) => done,
    };
    let stream = match handshake {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            tracing::debug!(peer = %peer, error = %e, "TLS handshake refused.");
            return;
        }
        Err(_) => {
            tracing::debug!(peer = %peer, "TLS handshake timed out.");
            return;
        }
    };
    let client = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(|leaf| super::client_cert::principal(leaf, tls.client_principal()));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    builder.http2().timer(TokioTimer::new());
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service(client));
    let ended = drive(conn, &stop, |c| c.graceful_shutdown()).await;
    if let Err(e) = ended {
        tracing::debug!(peer = %peer, error = %e, "TLS connection ended with an error.");
    }
}

/// Runs `conn` to its end; at shutdown, `graceful` lets the request in flight finish and then
/// closes (keep-alive ends).
async fn drive<C: Future>(
    conn: C,
    stop: &CancellationToken,
    graceful: fn(Pin<&mut C>),
) -> C::Output {
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        ended = conn.as_mut() => ended,
        () = stop.cancelled() => {
            graceful(conn.as_mut());
            conn.await
        }
    }
}
