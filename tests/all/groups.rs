//! Consumer-group offsets: commit, read back with lag, list, survive restart.

use hyper::StatusCode;
use serde_json::json;

use crate::support::TestGateway;

#[tokio::test]
async fn commits_lag_and_restart() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_topic("a", 2).await;
    let records: Vec<_> = (0..10)
        .map(|i| json!({"value": i, "partition": i % 2}))
        .collect();
    c.produce("a", json!(records)).await;
    let commit = json!({"offsets": [{"topic": "a", "partition": 0, "offset": 3}, {"topic": "a", "partition": 1, "offset": 5}]});
    assert_eq!(
        c.post("/v1/groups/billing/offsets", &commit).await.status,
        StatusCode::NO_CONTENT
    );
    let r = c.get("/v1/groups/billing/offsets").await;
    assert_eq!(
        r.json["offsets"],
        json!([{"topic": "a", "partition": 0, "offset": 3, "lag": 2}, {"topic": "a", "partition": 1, "offset": 5, "lag": 0}])
    );
    assert_eq!(c.get("/v1/groups").await.json["groups"], json!(["billing"]));

    // Refused commits change nothing.
    let bad = json!({"offsets": [{"topic": "a", "partition": 0, "offset": 4}, {"topic": "a", "partition": 0, "offset": 99}]});
    assert_eq!(
        c.post("/v1/groups/billing/offsets", &bad).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let unknown = json!({"offsets": [{"topic": "zz", "partition": 0, "offset": 0}]});
    assert_eq!(
        c.post("/v1/groups/billing/offsets", &unknown).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.get("/v1/groups/billing/offsets").await.json["offsets"][0]["offset"],
        3
    );
    assert_eq!(
        c.get("/v1/groups/nobody/offsets").await.status,
        StatusCode::NOT_FOUND
    );

    let dir = gw.stop().await;
    let gw = TestGateway::start_in(dir, Default::default()).await;
    let r = gw.client.get("/v1/groups/billing/offsets").await;
    assert_eq!(r.json["offsets"][0]["offset"], 3);
    assert_eq!(r.json["offsets"][1]["offset"], 5);
    gw.stop().await;
}
