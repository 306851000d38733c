//! Exactly-once transforms across `kill -9`: a child gateway running an identity transform is
//! killed repeatedly while records flow; in the end every input appears in the output exactly
//! once, in order.

use std::time::Duration;

use hyper::{Method, StatusCode};
use serde_json::json;

use crate::support::Client;
use crate::support::child::ChildServer;
use crate::support::plugins;
use crate::transforms::wait_for_records;

const ROUNDS: u64 = 6;
const PER_ROUND: u64 = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transform_output_is_exactly_once_across_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut produced = 0;
    for round in 0..ROUNDS {
        let mut server = ChildServer::start(dir.path(), &[]);
        let c = Client::new(server.addr);
        if round == 0 {
            c.create_topic("src", 1).await;
            c.create_topic("dst", 1).await;
            let r = c
                .send(
                    Method::PUT,
                    "/v1/plugins/identity",
                    plugins::wasm("identity"),
                    &[("content-type", "application/wasm")],
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED);
            let t = json!({"name": "copy", "plugin": "identity", "input": "src", "outputs": ["dst"], "batch": {"max_records": 37, "max_wait_ms": 1}});
            assert_eq!(
                c.post("/v1/transforms", &t).await.status,
                StatusCode::CREATED
            );
        }
        // Produce in small requests so the transform is mid-stream when the kill comes.
        for _ in 0..PER_ROUND / 20 {
            let records: Vec<_> = (produced..produced + 20)
                .map(|i| json!({"value": i}))
                .collect();
            c.produce("src", json!(records)).await;
            produced += 20;
        }
        tokio::time::sleep(Duration::from_millis(20 + round * 40)).await;
        server.kill9();
    }
    let server = ChildServer::start(dir.path(), &[]);
    let c = Client::new(server.addr);
    let out = wait_for_records(&c, "dst", produced, Duration::from_secs(60)).await;
    let got: Vec<u64> = out.iter().map(|r| r["value"].as_u64().unwrap()).collect();
    assert_eq!(
        got,
        (0..produced).collect::<Vec<_>>(),
        "output is not every input exactly once, in order"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        c.end_offsets("dst").await,
        vec![produced],
        "duplicates appeared after catching up"
    );
    let status = c.get("/v1/transforms/copy").await.json;
    assert_eq!(status["lag"], 0, "{status}");
}

/// The recovery path itself, made deterministic: a batch whose outputs were half written
/// (as a crash between writing and committing leaves it) is completed with only the missing
/// outputs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_written_batch_is_completed_without_duplicates() {
    let gw = crate::support::TestGateway::start().await;
    let c = &gw.client;
    c.create_topic("src", 1).await;
    c.create_topic("dst", 1).await;
    crate::transforms::upload(c, "identity").await;
    let t = json!({"name": "copy", "plugin": "identity", "input": "src", "outputs": ["dst"],
        "batch": {"max_records": 10, "max_wait_ms": 0}});
    assert_eq!(
        c.post("/v1/transforms", &t).await.status,
        StatusCode::CREATED
    );
    // Let it commit its starting point, then stop it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        c.post("/v1/transforms/copy/pause", &json!({})).await.json["state"],
        "PAUSED"
    );
    let records: Vec<_> = (0..10).map(|i| json!({"value": i})).collect();
    c.produce("src", json!(records)).await;
    // What the interrupted attempt got out: outputs 0..5 of the batch covering offsets 0..10.
    let half: Vec<_> = (0..5)
        .map(|i| json!({"value": i, "headers": {"tidegate.tx": format!("copy/0/0/10/{i}")}}))
        .collect();
    c.produce("dst", json!(half)).await;

    assert_eq!(
        c.post("/v1/transforms/copy/resume", &json!({})).await.json["state"],
        "RUNNING"
    );
    let out = wait_for_records(c, "dst", 10, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        c.end_offsets("dst").await,
        vec![10],
        "outputs were duplicated"
    );
    let got: Vec<_> = out.iter().map(|r| r["value"].as_u64().unwrap()).collect();
    assert_eq!(got, (0..10).collect::<Vec<_>>());
    let tags: Vec<_> = out
        .iter()
        .map(|r| r["headers"]["tidegate.tx"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(tags[9], "copy/0/0/10/9");
    let status = c.get("/v1/transforms/copy").await.json;
    assert_eq!(status["lag"], 0, "{status}");
    gw.stop().await;
}
