//! Hostile plugins inside running transforms: each is stopped by its limit within the
//! configured deadline, its records reach the dead-letter topic with the reason, and the
//! gateway's other traffic keeps flowing meanwhile.

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hyper::StatusCode;
use serde_json::json;

use crate::support::TestGateway;
use crate::transforms::{upload, wait_for_records};

const CALL_TIMEOUT_MS: u64 = 300;

/// The call budget per plugin: short where the budget is what is tested, generous for the
/// output cap, so building 200,000 records on a loaded machine is stopped by the cap, not the
/// clock.
fn budget_ms(plugin: &str) -> u64 {
    if plugin == "hostile-output" {
        30_000
    } else {
        CALL_TIMEOUT_MS
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_plugins_go_to_the_dlq_and_the_gateway_keeps_serving() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_topic("side", 1).await;
    // (plugin, the value that sets it off, what the error says)
    let cases = [
        ("hostile-loop", "loop", "budget"),
        ("hostile-memory", "grow", "memory"),
        ("hostile-trap", "panic", "trapped"),
        ("hostile-output", "records", "output"),
    ];
    for (plugin, _, _) in cases {
        upload(c, plugin).await;
        let input = format!("{plugin}-in");
        c.create_topic(&input, 1).await;
        c.create_topic(&format!("{plugin}-out"), 1).await;
        let r = c
            .post(
                "/v1/transforms",
                &json!({"name": plugin, "plugin": plugin, "input": input, "outputs": [format!("{plugin}-out")],
                    "on_error": "dlq", "limits": {"call_timeout_ms": budget_ms(plugin), "max_memory_bytes": 32 << 20,
                    "max_output_records": 1000, "max_output_bytes": 1 << 20}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{plugin}: {:?}", r.json);
    }
    for (plugin, trigger, _) in cases {
        let trigger = BASE64.encode(trigger);
        let records = json!([{"key": "k", "value_base64": trigger}, {"value": {"n": 2}}]);
        c.produce(&format!("{plugin}-in"), records).await;
    }
    // While the guests misbehave, produce and fetch elsewhere keep working (how fast is the
    // benchmarks' business, not a test's).
    for i in 0..40 {
        c.produce("side", json!([{"value": i}])).await;
        let r = c.fetch("side", 0, &format!("offset={i}")).await;
        assert_eq!(r.json["records"][0]["value"], i);
    }

    for (plugin, trigger, reason) in cases {
        let dlq = wait_for_records(c, &format!("{plugin}.dlq"), 2, Duration::from_secs(60)).await;
        assert_eq!(dlq.len(), 2, "{plugin}");
        assert_eq!(
            dlq[0]["value_base64"],
            BASE64.encode(trigger),
            "{plugin}: the original record is kept"
        );
        assert_eq!(dlq[1]["value"], json!({"n": 2}));
        let headers = &dlq[0]["headers"];
        let error = headers["tidegate.error"].as_str().unwrap();
        assert!(
            error.contains(reason),
            "{plugin}: error {error:?} lacks {reason:?}"
        );
        assert!(
            headers["tidegate.plugin.digest"]
                .as_str()
                .unwrap()
                .starts_with("sha256:")
        );
        assert_eq!(headers["tidegate.source.topic"], format!("{plugin}-in"));
        assert_eq!(headers["tidegate.source.partition"], "0");
        assert_eq!(headers["tidegate.source.offset"], "0");
        assert_eq!(
            c.end_offsets(&format!("{plugin}-out")).await,
            vec![0],
            "{plugin} wrote output"
        );
        // The counters are updated right after the dead letters are written: retry until they
        // show them (bounded), rather than racing the pipeline.
        let mut status = serde_json::Value::Null;
        for _ in 0..500 {
            status = c.get(&format!("/v1/transforms/{plugin}")).await.json;
            if status["records_dlq"] == 2 {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(status["state"], "RUNNING", "{plugin}: {status}");
        assert_eq!(status["records_dlq"], 2, "{plugin}: {status}");
        assert!(status["errors"].as_u64().unwrap() >= 1);
        assert!(status["last_error"].as_str().unwrap().contains(reason));
    }
    // Each way a call ended is counted by plugin: the looping one hit its deadline, the
    // growing one its memory cap, the panicking one trapped.
    let metrics = String::from_utf8(c.get("/metrics").await.raw.to_vec()).unwrap();
    let count = |plugin: &str, outcome: &str| -> u64 {
        let series =
            format!("tidegate_plugin_calls_total{{plugin=\"{plugin}\",outcome=\"{outcome}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(series.as_str()))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {series} in\n{metrics}"))
    };
    assert!(count("hostile-loop", "deadline") >= 1);
    assert!(count("hostile-memory", "memory") >= 1);
    assert!(count("hostile-trap", "trap") >= 1);
    assert_eq!(count("hostile-trap", "deadline"), 0);
    for plugin in ["hostile-loop", "hostile-trap"] {
        let running =
            format!("tidegate_transform_state{{transform=\"{plugin}\",state=\"RUNNING\"}} 1");
        assert!(metrics.contains(&running), "{running} missing");
    }
    assert_eq!(c.get("/healthz").await.status, StatusCode::OK);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_error_stop_marks_the_transform_failed_until_resumed() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_topic("in", 1).await;
    c.create_topic("out", 1).await;
    upload(c, "hostile-trap").await;
    let r = c.post("/v1/transforms", &json!({"name": "fragile", "plugin": "hostile-trap", "input": "in", "outputs": ["out"], "on_error": "stop"})).await;
    assert_eq!(r.status, StatusCode::CREATED);
    c.produce("in", json!([{"value_base64": BASE64.encode("panic")}]))
        .await;
    let started = Instant::now();
    loop {
        let status = c.get("/v1/transforms/fragile").await.json;
        if status["state"] == "FAILED" {
            assert!(
                status["last_error"].as_str().unwrap().contains("trapped"),
                "{status}"
            );
            assert_eq!(status["lag"], 1);
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never failed: {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(c.end_offsets("out").await, vec![0]);
    gw.stop().await;
}

/// Uploads compile in a child process under an address-space cap: a component too big to
/// compile within it is refused with 422, the gateway is untouched, and normal plugins compiled
/// the same way run. The cap (384 MiB) sits between what the identity plugin needs (under
/// 128 MiB of address space) and what the CPython component needs (over 512 MiB), with room on
/// both sides so the verdicts do not depend on the machine's load.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_compilation_runs_in_a_memory_capped_child() {
    use hyper::Method;

    use crate::support::child::ChildServer;
    use crate::support::{Client, plugins};

    let dir = tempfile::tempdir().unwrap();
    let server = ChildServer::start(
        dir.path(),
        &["--plugin-compile-max-memory-bytes", "402653184"],
    );
    let c = Client::new(server.addr);
    let wasm = [("content-type", "application/wasm")];
    let r = c
        .send(
            Method::PUT,
            "/v1/plugins/py",
            plugins::python_filter(),
            &wasm,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.json);
    assert_eq!(r.json["error_code"], 42228, "{:?}", r.json);
    assert!(
        r.json["message"].as_str().unwrap().contains("402653184"),
        "{:?}",
        r.json
    );
    assert_eq!(c.get("/v1/plugins/py").await.status, StatusCode::NOT_FOUND);
    let leftovers = std::fs::read_dir(dir.path().join("plugins"))
        .unwrap()
        .count();
    assert_eq!(leftovers, 0, "the refused upload left files in the cache");

    let r = c
        .send(
            Method::PUT,
            "/v1/plugins/identity",
            plugins::wasm("identity"),
            &wasm,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
    c.create_topic("a", 1).await;
    c.create_topic("b", 1).await;
    let t = json!({"name": "copy", "plugin": "identity", "input": "a", "outputs": ["b"]});
    assert_eq!(
        c.post("/v1/transforms", &t).await.status,
        StatusCode::CREATED
    );
    c.produce("a", json!([{"value": 1}, {"value": 2}])).await;
    let out = wait_for_records(&c, "b", 2, Duration::from_secs(30)).await;
    assert_eq!(out[1]["value"], 2);
}
