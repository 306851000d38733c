//! The storage engine is chosen by `--storage URL`: the same HTTP API over `memory://`, with
//! nothing written to the data dir, and the gateway's own state (groups, idempotency) working.

use hyper::StatusCode;
use serde_json::json;

use crate::support::TestGateway;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_runs_unchanged_over_memory_storage() {
    let gw = TestGateway::start_with(|a| a.storage = Some("memory://".into())).await;
    let c = &gw.client;
    c.create_topic("m", 2).await;
    let offsets = c
        .produce(
            "m",
            json!([{"key": "a", "value": 1}, {"key": "b", "value": 2}]),
        )
        .await;
    assert_eq!(offsets.len(), 2);
    let (p, o) = offsets[0];
    let r = c
        .fetch("m", u32::try_from(p).unwrap(), &format!("offset={o}"))
        .await;
    assert_eq!(r.json["records"][0]["value"], 1);
    let commit = json!({"offsets": [{"topic": "m", "partition": 0, "offset": 0}]});
    assert_eq!(
        c.post("/v1/groups/g/offsets", &commit).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        c.get("/v1/groups/g/offsets").await.json["offsets"][0]["offset"],
        0
    );
    let r = c.get("/v1/topics/nope").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json["error_code"], 40401);
    assert!(
        !gw.dir.path().join("topics").exists(),
        "memory:// writes no log files"
    );
    gw.stop().await;
}

#[tokio::test]
async fn an_unknown_storage_scheme_is_refused_with_its_field() {
    let args = tidegate::config::ServeArgs {
        storage: Some("kafka://localhost:9092".into()),
        ..Default::default()
    };
    let err = tidegate::config::Config::load(&args)
        .unwrap_err()
        .to_string();
    assert!(err.contains("storage:"), "{err}");
}
