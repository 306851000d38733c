//! The HTTP front end: a hyper 1 server carrying the native JSON API and operations endpoints.
//!
//! It decodes requests, calls the [`Broker`], and encodes answers; it holds no storage logic
//! and never touches the log below the broker. Error-to-status mapping lives in one place,
//! [`error`].

pub mod auth;
pub mod client_cert;
mod cloudevents;
mod connection;
mod error;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzz;
mod handlers;
pub mod limits;
mod metrics;
pub mod oidc;
mod openapi;
mod router;
mod starting;
pub mod tls;
mod wire;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

pub use error::ApiError;
pub use starting::serve_starting;

use crate::broker::Broker;

/// HTTP settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Largest request body accepted, in bytes (larger → 413).
    pub max_body_bytes: usize,
    /// Largest plugin upload accepted, in bytes.
    pub max_plugin_bytes: usize,
    /// Most concurrent connections; further ones wait in the accept queue.
    pub max_connections: usize,
    /// How long in-flight requests may take to finish at shutdown.
    pub drain_timeout: Duration,
    /// Bytes all fetches in flight may reserve together (each reserves twice its `max_bytes`:
    /// the records read plus their encoding); a fetch waits up to its timeout for budget.
    pub fetch_budget_bytes: usize,
    /// Most records one produce request may carry (counted while decoding).
    pub max_records_per_request: usize,
    /// How long a client may take to send a request's headers; hyper starts the clock when it
    /// waits for a request, so it also closes keep-alive connections idle that long.
    pub header_read_timeout: Duration,
    /// TLS on the listener; `None` serves plain HTTP/1.1.
    pub tls: Option<Arc<tls::Tls>>,
    /// Authentication.
    pub auth: auth::AuthConfig,
    /// Limits per principal (requests, bytes, streams).
    pub principal_limits: limits::Quotas,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 8 << 20,
            max_plugin_bytes: crate::broker::DEFAULT_MAX_COMPONENT_BYTES,
            max_connections: 10_000,
            drain_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            max_records_per_request: crate::broker::DEFAULT_MAX_RECORDS_PER_REQUEST,
            fetch_budget_bytes: 256 << 20,
            tls: None,
            auth: auth::AuthConfig::default(),
            principal_limits: limits::Quotas::default(),
        }
    }
}

/// What every handler can reach: the broker acting for the request's principal, and the
/// server's shared parts (through `Deref`).
pub(crate) struct AppState {
    pub(crate) broker: Broker,
    /// Who the request acts for (a superuser until authentication says otherwise).
    pub(crate) principal: Arc<crate::broker::Principal>,
    shared: Arc<Shared>,
}

/// The parts of the state every request shares.
pub(crate) struct Shared {
    pub(crate) config: HttpConfig,
    pub(crate) metrics: metrics::Metrics,
    /// Cancelled at shutdown, so long polls return early.
    pub(crate) shutdown: CancellationToken,
    /// The in-flight fetch budget, one permit per KiB.
    pub(crate) fetch_budget: Arc<Semaphore>,
    /// Upgraded WebSocket sessions: none is detached, and shutdown waits for them.
    pub(crate) sessions: tokio_util::task::TaskTracker,
    /// Limits per principal.
    pub(crate) limits: Arc<limits::PrincipalLimits>,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.shared
    }
}

impl AppState {
    /// The same state with the broker acting for `principal` (its ACLs apply).
    pub(crate) fn acting_as(&self, principal: crate::broker::Principal) -> Self {
        Self {
            broker: self.broker.acting_as(principal.clone()),
            principal: Arc::new(principal),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl Shared {
    /// Size of the fetch budget in permits (KiB).
    pub(crate) fn fetch_budget_permits(&self) -> usize {
        (self.config.fetch_budget_bytes >> 10).max(1)
    }
}

/// The next connection; accept errors (EMFILE and friends) back off instead of spinning.
/// Cancel safe: nothing is lost when it is dropped.
pub(crate) async fn accept(listener: &TcpListener) -> (tokio::net::TcpStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok(pair) => return pair,
            Err(e) => {
                tracing::warn!(error = %e, "Accept failed.");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Serves HTTP on `listener` until `shutdown` is cancelled, then stops accepting and lets
/// in-flight requests finish (up to `drain_timeout`).
///
/// # Cancel safety
/// Meant to be awaited to completion; cancel through `shutdown` instead of dropping it.
pub async fn serve(
    listener: TcpListener,
    broker: Broker,
    config: HttpConfig,
    shutdown: CancellationToken,
) {
    let drain_timeout = config.drain_timeout;
    let permits = Arc::new(Semaphore::new(config.max_connections));
    let fetch_budget = Arc::new(Semaphore::new((config.fetch_budget_bytes >> 10).max(1)));
    let state = Arc::new(AppState {
        broker,
        principal: Arc::new(crate::broker::Principal {
            name: "ANONYMOUS".into(),
            groups: Vec::new(),
            superuser: true,
            ..crate::broker::Principal::default()
        }),
        shared: Arc::new(Shared {
            fetch_budget,
            metrics: metrics::Metrics::new(),
            shutdown: shutdown.clone(),
            sessions: tokio_util::task::TaskTracker::new(),
            limits: Arc::new(limits::PrincipalLimits::new(config.principal_limits)),
            config,
        }),
    });
    // Every connection task lives in this set: none is detached, and whatever is still running
    // at the drain deadline is aborted, so `serve` returns only when all of them are gone.
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let permit = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            permit = Arc::clone(&permits).acquire_owned() => permit,
        };
        let Ok(permit) = permit else { break };
        let (stream, peer) = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = accept(&listener) => accepted,
        };
        let _ = stream.set_nodelay(true);
        let settings = connection::Settings {
            tls: state.config.tls.clone(),
            header_timeout: state.config.header_read_timeout,
            service: {
                let state = Arc::clone(&state);
                move |client| router::Service::new(state, peer).with_client(client)
            },
        };
        let stop = shutdown.clone();
        connections.spawn(async move {
            connection::serve(stream, peer, settings, stop).await;
            drop(permit);
        });
    }
    drop(listener);
    // One deadline, from the moment shutdown began, for connections and sessions alike.
    let deadline = tokio::time::Instant::now() + drain_timeout;
    let drained = async { while connections.join_next().await.is_some() {} };
    tokio::select! {
        () = drained => tracing::info!("All connections drained."),
        () = tokio::time::sleep_until(deadline) => {
            tracing::warn!(
                timeout = ?drain_timeout,
                connections = connections.len(),
                "Drain deadline passed; aborting the remaining connections."
            );
        }
    }
    connections.shutdown().await;
    // WebSocket sessions saw the cancellation and are closing (1001); they get what is left
    // of the same deadline.
    state.sessions.close();
    if tokio::time::timeout_at(deadline, state.sessions.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            sessions = state.sessions.len(),
            "WebSocket sessions outlived the drain deadline."
        );
    }
}

/// Binds a listener, logging the bound address (tests and scripts read it).
///
/// # Errors
/// The address cannot be bound.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let listener = TcpListener::bind(addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "listening");
    Ok(listener)
}
