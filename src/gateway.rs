//! The composition root: builds every layer from the validated [`Config`], owns the root
//! cancellation token and the background tasks, and shuts them down in order (stop accepting,
//! drain requests, stop maintenance, flush and fsync the log).
//!
//! It is the only module that uses every other layer.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::broker::{
    self, Broker, BrokerConfig, Engine,
    storage::{FileStorage, MemoryStorage},
};
use crate::config::{Config, StorageSpec};
use crate::http::{self, HttpConfig};
use crate::log::{self, Log, LogConfig};
use crate::{pipeline, plugin};

/// Why the gateway could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The log could not be opened, recovered or closed.
    #[error("log: {0}")]
    Log(#[from] log::Error),
    /// The plugin host could not start.
    #[error("plugins: {0}")]
    Plugin(#[from] plugin::Error),
    /// The broker could not replay its internal topics.
    #[error("broker: {0}")]
    Broker(#[from] broker::Error),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The OIDC key set could not be loaded.
    #[error("{0}")]
    Oidc(#[from] crate::http::oidc::OidcError),
    /// The TLS certificate, key or client CA could not be loaded.
    #[error("tls: {0}")]
    Tls(#[from] crate::http::tls::TlsError),
}

/// A running gateway.
pub struct Gateway {
    addr: SocketAddr,
    broker: Broker,
    cancel: CancellationToken,
    server: JoinHandle<()>,
    maintenance: JoinHandle<()>,
    pipeline: JoinHandle<()>,
    /// The one deadline shutdown gives every task.
    drain_timeout: std::time::Duration,
    /// A throw-away data dir (`--ephemeral`), removed at shutdown.
    ephemeral_dir: Option<std::path::PathBuf>,
}

/// A gateway whose listener is bound and answering while storage recovers: `/healthz` 200,
/// `/readyz` and everything else 503 with `Retry-After`.
pub struct Starting {
    config: Config,
    addr: SocketAddr,
    tls: Option<Arc<http::tls::Tls>>,
    oidc: Option<Arc<http::oidc::Oidc>>,
    ready: CancellationToken,
    interim: JoinHandle<tokio::net::TcpListener>,
}

impl Gateway {
    /// Binds the listener, opens the log, replays internal state and starts serving.
    ///
    /// # Errors
    /// Bind failures, bad certificate or key set files, storage recovery failures.
    pub async fn start(config: Config) -> Result<Self, Error> {
        Self::bind(config).await?.open().await
    }

    /// [`Gateway::start`] over an engine opened by the caller (tests: a simulated disk).
    #[cfg(test)]
    pub(crate) async fn start_on(config: Config, engine: Engine) -> Result<Self, Error> {
        Self::bind(config)
            .await?
            .open_with(async { Ok(engine) })
            .await
    }

    /// Loads the certificate and key set files and binds the listener, which answers "not
    /// ready yet" until [`Starting::open`] has recovered storage.
    ///
    /// # Errors
    /// Bad certificate or key set files, or the address cannot be bound.
    pub async fn bind(config: Config) -> Result<Starting, Error> {
        // Bad certificate or key files fail the start before anything is opened.
        let tls = match config.tls.clone() {
            Some(files) => Some(Arc::new(http::tls::Tls::load(files)?)),
            None => None,
        };
        let oidc = match config.oidc.clone() {
            Some(settings) => Some(Arc::new(http::oidc::Oidc::load(settings).await?)),
            None => None,
        };
        let bind_error = |source| Error::Bind {
            addr: config.listen,
            source,
        };
        let listener = http::bind(config.listen).await.map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        let ready = CancellationToken::new();
        let interim = tokio::spawn(http::serve_starting(
            listener,
            tls.clone(),
            config.header_read_timeout,
            config.max_connections,
            ready.clone(),
        ));
        tracing::info!(%addr, "Listening; recovering storage.");
        Ok(Starting {
            config,
            addr,
            tls,
            oidc,
            ready,
            interim,
        })
    }
}

impl Starting {
    /// The bound address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Opens the storage the configuration names, replays internal state and starts serving.
    ///
    /// # Errors
    /// Storage recovery or replay failures.
    pub async fn open(self) -> Result<Gateway, Error> {
        let config = self.config.clone();
        self.open_with(async move { open_engine(&config).await })
            .await
    }

    /// [`Starting::open`] over the engine `engine` yields.
    pub(crate) async fn open_with(
        self,
        engine: impl Future<Output = Result<Engine, Error>>,
    ) -> Result<Gateway, Error> {
        let Self {
            config,
            addr,
            tls,
            oidc,
            ready,
            interim,
        } = self;
        let opened = open_broker(&config, engine).await;
        ready.cancel();
        let listener = interim.await.map_err(|e| Error::Bind {
            addr,
            source: std::io::Error::other(e),
        })?;
        let broker = opened?;
        let cancel = CancellationToken::new();
        let http_config = HttpConfig {
            max_body_bytes: config.max_body_bytes,
            drain_timeout: config.drain_timeout,
            header_read_timeout: config.header_read_timeout,
            max_connections: config.max_connections,
            max_records_per_request: config.max_records_per_request,
            fetch_budget_bytes: config.fetch_budget_bytes,
            tls: tls.clone(),
            auth: http::auth::AuthConfig {
                oidc,
                ..config.auth.clone()
            },
            principal_limits: config.principal_limits,
            ..HttpConfig::default()
        };
        if let Some(tls) = tls {
            // Ends with the gateway; reloads certificates on SIGHUP and on file changes.
            tokio::spawn(tls.watch(cancel.child_token()));
        }
        let server = tokio::spawn(http::serve(
            listener,
            broker.clone(),
            http_config,
            cancel.child_token(),
        ));
        let maintenance = tokio::spawn(maintain(
            broker.clone(),
            config.maintenance_interval,
            cancel.child_token(),
        ));
        let pipeline = tokio::spawn(pipeline::run(broker.clone(), cancel.child_token()));
        tracing::info!(%addr, storage = ?config.storage, fsync = ?config.fsync,
            tls = config.tls.is_some(), "Tidegate serving.");
        Ok(Gateway {
            addr,
            broker,
            cancel,
            server,
            maintenance,
            pipeline,
            drain_timeout: config.drain_timeout,
            ephemeral_dir: config.ephemeral.then(|| config.data_dir.clone()),
        })
    }
}

/// The engine, the plugin host and the broker over them (internal topics replayed).
async fn open_broker(
    config: &Config,
    engine: impl Future<Output = Result<Engine, Error>>,
) -> Result<Broker, Error> {
    let engine = engine.await?;
    let broker_config = BrokerConfig {
        auto_create_topics: config.auto_create_topics,
        default_partitions: config.default_partitions,
        max_records_per_request: config.max_records_per_request,
        connector_files: Some(config.data_dir.join("connector-files")),
        consumer_instance_timeout_ms: i64::try_from(config.consumer_instance_timeout_ms)
            .unwrap_or(i64::MAX),
        ..BrokerConfig::default()
    };
    let mut plugin_config = plugin::PluginConfig::new(config.data_dir.join("plugins"));
    plugin_config.compiler = compiler_process(config.plugin_compile_max_memory_bytes);
    let plugins = plugin::Host::new(plugin_config)?;
    Ok(Broker::open(engine, plugins, broker_config, broker::now_ms()).await?)
}

impl Gateway {
    /// The bound address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The broker, for in-process use.
    #[must_use]
    pub fn broker(&self) -> &Broker {
        &self.broker
    }

    /// Stops accepting, drains in-flight requests, stops transforms and maintenance — all
    /// within one deadline (`drain_timeout`), after which whatever is left is aborted — then
    /// flushes and fsyncs storage.
    ///
    /// # Errors
    /// The final flush failed.
    pub async fn shutdown(self) -> Result<(), Error> {
        self.cancel.cancel();
        let deadline = tokio::time::Instant::now() + self.drain_timeout;
        for (name, task) in [
            ("HTTP server", self.server),
            ("Pipeline", self.pipeline),
            ("Maintenance", self.maintenance),
        ] {
            let abort = task.abort_handle();
            match tokio::time::timeout_at(deadline, task).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(task = name, error = %e, "Task failed."),
                Err(_) => {
                    abort.abort();
                    tracing::warn!(task = name, "Shutdown deadline passed; task aborted.");
                }
            }
        }
        self.broker.close().await?;
        tracing::info!("Storage flushed and closed.");
        if let Some(dir) = self.ephemeral_dir
            && let Err(e) = std::fs::remove_dir_all(&dir)
        {
            tracing::warn!(dir = %dir.display(), error = %e, "Cannot remove the ephemeral data dir.");
        }
        Ok(())
    }
}

/// Opens the storage engine the configuration names.
async fn open_engine(config: &Config) -> Result<Engine, Error> {
    Ok(match &config.storage {
        StorageSpec::File(dir) => {
            let log = Log::open(LogConfig {
                dir: dir.clone(),
                fsync: config.fsync,
                segment_bytes: config.segment_bytes,
                compaction_map_entries: config.compaction_map_entries,
                ..LogConfig::new(dir.clone())
            })
            .await?;
            Engine::File(FileStorage::new(log))
        }
        StorageSpec::Memory => {
            tracing::warn!("Storage is memory://: nothing survives this process.");
            Engine::Memory(MemoryStorage::new())
        }
    })
}

/// Runs the gateway until `shutdown` resolves, then shuts it down gracefully.
///
/// # Errors
/// Start-up or final flush failures.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
    let gateway = Gateway::start(config).await?;
    shutdown.await;
    tracing::info!("Shutting down.");
    gateway.shutdown().await
}

/// Periodic retention, compaction, age-based rolls and group expiry (storage engines keep
/// their file work off the async workers).
async fn maintain(broker: Broker, every: std::time::Duration, cancel: CancellationToken) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            _ = ticker.tick() => {}
        }
        match broker.maintain(broker::now_ms()).await {
            Ok(report) if report.changed_anything() => {
                tracing::info!(?report, "Maintenance pass done.");
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "Maintenance pass failed."),
        }
    }
}

/// Plugin uploads compile in a child `tidegate plugin-compile` under a memory cap — when this
/// process is the `tidegate` binary. Embedded in another program (tests, benches) they compile
/// in-process, bounded by the upload size limit only.
fn compiler_process(max_memory_bytes: u64) -> Option<plugin::CompilerProcess> {
    let program = std::env::current_exe().ok()?;
    if program.file_stem()? != "tidegate" {
        tracing::info!("Plugins compile in-process (not running as the tidegate binary).");
        return None;
    }
    Some(plugin::CompilerProcess {
        program,
        max_memory_bytes,
    })
}

#[cfg(test)]
mod tests;
