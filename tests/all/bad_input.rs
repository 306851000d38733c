//! Bad input gets its status and a JSON error body, the server stays up, and end offsets do
//! not move.

use hyper::{Method, StatusCode};
use serde_json::json;

use crate::support::{Client, TestGateway};

async fn assert_refused(
    c: &Client,
    path: &str,
    body: Vec<u8>,
    status: StatusCode,
    code: u64,
    needle: &str,
) {
    let r = c.send(Method::POST, path, body, &[]).await;
    assert_eq!(r.status, status, "{path}: {:?}", r.raw);
    assert_eq!(r.json["error_code"], code, "{:?}", r.json);
    let message = r.json["message"].as_str().unwrap();
    assert!(
        message.contains(needle),
        "message {message:?} lacks {needle:?}"
    );
}

#[tokio::test]
async fn malformed_and_mistyped_produce_bodies_append_nothing() {
    let gw = TestGateway::start_with(|a| a.max_body_bytes = Some(64 * 1024)).await;
    let c = &gw.client;
    c.post(
        "/v1/topics",
        &json!({"name": "t", "partitions": 2, "config": {"max.message.bytes": 100}}),
    )
    .await;
    c.produce(
        "t",
        json!([{"value": 1, "partition": 0}, {"value": 1, "partition": 1}]),
    )
    .await;
    let before = c.end_offsets("t").await;
    let p = "/v1/topics/t/records";
    let cases: Vec<(Vec<u8>, StatusCode, u64, &str)> = vec![
        (
            b"{not json".to_vec(),
            StatusCode::BAD_REQUEST,
            40001,
            "invalid JSON",
        ),
        (b"".to_vec(), StatusCode::BAD_REQUEST, 40001, "invalid JSON"),
        (
            br#"{"records": "x"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            40001,
            "invalid type",
        ),
        (
            br#"{"records": [{"value": 1, "partition": "zero"}]}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            40001,
            "invalid type",
        ),
        (
            br#"{"records": [{"value": 1, "headers": {"h": 5}}]}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            40001,
            "invalid type",
        ),
        (
            br#"{"records": [{"value": 1, "surprise": true}]}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            40001,
            "unknown field",
        ),
        (
            br#"{"records": []}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            42206,
            "at least one record",
        ),
        (
            br#"{"records": [{"value": 1}, {"value": 2, "value_base64": "AA=="}]}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            42208,
            "record 1",
        ),
        (
            br#"{"records": [{"value_base64": "%%%"}]}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            42208,
            "base64",
        ),
        (
            serde_json::to_vec(&json!({"records": [{"value": 1}, {"value": "x".repeat(200)}]}))
                .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            42204,
            "record 1",
        ),
        (
            br#"{"records": [{"value": 1}, {"value": 1, "partition": 9}]}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            42205,
            "partition 9",
        ),
        (
            serde_json::to_vec(&json!({"records": [{"value": "y".repeat(70 * 1024)}]})).unwrap(),
            StatusCode::PAYLOAD_TOO_LARGE,
            41301,
            "limit",
        ),
    ];
    for (body, status, code, needle) in cases {
        assert_refused(c, p, body, status, code, needle).await;
    }
    assert_eq!(
        c.end_offsets("t").await,
        before,
        "a refused request appended something"
    );
    // The server still serves.
    assert_eq!(
        c.produce("t", json!([{"value": 2, "partition": 0}])).await,
        vec![(0, before[0])]
    );
    gw.stop().await;
}

#[tokio::test]
async fn unknown_topics_partitions_and_offsets() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    let r = c
        .post(
            "/v1/topics/nope/records",
            &json!({"records": [{"value": 1}]}),
        )
        .await;
    assert_eq!(
        (r.status, r.json["error_code"].as_u64()),
        (StatusCode::NOT_FOUND, Some(40401))
    );
    assert!(r.json["message"].as_str().unwrap().contains("nope"));
    assert_eq!(
        c.get("/v1/topics")
            .await
            .json
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["name"] == "nope")
            .count(),
        0
    );

    c.create_topic("t", 1).await;
    c.produce("t", json!([{"value": 1}, {"value": 2}])).await;
    let r = c.fetch("t", 3, "offset=0").await;
    assert_eq!(
        (r.status, r.json["error_code"].as_u64()),
        (StatusCode::NOT_FOUND, Some(40402))
    );
    let r = c.fetch("t", 0, "offset=5").await;
    assert_eq!(
        (r.status, r.json["error_code"].as_u64()),
        (StatusCode::RANGE_NOT_SATISFIABLE, Some(41601))
    );
    let message = r.json["message"].as_str().unwrap();
    assert!(
        message.contains('0') && message.contains('2'),
        "range not named: {message}"
    );
    let r = c.fetch("t", 0, "offset=abc").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c.get("/v1/topics/t/partitions/x/records").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c.get("/v1/nothing").await;
    assert_eq!(
        (r.status, r.json["error_code"].as_u64()),
        (StatusCode::NOT_FOUND, Some(40400))
    );
    let r = c.send(Method::PUT, "/v1/topics", Vec::new(), &[]).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(c.end_offsets("t").await, vec![2]);
    gw.stop().await;
}

#[tokio::test]
async fn invalid_topic_names_and_configs() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    for name in ["", ".", "..", "a/b", "spaces no", "ünï", &"x".repeat(250)] {
        let r = c.post("/v1/topics", &json!({"name": name})).await;
        assert_eq!(
            (r.status, r.json["error_code"].as_u64()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(42201)),
            "{name:?}"
        );
    }
    let bad_configs = [
        json!({"cleanup.policy": "sometimes"}),
        json!({"retention.ms": "soon"}),
        json!({"retention.ms": -5}),
        json!({"max.message.bytes": 0}),
        json!({"no.such.key": 1}),
    ];
    for config in bad_configs {
        let r = c
            .post("/v1/topics", &json!({"name": "ok", "config": config}))
            .await;
        assert_eq!(
            (r.status, r.json["error_code"].as_u64()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(42203)),
            "{config}"
        );
    }
    for partitions in [0, -1, 100_000] {
        let r = c
            .post(
                "/v1/topics",
                &json!({"name": "ok", "partitions": partitions}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{partitions}");
    }
    assert_eq!(c.get("/v1/topics/ok").await.status, StatusCode::NOT_FOUND);
    // Internal topics are read-only through the API.
    let r = c
        .post(
            "/v1/topics/__consumer_offsets/records",
            &json!({"records": [{"value": 1}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    gw.stop().await;
}
