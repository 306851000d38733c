//! Connectors end to end: real connector components from `plugins/` against a real webhook
//! receiver on loopback, through Kafka Connect's REST API.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::webhook::Webhook;
use crate::support::{Client, TestGateway, plugins};

const WAIT: Duration = Duration::from_secs(60);

/// Uploads the guest crate `crate_name` as plugin `name`.
pub async fn upload_as(c: &Client, crate_name: &str, name: &str) {
    let r = c
        .send(
            Method::PUT,
            &format!("/v1/plugins/{name}"),
            plugins::wasm(crate_name),
            &[("content-type", "application/wasm")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
}

pub async fn put(c: &Client, path: &str, body: &Value) -> crate::support::client::Reply {
    c.send(Method::PUT, path, serde_json::to_vec(body).unwrap(), &[])
        .await
}

/// Creates connector `name` with `config` and asserts 201.
pub async fn create(c: &Client, name: &str, config: Value) -> Value {
    let r = c
        .post("/connectors", &json!({"name": name, "config": config}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
    r.json
}

/// Waits until the connector's status satisfies `done` (state changes are events in the
/// gateway, not here: this polls the status endpoint).
pub async fn wait_status(c: &Client, name: &str, done: impl Fn(&Value) -> bool) -> Value {
    // The status endpoint has no long poll: retry until it matches, a bounded number of times
    // (about a minute in all).
    let mut last = Value::Null;
    for _ in 0..3_000 {
        last = c.get(&format!("/connectors/{name}/status")).await.json;
        if done(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("status never matched: {last}");
}

/// A gateway with topic `topic` and the `http-sink` plugin, and a webhook receiver.
async fn http_sink_setup(topic: &str, partitions: u32) -> (TestGateway, Webhook) {
    let gw = TestGateway::start().await;
    let hook = Webhook::start().await;
    gw.client.create_topic(topic, partitions).await;
    upload_as(&gw.client, "http-sink", "http-sink").await;
    (gw, hook)
}

fn sink_config(hook: &Webhook, topics: &str) -> Value {
    json!({
        "connector.class": "http-sink",
        "topics": topics,
        "url": hook.url("/hook"),
        "tidegate.http.allow": hook.addr.to_string(),
        "tidegate.batch.max.wait.ms": "5",
        "errors.retry.delay.max.ms": "500",
    })
}

/// Checks the receiver's acknowledged deliveries: per partition, offsets strictly
/// increasing and, all together, exactly `expected` per partition from offset 0.
fn assert_in_order_exactly_once(hook: &Webhook, expected: &BTreeMap<u64, u64>) {
    let mut last: BTreeMap<u64, u64> = BTreeMap::new();
    let mut seen = HashSet::new();
    for d in hook.acknowledged() {
        for (p, o) in d.coordinates() {
            if let Some(prev) = last.get(&p) {
                assert!(o > *prev, "partition {p}: offset {o} after {prev}");
            }
            last.insert(p, o);
            assert!(seen.insert((p, o)), "({p}, {o}) acknowledged twice");
        }
    }
    for (p, n) in expected {
        for o in 0..*n {
            assert!(seen.contains(&(*p, o)), "({p}, {o}) never delivered");
        }
    }
    assert_eq!(seen.len() as u64, expected.values().sum::<u64>());
}

async fn produce_keyed(c: &Client, topic: &str, n: u64) -> BTreeMap<u64, u64> {
    let mut per_partition = BTreeMap::new();
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let records: Vec<Value> = chunk
            .iter()
            .map(|i| json!({"key": format!("k{}", i % 97), "value": {"n": i}}))
            .collect();
        for (p, _) in c.produce(topic, json!(records)).await {
            *per_partition.entry(p).or_insert(0) += 1;
        }
    }
    per_partition
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_sink_delivers_ten_thousand_in_order_through_an_outage() {
    let (gw, hook) = http_sink_setup("orders", 3).await;
    let c = &gw.client;
    // The receiver is down for the first 15 requests: retried with backoff, nothing lost.
    hook.fail_next(15);
    let info = create(c, "hook", sink_config(&hook, "orders")).await;
    assert_eq!(info["name"], "hook");
    assert_eq!(info["type"], "sink");
    assert_eq!(info["tasks"], json!([{"connector": "hook", "task": 0}]));
    let expected = produce_keyed(c, "orders", 10_000).await;
    hook.wait_acked(10_000, WAIT).await;
    assert_in_order_exactly_once(&hook, &expected);
    let failed = hook.deliveries().iter().filter(|d| d.status == 500).count();
    assert_eq!(failed, 15, "the outage was seen");
    let first = &hook.acknowledged()[0];
    let key = &first.headers["idempotency-key"];
    assert!(key.starts_with("orders/"), "{key}");
    let status = wait_status(c, "hook", |s| {
        s["tidegate"]["records"] == 10_000 && s["tidegate"]["lag"] == 0
    })
    .await;
    assert_eq!(status["connector"]["state"], "RUNNING");
    assert_eq!(status["tasks"][0]["state"], "RUNNING");
    assert!(
        status["tidegate"]["retries"].as_u64().unwrap() >= 15,
        "{status}"
    );
    let metrics = String::from_utf8(c.get("/metrics").await.raw.to_vec()).unwrap();
    assert!(
        metrics.contains("tidegate_connector_records{connector=\"hook\"} 10000"),
        "{metrics}"
    );
    assert!(metrics.contains("tidegate_connector_running{connector=\"hook\"} 1"));
    assert!(metrics.contains("tidegate_connector_lag{connector=\"hook\"} 0"));
    // Offsets are committed after acknowledgement: KIP-875's shape, next offset per partition.
    let offsets = c.get("/connectors/hook/offsets").await.json;
    let mut got = BTreeMap::new();
    for o in offsets["offsets"].as_array().unwrap() {
        assert_eq!(o["partition"]["kafka_topic"], "orders");
        got.insert(
            o["partition"]["kafka_partition"].as_u64().unwrap(),
            o["offset"]["kafka_offset"].as_u64().unwrap(),
        );
    }
    assert_eq!(got, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_sink_resumes_after_kill_9_with_duplicates_only_from_the_last_batch() {
    use crate::support::child::ChildServer;
    let dir = tempfile::tempdir().unwrap();
    let hook = Webhook::start().await;
    let mut server = ChildServer::start(dir.path(), &[]);
    let c = Client::new(server.addr);
    c.create_topic("events", 2).await;
    upload_as(&c, "http-sink", "http-sink").await;
    let mut config = sink_config(&hook, "events");
    config["tidegate.batch.max.records"] = json!("100");
    create(&c, "hook", config).await;
    let expected = produce_keyed(&c, "events", 10_000).await;
    // Kill while delivery is under way.
    hook.wait_acked(3_000, WAIT).await;
    server.kill9();
    let before = hook.acked_records();
    assert!(before < 10_000, "delivery finished before the kill");
    let server = ChildServer::start(dir.path(), &[]);
    let c = Client::new(server.addr);
    // Everything arrives after the restart (each wait below is bounded); count what arrived twice.
    loop {
        // The count first: the log already holds every delivery it counts.
        let acked = hook.acked_records();
        let distinct: HashSet<(u64, u64)> = hook
            .acknowledged()
            .iter()
            .flat_map(|d| d.coordinates())
            .collect();
        if distinct.len() == 10_000 {
            break;
        }
        hook.wait_acked(acked + 1, WAIT).await;
    }
    let mut seen: BTreeMap<(u64, u64), u32> = BTreeMap::new();
    for (p, o) in hook.acknowledged().iter().flat_map(|d| d.coordinates()) {
        *seen.entry((p, o)).or_default() += 1;
    }
    let duplicates: Vec<(u64, u64)> = seen
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(k, _)| *k)
        .collect();
    for (p, n) in &expected {
        assert!(
            (0..*n).all(|o| seen.contains_key(&(*p, o))),
            "partition {p} lost records"
        );
    }
    // One task delivers one batch at a time: at most that batch (100 records) comes again.
    assert!(
        duplicates.len() <= 100,
        "{} duplicates after kill -9: {:?}",
        duplicates.len(),
        &duplicates[..duplicates.len().min(10)]
    );
    // And each partition's duplicates are one contiguous run (one redelivered batch).
    for p in expected.keys() {
        let offsets: Vec<u64> = duplicates
            .iter()
            .filter(|(q, _)| q == p)
            .map(|(_, o)| *o)
            .collect();
        if let (Some(first), Some(last)) = (offsets.first(), offsets.last()) {
            assert_eq!(
                last - first + 1,
                offsets.len() as u64,
                "partition {p}: {offsets:?}"
            );
        }
    }
    eprintln!(
        "kill -9 mid-delivery: {} duplicates of 10000 records",
        duplicates.len()
    );
    drop(c);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_api_speaks_kafka_connect() {
    let (gw, hook) = http_sink_setup("t", 1).await;
    let c = &gw.client;
    upload_as(c, "hostile-connector", "hostile").await;

    // Validation: Connect's answer shape, host and plugin problems per field.
    let v = put(
        c,
        "/connector-plugins/http-sink/config/validate",
        &json!({"connector.class": "http-sink", "topics": "nope", "errors.tolerance": "maybe"}),
    )
    .await;
    assert_eq!(v.status, StatusCode::OK, "{:?}", v.json);
    assert_eq!(v.json["name"], "http-sink");
    assert!(v.json["error_count"].as_u64().unwrap() >= 3, "{}", v.json);
    let errors_of = |key: &str| -> Vec<String> {
        v.json["configs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["value"]["name"] == key)
            .map(|e| serde_json::from_value(e["value"]["errors"].clone()).unwrap())
            .unwrap_or_default()
    };
    assert!(errors_of("topics")[0].contains("does not exist"));
    assert!(!errors_of("errors.tolerance").is_empty());
    assert!(
        !errors_of("url").is_empty(),
        "the plugin's own validation runs"
    );
    let root = c.get("/").await.json;
    assert!(
        root["version"].is_string() && root["kafka_cluster_id"] == "tidegate",
        "{root}"
    );
    let keys = c.get("/connector-plugins/http-sink/config").await.json;
    assert!(
        keys.as_array()
            .unwrap()
            .iter()
            .any(|k| k["name"] == "connector.class")
    );
    assert_eq!(
        c.get("/connector-plugins/nope/config").await.status,
        StatusCode::NOT_FOUND
    );
    let plugins = c.get("/connector-plugins").await.json;
    assert!(
        plugins
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["class"] == "http-sink" && p["type"] == "sink")
    );

    // Create: refused configs are 422 with per-field errors; duplicates 409.
    let r = c
        .post("/connectors", &json!({"name": "bad", "config": {"connector.class": "hostile", "topics": "t", "reject": "x"}}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.json);
    assert_eq!(r.json["errors"][0]["field"], "reject");
    assert_eq!(r.json["errors"][0]["message"], "rejected on request");
    assert_eq!(c.get("/connectors/bad").await.status, StatusCode::NOT_FOUND);
    create(c, "hook", sink_config(&hook, "t")).await;
    let r = c
        .post(
            "/connectors",
            &json!({"name": "hook", "config": sink_config(&hook, "t")}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(c.get("/connectors").await.json, json!(["hook"]));
    assert_eq!(
        c.get("/connectors/hook/topics").await.json,
        json!({"hook": {"topics": ["t"]}})
    );
    let expanded = c.get("/connectors?expand=status&expand=info").await.json;
    assert_eq!(expanded["hook"]["info"]["type"], "sink");
    assert_eq!(expanded["hook"]["status"]["connector"]["state"], "RUNNING");
    assert_eq!(
        c.get("/v1/connectors/hook/config").await.json["url"],
        hook.url("/hook")
    );

    c.produce("t", json!([{"value": 1}])).await;
    hook.wait_acked(1, WAIT).await;

    // A config update applies live: the next batch goes to the new path.
    let mut updated = sink_config(&hook, "t");
    updated["url"] = json!(hook.url("/v2"));
    let r = put(c, "/connectors/hook/config", &updated).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    c.produce("t", json!([{"value": 2}])).await;
    hook.wait_acked(2, WAIT).await;
    assert_eq!(hook.acknowledged().last().unwrap().path, "/v2");

    // Pause, resume, stop, offsets (KIP-875), restart.
    let r = c.send(Method::PUT, "/connectors/hook/pause", "", &[]).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    // Everything delivered was committed: no lag (reported for sinks).
    wait_status(c, "hook", |s| {
        s["connector"]["state"] == "PAUSED" && s["tidegate"]["lag"] == 0
    })
    .await;
    let r = c
        .send(
            Method::PATCH,
            "/connectors/hook/offsets",
            r#"{"offsets":[]}"#,
            &[],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "offsets change only when stopped"
    );
    assert_eq!(
        c.send(Method::PUT, "/connectors/hook/stop", "", &[])
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let s = c.get("/connectors/hook/status").await.json;
    assert_eq!(s["connector"]["state"], "STOPPED");
    assert_eq!(s["tasks"], json!([]));
    let offsets = c.get("/connectors/hook/offsets").await.json;
    assert_eq!(offsets["offsets"][0]["offset"]["kafka_offset"], 2);
    // Rewind to offset 1: after resuming, record 1 is delivered again.
    let rewind = json!({"offsets": [{"partition": {"kafka_topic": "t", "kafka_partition": 0}, "offset": {"kafka_offset": 1}}]});
    let r = c
        .send(
            Method::PATCH,
            "/connectors/hook/offsets",
            serde_json::to_vec(&rewind).unwrap(),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    assert!(
        r.json["message"]
            .as_str()
            .unwrap()
            .contains("altered successfully")
    );
    assert_eq!(
        c.send(Method::PUT, "/connectors/hook/resume", "", &[])
            .await
            .status,
        StatusCode::ACCEPTED
    );
    hook.wait_acked(3, WAIT).await;
    let last = hook.acknowledged().last().unwrap().clone();
    assert_eq!(
        last.coordinates(),
        vec![(0, 1)],
        "resumed from the altered offset"
    );
    let r = c
        .post("/connectors/hook/restart?includeTasks=true", &json!(null))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(r.json["name"], "hook");
    assert_eq!(
        c.post("/connectors/hook/restart", &json!(null))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        c.post("/connectors/hook/tasks/0/restart", &json!(null))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        c.post("/connectors/hook/tasks/1/restart", &json!(null))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.get("/connectors/hook/tasks").await.json[0]["id"]["task"],
        0
    );

    // A plugin that fails at open: the task is FAILED with the plugin's message as trace.
    let failing = json!({"connector.class": "hostile", "topics": "t", "fail.open": "true"});
    create(c, "opener", failing).await;
    let s = wait_status(c, "opener", |s| s["tasks"][0]["state"] == "FAILED").await;
    assert!(
        s["tasks"][0]["trace"]
            .as_str()
            .unwrap()
            .contains("fail.open is set"),
        "{s}"
    );
    let t = c.get("/connectors/opener/tasks/0/status").await.json;
    assert_eq!(t["state"], "FAILED");

    // Delete stops all work: once DELETE answered, the plugin runs no more. A second
    // connector on the same topic proves records flowed after the delete.
    assert_eq!(
        c.delete("/connectors/hook").await.status,
        StatusCode::NO_CONTENT
    );
    let before = hook.deliveries().len();
    assert_eq!(
        c.get("/connectors/hook").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.get("/connectors/hook/offsets").await.status,
        StatusCode::NOT_FOUND
    );
    let other = Webhook::start().await;
    c.produce("t", json!([{"value": 3}, {"value": 4}])).await;
    create(c, "witness", sink_config(&other, "t")).await;
    other.wait_acked(4, WAIT).await;
    assert_eq!(
        hook.deliveries().len(),
        before,
        "the deleted connector delivered after DELETE"
    );
    assert_eq!(
        c.delete("/connectors/hook").await.status,
        StatusCode::NOT_FOUND
    );
    // The plugin is in use by the witness.
    assert_eq!(
        c.delete("/v1/plugins/http-sink").await.status,
        StatusCode::CONFLICT
    );
}

/// A connector's config persists, and it resumes after a restart of the gateway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connectors_persist_across_restarts() {
    let gw = TestGateway::start().await;
    let hook = Webhook::start().await;
    gw.client.create_topic("t", 1).await;
    upload_as(&gw.client, "http-sink", "http-sink").await;
    create(&gw.client, "hook", sink_config(&hook, "t")).await;
    gw.client.produce("t", json!([{"value": 1}])).await;
    hook.wait_acked(1, WAIT).await;
    let dir = gw.stop().await;
    let gw = TestGateway::start_in(dir, tidegate::config::ServeArgs::default()).await;
    gw.client.produce("t", json!([{"value": 2}])).await;
    hook.wait_acked(2, WAIT).await;
    let coordinates: Vec<(u64, u64)> = hook
        .acknowledged()
        .iter()
        .flat_map(|d| d.coordinates())
        .collect();
    assert_eq!(
        coordinates,
        vec![(0, 0), (0, 1)],
        "no redelivery after a clean restart"
    );
    gw.stop().await;
}

/// Reads every record of the (one-partition) dead-letter topic.
async fn dead_letters(c: &Client, topic: &str, n: u64) -> Vec<Value> {
    crate::transforms::wait_for_records(c, topic, n, WAIT).await
}

fn header(record: &Value, name: &str) -> String {
    record["headers"][name]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connectors_get_only_their_grants_and_hostile_ones_are_contained() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    let allowed = Webhook::start().await;
    // A listener nobody may reach: it counts connection attempts.
    let forbidden = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let forbidden_addr = forbidden.local_addr().unwrap();
    let connections = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = std::sync::Arc::clone(&connections);
    tokio::spawn(async move {
        while forbidden.accept().await.is_ok() {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    c.create_topic("probes", 1).await;
    upload_as(c, "hostile-connector", "hostile").await;
    create(
        c,
        "probe",
        json!({
            "connector.class": "hostile",
            "topics": "probes",
            "tidegate.http.allow": allowed.addr.to_string(),
            "tidegate.dir": "probe",
            "tidegate.call.timeout.ms": "300",
            "tidegate.max.memory.bytes": "16777216",
            "tidegate.batch.max.records": "1",
            "errors.tolerance": "all",
            "errors.deadletterqueue.topic.name": "probes.dlq",
        }),
    )
    .await;
    let probes = [
        format!("http:http://{forbidden_addr}/steal"),
        format!("http:{}", allowed.url("/ok")),
        "read:/etc/hostname".to_owned(),
        "read:/data/../../../etc/hostname".to_owned(),
        "write:/data/note.txt".to_owned(),
        "loop".to_owned(),
        "grow".to_owned(),
        "panic".to_owned(),
    ];
    let records: Vec<Value> = probes.iter().map(|p| json!({"value": p})).collect();
    c.produce("probes", json!(records)).await;
    let dlq = dead_letters(c, "probes.dlq", probes.len() as u64).await;
    let message = |i: usize| header(&dlq[i], "__connect.errors.exception.message");
    assert!(
        message(0).contains("probe http: error") && message(0).contains("HttpRequestDenied"),
        "{}",
        message(0)
    );
    assert_eq!(
        connections.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "a denied request connected"
    );
    assert!(message(1).contains("probe http: ok 200"), "{}", message(1));
    assert!(message(2).contains("probe read: error"), "{}", message(2));
    assert!(message(3).contains("probe read: error"), "{}", message(3));
    assert!(message(4).contains("probe write: ok"), "{}", message(4));
    assert!(
        gw.dir
            .path()
            .join("connector-files/probe/note.txt")
            .exists()
    );
    assert!(message(5).contains("call budget"), "{}", message(5));
    assert!(message(6).contains("memory limit"), "{}", message(6));
    assert!(message(7).contains("hostile panic"), "{}", message(7));
    for (i, record) in dlq.iter().enumerate() {
        assert_eq!(record["value"], json!(probes[i]));
        assert_eq!(header(record, "__connect.errors.connector.name"), "probe");
        assert_eq!(header(record, "__connect.errors.topic"), "probes");
        assert_eq!(header(record, "__connect.errors.offset"), i.to_string());
        assert_eq!(header(record, "__connect.errors.stage"), "TASK_PUT");
    }
    // Contained: the connector is still running, the gateway still serves.
    let s = c.get("/connectors/probe/status").await.json;
    assert_eq!(s["tasks"][0]["state"], "RUNNING", "{s}");
    assert_eq!(s["tidegate"]["dead_letters"], probes.len());
    assert_eq!(c.get("/healthz").await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fatal_failure_under_tolerance_none_fails_the_task_until_restarted() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_topic("t", 1).await;
    upload_as(c, "hostile-connector", "hostile").await;
    create(
        c,
        "strict",
        json!({"connector.class": "hostile", "topics": "t"}),
    )
    .await;
    c.produce("t", json!([{"value": "read:/etc/hostname"}]))
        .await;
    let s = wait_status(c, "strict", |s| s["tasks"][0]["state"] == "FAILED").await;
    assert!(
        s["tasks"][0]["trace"]
            .as_str()
            .unwrap()
            .contains("errors.tolerance=none"),
        "{s}"
    );
    assert_eq!(s["connector"]["state"], "RUNNING");
    // Nothing was committed: the failed batch is still ahead of the connector.
    assert_eq!(
        c.get("/connectors/strict/offsets").await.json["offsets"],
        json!([])
    );
    let r = c
        .post("/connectors/strict/restart?onlyFailed=true", &json!(null))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    wait_status(c, "strict", |s| {
        s["tasks"][0]["state"] == "FAILED" && s["tidegate"]["last_error"].is_string()
    })
    .await;
}

/// The `seq` of each record's source offset header (datagen's position).
fn datagen_seqs(records: &[Value]) -> Vec<u64> {
    records
        .iter()
        .map(|r| {
            let offset: Value = serde_json::from_str(&header(r, "tidegate.source.offset")).unwrap();
            offset["seq"].as_u64().unwrap()
        })
        .collect()
}

fn datagen_config(max: u64, rate: u64) -> Value {
    json!({
        "connector.class": "datagen",
        "topic": "fake",
        "template": "orders",
        "rate": rate.to_string(),
        "max.records": max.to_string(),
        "tidegate.batch.max.records": "50",
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datagen_source_resumes_from_its_offsets_and_honours_altered_ones() {
    let gw = TestGateway::start().await;
    gw.client.create_topic("fake", 2).await;
    upload_as(&gw.client, "datagen", "datagen").await;
    create(&gw.client, "gen", datagen_config(600, 2000)).await;
    // Stop the gateway while the source is mid-way.
    crate::transforms::wait_for_records(&gw.client, "fake", 100, WAIT).await;
    let dir = gw.stop().await;
    let gw = TestGateway::start_in(dir, tidegate::config::ServeArgs::default()).await;
    let c = &gw.client;
    let records = crate::transforms::wait_for_records(c, "fake", 600, WAIT).await;
    let mut seqs = datagen_seqs(&records);
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (1..=600).collect::<Vec<_>>(),
        "every item exactly once across the restart"
    );
    let order = records[0]["value"].clone();
    for field in ["order_id", "customer_id", "price", "currency"] {
        assert!(order.get(field).is_some(), "{order}");
    }
    let offsets = c.get("/connectors/gen/offsets").await.json;
    assert_eq!(
        offsets["offsets"][0]["offset"],
        json!({"seq": 600}),
        "{offsets}"
    );
    assert_eq!(offsets["offsets"][0]["partition"]["generator"], "datagen");
    // Altered offsets are honoured on resume: jump to 1000 and allow 50 more.
    assert_eq!(
        c.send(Method::PUT, "/connectors/gen/stop", "", &[])
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let jump = json!({"offsets": [{"partition": offsets["offsets"][0]["partition"], "offset": {"seq": 1000}}]});
    let r = c
        .send(
            Method::PATCH,
            "/connectors/gen/offsets",
            serde_json::to_vec(&jump).unwrap(),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    let r = put(c, "/connectors/gen/config", &datagen_config(1050, 2000)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    assert_eq!(
        c.send(Method::PUT, "/connectors/gen/resume", "", &[])
            .await
            .status,
        StatusCode::ACCEPTED
    );
    let records = crate::transforms::wait_for_records(c, "fake", 650, WAIT).await;
    let mut seqs = datagen_seqs(&records);
    seqs.sort_unstable();
    assert_eq!(&seqs[600..], (1001..=1050).collect::<Vec<_>>().as_slice());
    // Reset: the next start begins afresh.
    assert_eq!(
        c.send(Method::PUT, "/connectors/gen/stop", "", &[])
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let r = c.delete("/connectors/gen/offsets").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        c.get("/connectors/gen/offsets").await.json["offsets"],
        json!([])
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_is_exactly_once_across_kill_9() {
    use crate::support::child::ChildServer;
    let dir = tempfile::tempdir().unwrap();
    for round in 0..4u64 {
        let mut server = ChildServer::start(dir.path(), &[]);
        let c = Client::new(server.addr);
        if round == 0 {
            c.create_topic("fake", 3).await;
            upload_as(&c, "datagen", "datagen").await;
            create(&c, "gen", datagen_config(4_000, 1_000)).await;
        }
        let have: u64 = c.end_offsets("fake").await.iter().sum();
        crate::transforms::wait_for_records(&c, "fake", (have + 300).min(4_000), WAIT).await;
        server.kill9();
    }
    let server = ChildServer::start(dir.path(), &[]);
    let c = Client::new(server.addr);
    let records = crate::transforms::wait_for_records(&c, "fake", 4_000, WAIT).await;
    let mut seqs = datagen_seqs(&records);
    seqs.sort_unstable();
    assert_eq!(seqs.len(), 4_000, "duplicates or losses across kill -9");
    assert_eq!(seqs, (1..=4_000).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_source_polls_new_items_and_remembers_its_cursor() {
    let gw = TestGateway::start().await;
    let hook = Webhook::start().await;
    gw.client.create_topic("items", 1).await;
    upload_as(&gw.client, "http-source", "http-source").await;
    hook.set_items(
        (1..=3)
            .map(|id| json!({"id": id, "name": format!("item {id}")}))
            .collect(),
    );
    let config = json!({
        "connector.class": "http-source",
        "topic": "items",
        "url": hook.url("/items"),
        "poll.interval.ms": "20",
        "tidegate.http.allow": hook.url("/items"),
    });
    create(&gw.client, "poller", config).await;
    let got = crate::transforms::wait_for_records(&gw.client, "items", 3, WAIT).await;
    assert_eq!(got[2]["value"]["name"], "item 3");
    let dir = gw.stop().await;
    hook.set_items(
        (1..=5)
            .map(|id| json!({"id": id, "name": format!("item {id}")}))
            .collect(),
    );
    let gw = TestGateway::start_in(dir, tidegate::config::ServeArgs::default()).await;
    let got = crate::transforms::wait_for_records(&gw.client, "items", 5, WAIT).await;
    let ids: Vec<u64> = got
        .iter()
        .map(|r| r["value"]["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, vec![1, 2, 3, 4, 5], "items 1-3 were not emitted again");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_sink_writes_only_into_its_granted_directory() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_topic("t", 1).await;
    upload_as(c, "file-sink", "file-sink").await;
    create(c, "files", json!({"connector.class": "file-sink", "topics": "t", "tidegate.dir": "exports", "file": "t.jsonl"})).await;
    c.produce("t", json!([{"value": {"a": 1}}, {"value": {"a": 2}}]))
        .await;
    wait_status(c, "files", |s| s["tidegate"]["records"] == 2).await;
    let text =
        std::fs::read_to_string(gw.dir.path().join("connector-files/exports/t.jsonl")).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["value"], json!({"a": 2}));
    assert_eq!(lines[1]["offset"], 1);
    // Without a granted directory the sink cannot open: FAILED with a clear trace.
    create(
        c,
        "nodir",
        json!({"connector.class": "file-sink", "topics": "t"}),
    )
    .await;
    let s = wait_status(c, "nodir", |s| s["tasks"][0]["state"] == "FAILED").await;
    assert!(
        s["tasks"][0]["trace"]
            .as_str()
            .unwrap()
            .contains("tidegate.dir"),
        "{s}"
    );
    // A directory outside the root cannot even be asked for.
    let r = c.post("/connectors", &json!({"name": "escape", "config": {"connector.class": "file-sink", "topics": "t", "tidegate.dir": "../.."}})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json["errors"][0]["field"], "tidegate.dir");
}

/// The same connector in a second language: `python-datagen` (componentize-py) produces the
/// same records as the Rust `datagen`, and resumes from the same offsets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_datagen_matches_the_rust_one() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    let r = c
        .send(
            Method::PUT,
            "/v1/plugins/py-datagen",
            plugins::python_datagen(),
            &[("content-type", "application/wasm")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
    assert_eq!(r.json["world"], "source-connector");
    upload_as(c, "datagen", "datagen").await;
    for (name, plugin) in [("py", "py-datagen"), ("rust", "datagen")] {
        c.create_topic(name, 1).await;
        let mut config = datagen_config(40, 0);
        config["connector.class"] = json!(plugin);
        config["topic"] = json!(name);
        create(c, name, config).await;
    }
    let py = crate::transforms::wait_for_records(c, "py", 40, WAIT).await;
    let rust = crate::transforms::wait_for_records(c, "rust", 40, WAIT).await;
    for (p, r) in py.iter().zip(&rust) {
        assert_eq!(p["value"], r["value"]);
        assert_eq!(p["key"], r["key"]);
        assert_eq!(
            header(p, "tidegate.source.offset"),
            header(r, "tidegate.source.offset")
        );
    }
}

/// Records the log refuses (over the topic's `max.message.bytes`) are dead-lettered for
/// sources too, with the stage `TASK_WRITE`, and the offsets still move on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_records_the_log_refuses_are_dead_lettered() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    let r = c
        .post(
            "/v1/topics",
            &json!({"name": "tiny", "partitions": 1, "config": {"max.message.bytes": "120"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
    upload_as(c, "datagen", "datagen").await;
    let mut config = datagen_config(5, 0);
    config["topic"] = json!("tiny");
    config["errors.tolerance"] = json!("all");
    config["errors.deadletterqueue.topic.name"] = json!("tiny.dlq");
    create(c, "gen", config).await;
    let dlq = dead_letters(c, "tiny.dlq", 5).await;
    assert_eq!(datagen_seqs(&dlq), vec![1, 2, 3, 4, 5]);
    for record in &dlq {
        assert_eq!(header(record, "__connect.errors.stage"), "TASK_WRITE");
        let message = header(record, "__connect.errors.exception.message");
        assert!(
            message.contains("exceeds the limit of 120 bytes"),
            "{message}"
        );
    }
    assert_eq!(c.end_offsets("tiny").await, vec![0]);
    let offsets = c.get("/connectors/gen/offsets").await.json;
    assert_eq!(
        offsets["offsets"][0]["offset"],
        json!({"seq": 5}),
        "{offsets}"
    );
    let s = wait_status(c, "gen", |s| s["tidegate"]["dead_letters"] == 5).await;
    assert_eq!(s["tasks"][0]["state"], "RUNNING");
}

/// A config update while a batch is in flight: the old task finishes (and commits) that batch
/// before the new one starts, so nothing is delivered twice and offsets never go back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_during_a_call_in_flight_does_not_redeliver() {
    let (gw, hook) = http_sink_setup("t", 1).await;
    let c = &gw.client;
    hook.delay(700);
    create(c, "hook", sink_config(&hook, "t")).await;
    c.produce("t", json!([{"value": 1}])).await;
    // Wait until the POST is at the receiver (held there), then update the connector.
    hook.wait_received(1, WAIT).await;
    let mut updated = sink_config(&hook, "t");
    updated["url"] = json!(hook.url("/v2"));
    assert_eq!(
        put(c, "/connectors/hook/config", &updated).await.status,
        StatusCode::OK
    );
    c.produce("t", json!([{"value": 2}])).await;
    hook.wait_acked(2, WAIT).await;
    // Let a wrongly started second task show itself: a third record must come next.
    hook.delay(0);
    c.produce("t", json!([{"value": 3}])).await;
    hook.wait_acked(3, WAIT).await;
    let coordinates: Vec<(u64, u64)> = hook
        .acknowledged()
        .iter()
        .flat_map(|d| d.coordinates())
        .collect();
    assert_eq!(
        coordinates,
        vec![(0, 0), (0, 1), (0, 2)],
        "redelivered or out of order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_connector_requests_get_clear_errors() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_topic("t", 1).await;
    upload_as(c, "datagen", "datagen").await;
    upload_as(c, "filter", "filter").await;
    let post = |body: &'static str| c.send(Method::POST, "/connectors", body, &[]);
    let r = post("{not json").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.json["message"].as_str().unwrap().contains("invalid JSON"),
        "{:?}",
        r.json
    );
    assert_eq!(
        post(r#"{"name": "x"}"#).await.status,
        StatusCode::BAD_REQUEST
    );
    let r =
        post(r#"{"name": "x", "config": {"connector.class": "datagen", "topic": ["t"]}}"#).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.json);
    let r =
        post(r#"{"name": "a/b", "config": {"connector.class": "datagen", "topic": "t"}}"#).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.json);
    let r = post(r#"{"name": "x", "config": {"connector.class": "nope", "topic": "t"}}"#).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.json);
    let r = post(r#"{"name": "x", "config": {"connector.class": "filter", "topics": "t"}}"#).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.json);
    assert_eq!(r.json["errors"][0]["field"], "connector.class");
    let r = post(r#"{"name": "x", "config": {"connector.class": "datagen", "topic": "__connect_offsets", "rate": "-1"}}"#).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.json);
    let fields: Vec<&str> = r.json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"topic") && fields.contains(&"rate"),
        "{fields:?}"
    );
    // Name in the body and the URL must agree.
    let r = put(
        c,
        "/connectors/x/config",
        &json!({"name": "y", "connector.class": "datagen", "topic": "t"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json["errors"][0]["field"], "name");
    // Nothing was created by any of these.
    assert_eq!(c.get("/connectors").await.json, json!([]));
    create(
        c,
        "gen",
        json!({"connector.class": "datagen", "topic": "t", "rate": "1"}),
    )
    .await;
    assert_eq!(
        c.send(Method::PUT, "/connectors/gen/stop", "", &[])
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let r = c
        .send(
            Method::PATCH,
            "/connectors/gen/offsets",
            r#"{"offsets": [{"partition": 1, "offset": {}}]}"#,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.json);
    assert!(r.json["message"].as_str().unwrap().contains("offsets[0]"));
    let r = c
        .send(
            Method::PATCH,
            "/connectors/gen/offsets",
            r#"{"offsets": "no"}"#,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c
        .post("/connectors/gen/restart?onlyFailed=maybe", &json!(null))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        c.get("/connectors?expand=everything").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        c.get("/connectors/gen/tasks/7/status").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.send(Method::POST, "/connectors/gen/pause", "", &[])
            .await
            .status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(c.get("/healthz").await.status, StatusCode::OK);
}

/// A connector deleted and created again under the same name starts afresh: its
/// predecessor's records in the topic are not mistaken for its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recreated_source_starts_afresh() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_topic("fake", 1).await;
    upload_as(c, "datagen", "datagen").await;
    create(c, "gen", datagen_config(10, 0)).await;
    crate::transforms::wait_for_records(c, "fake", 10, WAIT).await;
    wait_status(c, "gen", |s| s["tidegate"]["records"] == 10).await;
    assert_eq!(
        c.delete("/connectors/gen").await.status,
        StatusCode::NO_CONTENT
    );
    create(c, "gen", datagen_config(10, 0)).await;
    let records = crate::transforms::wait_for_records(c, "fake", 20, WAIT).await;
    assert_eq!(datagen_seqs(&records[10..]), (1..=10).collect::<Vec<_>>());
}

/// A batch the plugin cannot hold within its memory cap is split until it fits, instead of
/// failing the connector: every record still arrives, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_over_the_memory_cap_is_split() {
    let (gw, hook) = http_sink_setup("big", 1).await;
    let c = &gw.client;
    let value = "x".repeat(64 << 10);
    for _ in 0..2 {
        let records: Vec<Value> = (0..50).map(|_| json!({"value": value})).collect();
        c.produce("big", json!(records)).await;
    }
    let mut config = sink_config(&hook, "big");
    config["tidegate.max.memory.bytes"] = json!((8u64 << 20).to_string());
    create(c, "hook", config).await;
    hook.wait_acked(100, WAIT).await;
    let coordinates: Vec<(u64, u64)> = hook
        .acknowledged()
        .iter()
        .flat_map(|d| d.coordinates())
        .collect();
    assert_eq!(coordinates, (0..100).map(|o| (0, o)).collect::<Vec<_>>());
    assert!(hook.acknowledged().len() > 1, "it was split");
    let s = c.get("/connectors/hook/status").await.json;
    assert_eq!(s["tasks"][0]["state"], "RUNNING", "{s}");
}

/// Resuming a FAILED connector starts its task again (the failed batch is delivered then).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_a_failed_connector_runs_it_again() {
    let (gw, hook) = http_sink_setup("t", 1).await;
    let c = &gw.client;
    hook.refuse(true);
    create(c, "hook", sink_config(&hook, "t")).await;
    c.produce("t", json!([{"value": 1}])).await;
    let s = wait_status(c, "hook", |s| s["tasks"][0]["state"] == "FAILED").await;
    assert!(
        s["tasks"][0]["trace"].as_str().unwrap().contains("400"),
        "{s}"
    );
    hook.refuse(false);
    let r = c
        .send(Method::PUT, "/connectors/hook/resume", "", &[])
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    hook.wait_acked(1, WAIT).await;
    let s = wait_status(c, "hook", |s| s["tidegate"]["records"] == 1).await;
    assert_eq!(s["tasks"][0]["state"], "RUNNING");
}
