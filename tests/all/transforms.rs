//! Plugins and transforms end to end over HTTP: upload real components built from `plugins/`,
//! create transforms, produce, read the outputs; restarts; hostile plugins.

use std::time::{Duration, Instant};

use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Client, TestGateway, plugins};

/// Uploads the guest `name` under `name` and asserts 201.
pub async fn upload(c: &Client, name: &str) -> Value {
    let r = c
        .send(
            Method::PUT,
            &format!("/v1/plugins/{name}"),
            plugins::wasm(name),
            &[("content-type", "application/wasm")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{name}: {:?}", r.json);
    r.json
}

/// Reads every record of every partition of `topic`.
pub async fn read_all(c: &Client, topic: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let partitions = c.end_offsets(topic).await.len() as u32;
    for p in 0..partitions {
        let r = c.fetch(topic, p, "offset=0&max_records=100000").await;
        out.extend(r.json["records"].as_array().unwrap().iter().cloned());
    }
    out
}

/// Waits until `topic` holds `n` records (or fails after `within`).
pub async fn wait_for_records(c: &Client, topic: &str, n: u64, within: Duration) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let total: u64 = c.end_offsets(topic).await.iter().sum();
        if total >= n {
            return read_all(c, topic).await;
        }
        assert!(
            started.elapsed() < within,
            "{topic} has {total} of {n} records after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn values(records: &[Value]) -> Vec<Value> {
    records.iter().map(|r| r["value"].clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_list_describe_delete_plugins() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    let stored = upload(c, "filter").await;
    assert_eq!(stored["name"], "filter");
    assert_eq!(stored["world"], "transform");
    assert!(stored["digest"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(stored["size"], plugins::wasm("filter").len());
    assert!(stored["created"].as_str().unwrap().starts_with("20"));
    assert_eq!(upload(c, "identity-raw").await["world"], "transform-raw");
    let list = c.get("/v1/plugins").await.json;
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(
        c.get("/v1/plugins/filter").await.json["digest"],
        stored["digest"]
    );
    assert_eq!(
        c.delete("/v1/plugins/filter").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        c.get("/v1/plugins/filter").await.status,
        StatusCode::NOT_FOUND
    );

    // Bad uploads: precise 422s, nothing stored.
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            (0..4096u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8)
                .collect(),
            "not a WebAssembly component",
        ),
        (b"\0asm\x01\0\0\0".to_vec(), "core WebAssembly module"),
        (plugins::wasm("other-world").to_vec(), "export"),
        (
            plugins::wasm("forbidden-import").to_vec(),
            "example:forbidden/secrets",
        ),
    ];
    for (body, needle) in cases {
        let r = c
            .send(
                Method::PUT,
                "/v1/plugins/bad",
                body,
                &[("content-type", "application/wasm")],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.json);
        let message = r.json["message"].as_str().unwrap();
        assert!(
            message.to_lowercase().contains(&needle.to_lowercase()),
            "{message:?} lacks {needle:?}"
        );
    }
    assert_eq!(c.get("/v1/plugins/bad").await.status, StatusCode::NOT_FOUND);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_plugin_upload_is_refused_without_reading_it() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let gw = TestGateway::start().await;
    let addr = gw.addr();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "PUT /v1/plugins/big HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/wasm\r\ncontent-length: {}\r\n\r\n",
        33 << 20
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // The answer comes without the body ever being sent.
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer);
    assert!(read.is_ok(), "no answer; got {text:?}");
    assert!(text.starts_with("HTTP/1.1 422"), "{text}");
    assert!(
        text.contains("plugin size limit") && text.contains("42220"),
        "{text}"
    );
    assert_eq!(
        gw.client.get("/v1/plugins/big").await.status,
        StatusCode::NOT_FOUND
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filter_mask_route_and_enrich_count_transform_streams() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    for t in [
        "orders",
        "eu-orders",
        "masked",
        "eu",
        "us",
        "other",
        "counted",
    ] {
        c.create_topic(t, 1).await;
    }
    for p in ["filter", "mask", "route", "enrich-count"] {
        upload(c, p).await;
    }
    let create = |body: Value| async move {
        let r = c.post("/v1/transforms", &body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
        r.json
    };
    let t = create(
        json!({"name": "only-eu", "plugin": "filter", "input": "orders", "outputs": ["eu-orders"],
        "config": {"field": "region", "equals": "eu"}}),
    )
    .await;
    assert_eq!(t["state"], "RUNNING");
    create(json!({"name": "pii", "plugin": "mask", "input": "orders", "outputs": ["masked"], "config": {"fields": "email,card"}})).await;
    create(json!({"name": "router", "plugin": "route", "input": "orders", "outputs": ["other", "eu", "us"],
        "config": {"field": "region", "routes": "eu=1,us=2"}, "batch": {"max_records": 7, "max_wait_ms": 10}})).await;
    create(json!({"name": "counter", "plugin": "enrich-count", "input": "orders", "outputs": ["counted"]})).await;

    let regions = ["eu", "us", "apac", "eu", "us", "eu"];
    let records: Vec<_> = (0..60)
        .map(|i| json!({"key": format!("cust-{}", i % 3), "value": {"i": i, "region": regions[i % 6], "email": "a@b.c", "card": "4111"}}))
        .collect();
    c.produce("orders", json!(records)).await;

    let eu = wait_for_records(c, "eu-orders", 30, Duration::from_secs(30)).await;
    let eu_ids: Vec<_> = eu
        .iter()
        .map(|r| r["value"]["i"].as_u64().unwrap())
        .collect();
    let want: Vec<_> = (0..60u64)
        .filter(|i| regions[*i as usize % 6] == "eu")
        .collect();
    assert_eq!(eu_ids, want, "filter keeps matching records in order");

    let masked = wait_for_records(c, "masked", 60, Duration::from_secs(30)).await;
    for (i, r) in masked.iter().enumerate() {
        assert_eq!(r["value"]["i"], i, "order kept");
        assert_eq!(r["value"]["email"], "***");
        assert_eq!(r["value"]["card"], "***");
        assert_eq!(r["value"]["region"], regions[i % 6]);
        assert_eq!(r["key"], format!("cust-{}", i % 3), "key kept");
    }

    let routed_eu = wait_for_records(c, "eu", 30, Duration::from_secs(30)).await;
    let routed_us = wait_for_records(c, "us", 20, Duration::from_secs(30)).await;
    let routed_other = wait_for_records(c, "other", 10, Duration::from_secs(30)).await;
    assert!(values(&routed_eu).iter().all(|v| v["region"] == "eu"));
    assert!(values(&routed_us).iter().all(|v| v["region"] == "us"));
    assert!(values(&routed_other).iter().all(|v| v["region"] == "apac"));

    let counted = wait_for_records(c, "counted", 60, Duration::from_secs(30)).await;
    for (i, r) in counted.iter().enumerate() {
        // Each key has been seen i/3 + 1 times by record i, across batches.
        assert_eq!(
            r["headers"]["count"],
            (i / 3 + 1).to_string(),
            "record {i}: {r}"
        );
    }

    let status = c.get("/v1/transforms/router").await.json;
    assert_eq!(status["records_in"], 60);
    assert_eq!(status["records_out"], 60);
    assert_eq!(status["lag"], 0);
    assert_eq!(
        c.get("/v1/transforms").await.json.as_array().unwrap().len(),
        4
    );
    // A plugin in use cannot be deleted.
    assert_eq!(
        c.delete("/v1/plugins/route").await.status,
        StatusCode::CONFLICT
    );

    // Restart: the stateful count goes on from its committed state, nothing is redone.
    let dir = gw.stop().await;
    let gw = TestGateway::start_in(dir, Default::default()).await;
    let c = &gw.client;
    c.produce(
        "orders",
        json!([{"key": "cust-0", "value": {"i": 60, "region": "eu"}}]),
    )
    .await;
    let counted = wait_for_records(c, "counted", 61, Duration::from_secs(30)).await;
    assert_eq!(counted.len(), 61);
    assert_eq!(counted[60]["headers"]["count"], "21");
    let eu = wait_for_records(c, "eu-orders", 31, Duration::from_secs(30)).await;
    assert_eq!(eu.len(), 31);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_resume_delete_and_bad_definitions() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_topic("in", 2).await;
    c.create_topic("out", 2).await;
    upload(c, "identity").await;
    upload(c, "filter").await;
    let bad = [
        (
            json!({"name": "x", "plugin": "nope", "input": "in", "outputs": ["out"]}),
            StatusCode::NOT_FOUND,
        ),
        (
            json!({"name": "x", "plugin": "identity", "input": "missing", "outputs": ["out"]}),
            StatusCode::NOT_FOUND,
        ),
        (
            json!({"name": "x", "plugin": "identity", "input": "in", "outputs": []}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"name": "x", "plugin": "identity", "input": "in", "outputs": ["in"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"name": "x/y", "plugin": "identity", "input": "in", "outputs": ["out"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"name": "x", "plugin": "identity", "input": "in", "outputs": ["out"], "on_error": "panic"}),
            StatusCode::BAD_REQUEST,
        ),
        // The guest's own init refuses a config without `field`.
        (
            json!({"name": "x", "plugin": "filter", "input": "in", "outputs": ["out"], "config": {"equals": "1"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (body, status) in bad {
        let r = c.post("/v1/transforms", &body).await;
        assert_eq!(r.status, status, "{body}: {:?}", r.json);
    }
    assert_eq!(c.get("/v1/transforms").await.json, json!([]));

    let r = c
        .post(
            "/v1/transforms",
            &json!({"name": "copy", "plugin": "identity", "input": "in", "outputs": ["out"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
    assert_eq!(
        c.post(
            "/v1/transforms",
            &json!({"name": "copy", "plugin": "identity", "input": "in", "outputs": ["out"]})
        )
        .await
        .status,
        StatusCode::CONFLICT
    );
    let keyed: Vec<_> = (0..20).map(|i| json!({"key": i, "value": i})).collect();
    c.produce("in", json!(keyed)).await;
    wait_for_records(c, "out", 20, Duration::from_secs(30)).await;
    // Keys land where the partitioner puts them in the output too.
    for r in read_all(c, "out").await {
        let key = r["key"].to_string();
        assert_eq!(
            r["partition"],
            tidegate::event::partition_for_key(key.as_bytes(), 2),
            "{r}"
        );
    }

    let paused = c.post("/v1/transforms/copy/pause", &json!({})).await;
    assert_eq!(paused.json["state"], "PAUSED");
    c.produce("in", json!([{"value": "later"}])).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        c.end_offsets("out").await.iter().sum::<u64>(),
        20,
        "a paused transform wrote"
    );
    assert_eq!(c.get("/v1/transforms/copy").await.json["lag"], 1);
    assert_eq!(
        c.post("/v1/transforms/copy/resume", &json!({})).await.json["state"],
        "RUNNING"
    );
    wait_for_records(c, "out", 21, Duration::from_secs(30)).await;

    assert_eq!(
        c.delete("/v1/transforms/copy").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        c.get("/v1/transforms/copy").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.delete("/v1/plugins/identity").await.status,
        StatusCode::NO_CONTENT
    );
    gw.stop().await;
}

/// A plugin written in Python (componentize-py, against the same WIT) runs as a transform and
/// agrees with the Rust filter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_plugin_runs_as_a_transform() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    for t in ["in", "py-out", "rust-out"] {
        c.create_topic(t, 1).await;
    }
    let r = c
        .send(
            Method::PUT,
            "/v1/plugins/py-filter",
            plugins::python_filter(),
            &[("content-type", "application/wasm")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
    assert_eq!(r.json["world"], "transform");
    upload(c, "filter").await;
    let config = json!({"field": "kind", "equals": "order"});
    for (name, plugin, out) in [
        ("py", "py-filter", "py-out"),
        ("rust", "filter", "rust-out"),
    ] {
        let t = json!({"name": name, "plugin": plugin, "input": "in", "outputs": [out], "config": config});
        let r = c.post("/v1/transforms", &t).await;
        assert_eq!(r.status, StatusCode::CREATED, "{name}: {:?}", r.json);
    }
    let kinds = ["order", "refund", "order", "ping"];
    let records: Vec<_> = (0..40)
        .map(|i| json!({"key": i, "value": {"i": i, "kind": kinds[i % 4]}}))
        .collect();
    c.produce("in", json!(records)).await;
    let py = wait_for_records(c, "py-out", 20, Duration::from_secs(60)).await;
    let rust = wait_for_records(c, "rust-out", 20, Duration::from_secs(60)).await;
    assert_eq!(values(&py), values(&rust));
    assert!(values(&py).iter().all(|v| v["kind"] == "order"));
    assert_eq!(
        py.iter().map(|r| r["key"].clone()).collect::<Vec<_>>(),
        rust.iter().map(|r| r["key"].clone()).collect::<Vec<_>>()
    );
    gw.stop().await;
}
