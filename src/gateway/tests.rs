//! The gateway over a simulated disk: a full disk answers 507 with the JSON error body through
//! the real HTTP server, appends nothing partial, and produce works again once space is freed.

use std::{path::PathBuf, sync::Arc};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::Gateway;
use crate::{
    broker::{Engine, storage::FileStorage},
    config::{Config, ServeArgs},
    durable::fs::sim::SimFs,
    log::{Log, LogConfig},
};

/// One HTTP/1.1 request on a fresh connection; returns the status and the JSON body.
async fn call(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, serde_json::Value) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    let status = text[9..12].parse().unwrap();
    let (_, rest) = text.split_once("\r\n\r\n").unwrap();
    // Bodies may be chunked: take the JSON between the first '{' and the last '}'.
    let json = rest
        .find('{')
        .zip(rest.rfind('}'))
        .map_or("null", |(a, b)| &rest[a..=b]);
    (status, serde_json::from_str(json).unwrap())
}

/// A loopback, port-0 configuration over `dir`.
fn config_in(dir: &std::path::Path) -> Config {
    let args = ServeArgs {
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(dir.to_path_buf()),
        ..ServeArgs::default()
    };
    Config::load(&args).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_507_appends_nothing_and_recovers() {
    let sim = SimFs::new(7);
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path());
    let log = Log::open(LogConfig {
        fs: sim.clone(),
        ..LogConfig::new(PathBuf::from("/data"))
    })
    .await
    .unwrap();
    let engine = Engine::File(FileStorage::new(Arc::clone(&log)));
    let gw = Gateway::start_on(config, engine).await.unwrap();
    let addr = gw.addr();

    let (status, _) = call(
        addr,
        "POST",
        "/v1/topics",
        r#"{"name":"full","partitions":1}"#,
    )
    .await;
    assert_eq!(status, 201);
    let produce = |v: &str| format!(r#"{{"records":[{{"value":"{v}"}}]}}"#);
    let (status, _) = call(addr, "POST", "/v1/topics/full/records", &produce("first")).await;
    assert_eq!(status, 200);

    sim.set_space_limit(Some(sim.used() + 16));
    let big = "x".repeat(4096);
    let (status, body) = call(addr, "POST", "/v1/topics/full/records", &produce(&big)).await;
    assert_eq!(status, 507, "{body}");
    assert_eq!(body["error_code"], 50701, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));

    let fetch = "/v1/topics/full/partitions/0/records?offset=0";
    let (status, body) = call(addr, "GET", fetch, "").await;
    assert_eq!(status, 200);
    assert_eq!(body["records"].as_array().unwrap().len(), 1, "{body}");

    sim.set_space_limit(None);
    let (status, body) = call(addr, "POST", "/v1/topics/full/records", &produce("again")).await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = call(addr, "GET", fetch, "").await;
    let offsets: Vec<u64> = body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["offset"].as_u64().unwrap())
        .collect();
    assert_eq!(offsets, [0, 1]);
    gw.shutdown().await.unwrap();
}

/// The listener answers from the moment it is bound: while storage recovers, `/healthz` is
/// 200 (the process is alive), `/readyz` and the API are 503 with `Retry-After`; once
/// recovery ends, the same port serves the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_answers_503_until_storage_has_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path());
    let starting = Gateway::bind(config).await.unwrap();
    let addr = starting.addr();
    let (finish_recovery, recovered) = tokio::sync::oneshot::channel::<()>();
    let opening = tokio::spawn(starting.open_with(async move {
        let _ = recovered.await;
        Ok(Engine::Memory(crate::broker::storage::MemoryStorage::new()))
    }));

    assert_eq!(call(addr, "GET", "/healthz", "").await.0, 200);
    let (status, body) = call(addr, "GET", "/readyz", "").await;
    assert_eq!(
        (status, &body["status"]),
        (503, &serde_json::json!("recovering"))
    );
    let (status, body) = call(addr, "POST", "/v1/topics", r#"{"name":"t"}"#).await;
    assert_eq!(
        (status, &body["error_code"]),
        (503, &serde_json::json!(50301))
    );
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /v1/topics HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).await.unwrap();
    assert!(raw.to_ascii_lowercase().contains("retry-after: 1"), "{raw}");

    finish_recovery.send(()).unwrap();
    let gw = opening.await.unwrap().unwrap();
    assert_eq!(gw.addr(), addr);
    assert_eq!(call(addr, "GET", "/readyz", "").await.0, 200);
    let (status, _) = call(addr, "POST", "/v1/topics", r#"{"name":"t"}"#).await;
    assert_eq!(status, 201);
    gw.shutdown().await.unwrap();
}
