//! Graceful shutdown: SIGTERM lets in-flight requests finish, flushes, exits 0, and the data
//! is all there after a restart.

use std::time::Duration;

use hyper::StatusCode;
use serde_json::json;

use crate::support::Client;
use crate::support::child::ChildServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_flushes_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ChildServer::start(dir.path(), &["--fsync", "never"]);
    let client = Client::new(server.addr);
    client.create_topic("s", 1).await;
    let records: Vec<_> = (0..500).map(|i| json!({"value": i})).collect();
    client.produce("s", json!(records)).await;
    // A long poll in flight when the signal arrives is answered, not cut off.
    let poll = {
        let client = client.clone();
        tokio::spawn(async move { client.fetch("s", 0, "offset=500&timeout_ms=30000").await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let status = tokio::task::spawn_blocking(move || {
        let status = server.terminate();
        (status, server)
    });
    let (status, _server) = tokio::time::timeout(Duration::from_secs(20), status)
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status {status}");
    let poll = tokio::time::timeout(Duration::from_secs(5), poll)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(poll.status, StatusCode::OK);

    let server = ChildServer::start(dir.path(), &[]);
    let client = Client::new(server.addr);
    assert_eq!(client.end_offsets("s").await, vec![500]);
}
