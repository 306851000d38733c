//! Test harness: an in-process gateway on 127.0.0.1:0 over a temp dir, a child-process
//! gateway for kill tests, and a small JSON-over-HTTP client.

pub mod child;
pub mod client;
#[path = "../support_plugins.rs"]
pub mod plugins;
pub mod sse;
pub mod webhook;

use tempfile::TempDir;
use tidegate::config::{Config, ServeArgs};
use tidegate::gateway::Gateway;

pub use client::Client;

/// Runs the `tidegate` binary with `args`, feeding `stdin`: (success, stdout, stderr).
pub fn cli<S: AsRef<std::ffi::OsStr>>(args: &[S], stdin: &str) -> (bool, String, String) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_tidegate"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// A gateway serving from a temp dir; shut it down with [`TestGateway::stop`].
pub struct TestGateway {
    pub gateway: Option<Gateway>,
    pub dir: TempDir,
    pub client: Client,
}

/// The fields of a record in the fetch shape, which every streaming front end sends too.
pub const RECORD_FIELDS: [&str; 7] = [
    "topic",
    "partition",
    "offset",
    "timestamp",
    "key",
    "value",
    "headers",
];

/// Asserts that `record` has every field of the fetch shape.
pub fn assert_record_shape(record: &serde_json::Value) {
    for field in RECORD_FIELDS {
        assert!(
            record.get(field).is_some(),
            "record lacks {field}: {record}"
        );
    }
}

impl TestGateway {
    /// The server's address.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.gateway.as_ref().unwrap().addr()
    }

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
