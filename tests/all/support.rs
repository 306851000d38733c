//! Test harness: an in-process gateway on 127.0.0.1:0 over a temp dir, a child-process
//! gateway for kill tests, and a small JSON-over-HTTP client.

pub mod child;
pub mod client;
#[path = "../support_plugins.rs"]
pub mod plugins;
pub mod sse;

use tempfile::TempDir;
use tidegate::config::{Config, ServeArgs};
use tidegate::gateway::Gateway;

pub use client::Client;

/// A gateway serving from a temp dir; shut it down with [`TestGateway::stop`].
pub struct TestGateway {
    pub gateway: Option<Gateway>,
    pub dir: TempDir,
    pub client: Client,
}

impl TestGateway {
    /// Starts with the default config (fsync always) in a fresh temp dir.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts with `tune` applied to the args (listen and data dir are set for you).
    pub async fn start_with(tune: impl FnOnce(&mut ServeArgs)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut args = ServeArgs::default();
        tune(&mut args);
        Self::start_in(dir, args).await
    }

    /// Starts over an existing data dir (for restarts).
    pub async fn start_in(dir: TempDir, mut args: ServeArgs) -> Self {
        args.listen = Some("127.0.0.1:0".into());
        args.data_dir = Some(dir.path().to_path_buf());
        let gateway = Gateway::start(Config::load(&args).unwrap()).await.unwrap();
        let client = Client::new(gateway.addr());
        Self {
            gateway: Some(gateway),
            dir,
            client,
        }
    }

    /// Graceful shutdown; returns the data dir for a restart.
    pub async fn stop(mut self) -> TempDir {
        self.gateway.take().unwrap().shutdown().await.unwrap();
        self.dir
    }
}
