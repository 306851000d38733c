//! The native HTTP API end to end: topics, produce, fetch, long poll, timestamps, idempotency,
//! partitioning, metrics, restart.

use std::time::{Duration, Instant};

use hyper::{Method, StatusCode};
use serde_json::json;
use tidegate::event::partition_for_key;

use crate::support::TestGateway;

#[tokio::test]
async fn topic_lifecycle() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    let created = c
        .post("/v1/topics", &json!({"name": "orders", "partitions": 3, "config": {"retention.ms": 3_600_000, "cleanup.policy": "delete"}}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.json);
    assert_eq!(created.json["name"], "orders");
    assert_eq!(created.json["partitions"].as_array().unwrap().len(), 3);
    assert_eq!(created.json["config"]["retention.ms"], 3_600_000);

    let again = c.post("/v1/topics", &json!({"name": "orders"})).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.json["error_code"], 40901);

    let list = c.get("/v1/topics").await;
    let names: Vec<_> = list
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(names.contains(&"orders".to_owned()), "{names:?}");

    let altered = c
        .send(
            Method::PATCH,
            "/v1/topics/orders",
            serde_json::to_vec(&json!({"config": {"retention.ms": "1000"}})).unwrap(),
            &[],
        )
        .await;
    assert_eq!(altered.status, StatusCode::OK, "{:?}", altered.json);
    assert_eq!(
        c.get("/v1/topics/orders").await.json["config"]["retention.ms"],
        1000
    );

    assert_eq!(
        c.delete("/v1/topics/orders").await.status,
        StatusCode::NO_CONTENT
    );
    let gone = c.get("/v1/topics/orders").await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.json["error_code"], 40401);
    gw.stop().await;
}

#[tokio::test]
async fn produce_then_fetch_returns_exactly_what_was_sent() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_topic("events", 1).await;
    let offsets = c
        .produce(
            "events",
            json!([
                {"key": "user-1", "value": {"n": 1, "s": "héllo"}, "headers": {"trace": "abc"}},
                {"value": [1, 2, 3]},
                {"key_base64": "AAE=", "value_base64": "/w=="},
                {"key": {"id": 7}, "value": null},
            ]),
        )
        .await;
    assert_eq!(offsets, vec![(0, 0), (0, 1), (0, 2), (0, 3)]);

    let r = c.fetch("events", 0, "offset=0").await;
    assert_eq!(r.status, StatusCode::OK);
    let recs = r.json["records"].as_array().unwrap();
    assert_eq!(recs.len(), 4);
    assert_eq!(recs[0]["key"], "user-1");
    assert_eq!(recs[0]["value"], json!({"n": 1, "s": "héllo"}));
    assert_eq!(recs[0]["headers"]["trace"], "abc");
    assert_eq!(recs[0]["topic"], "events");
    assert!(recs[0]["timestamp"].as_i64().unwrap() > 1_600_000_000_000);
    assert_eq!(recs[1]["value"], json!([1, 2, 3]));
    assert_eq!(recs[1]["key"], serde_json::Value::Null);
    assert_eq!(recs[2]["key_base64"], "AAE=");
    assert_eq!(recs[2]["value_base64"], "/w==");
    assert_eq!(recs[3]["value"], serde_json::Value::Null);
    assert_eq!(r.json["next_offset"], 4);

    let tail = c.fetch("events", 0, "offset=2&max_records=1").await;
    assert_eq!(tail.json["records"][0]["offset"], 2);
    assert_eq!(tail.json["next_offset"], 3);
    let latest = c.fetch("events", 0, "offset=latest").await;
    assert_eq!(latest.json["records"].as_array().unwrap().len(), 0);
    assert_eq!(latest.json["next_offset"], 4);
    let earliest = c.fetch("events", 0, "offset=earliest&max_records=2").await;
    assert_eq!(earliest.json["records"].as_array().unwrap().len(), 2);
    gw.stop().await;
}

#[tokio::test]
async fn keys_land_where_kafkas_default_partitioner_puts_them() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_topic("keyed", 6).await;
    let keys: Vec<String> = (0..40).map(|i| format!("customer-{i}")).collect();
    let records: Vec<_> = keys.iter().map(|k| json!({"key": k, "value": 1})).collect();
    let offsets = c.produce("keyed", json!(records)).await;
    for (key, (partition, _)) in keys.iter().zip(&offsets) {
        // The stored key is the JSON text, quotes included.
        let expected = partition_for_key(serde_json::to_string(key).unwrap().as_bytes(), 6);
        assert_eq!(*partition, u64::from(expected), "key {key}");
    }
    // Unkeyed records are spread over every partition.
    let unkeyed: Vec<_> = (0..60).map(|i| json!({"value": i})).collect();
    let offsets = c.produce("keyed", json!(unkeyed)).await;
    let mut per_partition = [0; 6];
    for (p, _) in offsets {
        per_partition[p as usize] += 1;
    }
    assert_eq!(per_partition, [10; 6]);
    // An explicit partition wins.
    assert_eq!(
        c.produce("keyed", json!([{"key": "x", "value": 1, "partition": 5}]))
            .await[0]
            .0,
        5
    );
    gw.stop().await;
}

#[tokio::test]
async fn long_poll_wakes_on_append() {
    let gw = TestGateway::start().await;
    let c = gw.client.clone();
    c.create_topic("live", 1).await;
    let waiter = {
        let c = c.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let r = c.fetch("live", 0, "offset=0&timeout_ms=10000").await;
            (r, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    c.produce("live", json!([{"value": "wake"}])).await;
    let (r, waited) = waiter.await.unwrap();
    assert_eq!(r.json["records"][0]["value"], "wake");
    assert!(waited < Duration::from_secs(5), "long poll took {waited:?}");

    // With nothing appended it returns empty after the timeout.
    let started = Instant::now();
    let r = c.fetch("live", 0, "offset=1&timeout_ms=300").await;
    assert_eq!(r.json["records"].as_array().unwrap().len(), 0);
    assert!(started.elapsed() >= Duration::from_millis(250));
    gw.stop().await;
}

#[tokio::test]
async fn offsets_by_timestamp() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_topic("timed", 1).await;
    let records: Vec<_> = (0..10)
        .map(|i| json!({"value": i, "timestamp": 1_000_000 + i * 1000}))
        .collect();
    c.produce("timed", json!(records)).await;
    let at = |ts: i64| format!("/v1/topics/timed/partitions/0/offsets?timestamp={ts}");
    assert_eq!(c.get(&at(0)).await.json["offset"], 0);
    assert_eq!(c.get(&at(1_004_000)).await.json["offset"], 4);
    assert_eq!(c.get(&at(1_004_500)).await.json["offset"], 5);
    assert_eq!(c.get(&at(9_999_999)).await.json["offset"], 10);
    gw.stop().await;
}

#[tokio::test]
async fn idempotency_key_returns_original_offsets_even_after_restart() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_topic("pay", 2).await;
    let body = serde_json::to_vec(
        &json!({"records": [{"key": "a", "value": 1}, {"key": "b", "value": 2}]}),
    )
    .unwrap();
    let first = c
        .send(
            Method::POST,
            "/v1/topics/pay/records",
            body.clone(),
            &[("Idempotency-Key", "req-1")],
        )
        .await;
    assert_eq!(first.status, StatusCode::OK);
    let again = c
        .send(
            Method::POST,
            "/v1/topics/pay/records",
            body.clone(),
            &[("Idempotency-Key", "req-1")],
        )
        .await;
    assert_eq!(again.json, first.json);
    let total: u64 = c.end_offsets("pay").await.iter().sum();
    assert_eq!(total, 2);

    let dir = gw.stop().await;
    let gw = TestGateway::start_in(dir, Default::default()).await;
    let c = &gw.client;
    let after = c
        .send(
            Method::POST,
            "/v1/topics/pay/records",
            body.clone(),
            &[("Idempotency-Key", "req-1")],
        )
        .await;
    assert_eq!(after.json, first.json);
    let other = c
        .send(
            Method::POST,
            "/v1/topics/pay/records",
            body,
            &[("Idempotency-Key", "req-2")],
        )
        .await;
    assert_ne!(other.json, first.json);
    let total: u64 = c.end_offsets("pay").await.iter().sum();
    assert_eq!(total, 4);
    gw.stop().await;
}

#[tokio::test]
async fn data_and_topics_survive_a_graceful_restart() {
    let gw = TestGateway::start().await;
    gw.client.create_topic("keep", 2).await;
    let records: Vec<_> = (0..100)
        .map(|i| json!({"key": i, "value": {"i": i}}))
        .collect();
    let offsets = gw.client.produce("keep", json!(records)).await;
    let dir = gw.stop().await;

    let gw = TestGateway::start_in(dir, Default::default()).await;
    let ends = gw.client.end_offsets("keep").await;
    assert_eq!(ends.iter().sum::<u64>(), 100);
    for p in 0..2u32 {
        let r = gw
            .client
            .fetch("keep", p, "offset=0&max_records=1000")
            .await;
        let got: Vec<_> = r.json["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["value"]["i"].clone())
            .collect();
        let want: Vec<_> = offsets
            .iter()
            .enumerate()
            .filter(|(_, (part, _))| *part == u64::from(p))
            .map(|(i, _)| json!(i))
            .collect();
        assert_eq!(got, want, "partition {p}");
    }
    // Producing continues at the right offsets.
    let next = gw
        .client
        .produce("keep", json!([{"value": 1, "partition": 0}]))
        .await;
    assert_eq!(next[0], (0, ends[0]));
    gw.stop().await;
}

#[tokio::test]
async fn auto_create_topics_when_enabled() {
    let gw = TestGateway::start_with(|a| a.auto_create_topics = Some(true)).await;
    assert_eq!(
        gw.client.produce("fresh", json!([{"value": 1}])).await,
        vec![(0, 0)]
    );
    assert_eq!(gw.client.end_offsets("fresh").await, vec![1]);
    gw.stop().await;
}

#[tokio::test]
async fn health_metrics_and_openapi() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    assert_eq!(c.get("/healthz").await.status, StatusCode::OK);
    c.create_topic("m", 1).await;
    c.produce("m", json!([{"value": "abc"}])).await;
    c.fetch("m", 0, "offset=0").await;
    c.post(
        "/v1/groups/g1/offsets",
        &json!({"offsets": [{"topic": "m", "partition": 0, "offset": 0}]}),
    )
    .await;
    let text = String::from_utf8(c.get("/metrics").await.raw.to_vec()).unwrap();
    for needle in [
        "tidegate_produce_records_total{topic=\"m\"} 1",
        "tidegate_produce_bytes_total{topic=\"m\"} 5",
        "tidegate_fetch_records_total{topic=\"m\"} 1",
        "tidegate_partition_end_offset{topic=\"m\",partition=\"0\"} 1",
        "tidegate_group_lag{group=\"g1\",topic=\"m\",partition=\"0\"} 1",
        "tidegate_http_request_duration_seconds_bucket{",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
    let api = c.get("/openapi.json").await;
    assert_eq!(api.status, StatusCode::OK);
    for path in [
        "/v1/topics",
        "/v1/topics/{topic}/records",
        "/v1/topics/{topic}/partitions/{partition}/records",
        "/v1/groups/{group}/offsets",
        "/v1/topics/{topic}/validate",
        "/subjects/{subject}/versions",
        "/schemas/ids/{id}",
        "/compatibility/subjects/{subject}/versions/{version}",
        "/config/{subject}",
        "/mode",
        "/consumers/{group}/instances/{instance}/records",
        "/v3/clusters/{cluster}/topics/{topic}/records",
        "/metrics",
    ] {
        assert!(
            api.json["paths"].get(path).is_some(),
            "openapi lacks {path}"
        );
    }
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_of_a_deleted_topic_disappear() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_topic("gone", 1).await;
    c.produce("gone", json!([{"value": 1}])).await;
    c.fetch("gone", 0, "offset=0").await;
    let scrape = || async { String::from_utf8(c.get("/metrics").await.raw.to_vec()).unwrap() };
    assert!(scrape().await.contains("topic=\"gone\""));
    assert_eq!(
        c.delete("/v1/topics/gone").await.status,
        StatusCode::NO_CONTENT
    );
    let text = scrape().await;
    assert!(!text.contains("topic=\"gone\""), "{text}");
    gw.stop().await;
}
