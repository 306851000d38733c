//! Confluent REST Proxy v2 consumer instances against a real gateway: create, subscribe or
//! assign, records in each embedded format, commit and committed offsets, seeks, balancing
//! across a group's instances, a restart, and Confluent's error codes.

use std::collections::BTreeSet;

use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::client::Reply;
use crate::support::{Client, TestGateway};

const JSON_V2: &str = "application/vnd.kafka.json.v2+json";
const BINARY_V2: &str = "application/vnd.kafka.binary.v2+json";
const AVRO_V2: &str = "application/vnd.kafka.avro.v2+json";
/// Most records calls a test makes while waiting for records it produced.
const MAX_CALLS: usize = 50;

fn base(group: &str, name: &str) -> String {
    format!("/consumers/{group}/instances/{name}")
}

async fn create(c: &Client, group: &str, body: Value) -> String {
    let r = c.post(&format!("/consumers/{group}"), &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let name = r.json["instance_id"].as_str().unwrap().to_owned();
    let uri = r.json["base_uri"].as_str().unwrap();
    assert!(
        uri.starts_with("http://127.0.0.1:") && uri.ends_with(&base(group, &name)),
        "{uri}"
    );
    name
}

async fn records(c: &Client, group: &str, name: &str, accept: &str) -> Reply {
    c.send(
        Method::GET,
        &format!("{}/records?timeout=2000", base(group, name)),
        Vec::new(),
        &[("accept", accept)],
    )
    .await
}

/// Records calls until `n` records came (each call waits for data on the server).
async fn read_n(c: &Client, group: &str, name: &str, accept: &str, n: usize) -> Vec<Value> {
    let mut out = Vec::new();
    for _ in 0..MAX_CALLS {
        let r = records(c, group, name, accept).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.json);
        out.extend(r.json.as_array().unwrap().iter().cloned());
        if out.len() >= n {
            return out;
        }
    }
    panic!("only {} of {n} records after {MAX_CALLS} calls", out.len());
}

fn code(r: &Reply) -> (StatusCode, Value) {
    (r.status, r.json["error_code"].clone())
}

#[tokio::test]
async fn a_json_consumer_reads_commits_and_is_deleted() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_topic("orders", 2).await;
    c.produce(
        "orders",
        json!([
            {"key": "a", "value": {"n": 1}, "partition": 0},
            {"key": "b", "value": {"n": 2}, "partition": 1},
            {"key": "c", "value": {"n": 3}, "partition": 0},
        ]),
    )
    .await;
    let body = json!({"name": "c1", "format": "JSON", "auto.offset.reset": "earliest",
                      "auto.commit.enable": "false"});
    let name = create(c, "g1", body).await;
    assert_eq!(name, "c1");
    let again = c.post("/consumers/g1", &json!({"name": "c1"})).await;
    assert_eq!(code(&again), (StatusCode::CONFLICT, json!(40902)));

    let r = c
        .post(
            &format!("{}/subscription", base("g1", "c1")),
            &json!({"topics": ["orders"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.json);
    let sub = c.get(&format!("{}/subscription", base("g1", "c1"))).await;
    assert_eq!(sub.json, json!({"topics": ["orders"]}));

    let wrong = records(c, "g1", "c1", AVRO_V2).await;
    assert_eq!(code(&wrong), (StatusCode::NOT_ACCEPTABLE, json!(40601)));

    let got = read_n(c, "g1", "c1", JSON_V2, 3).await;
    let mut seen: Vec<(u64, u64, Value, Value)> = got
        .iter()
        .map(|r| {
            assert_eq!(r["topic"], "orders");
            (
                r["partition"].as_u64().unwrap(),
                r["offset"].as_u64().unwrap(),
                r["key"].clone(),
                r["value"].clone(),
            )
        })
        .collect();
    seen.sort_by_key(|s| (s.0, s.1));
    assert_eq!(
        seen,
        vec![
            (0, 0, json!("a"), json!({"n": 1})),
            (0, 1, json!("c"), json!({"n": 3})),
            (1, 0, json!("b"), json!({"n": 2})),
        ]
    );

    // The client commits the last offset it consumed; the group keeps the next one.
    let commit = json!({"offsets": [{"topic": "orders", "partition": 0, "offset": 1}]});
    let r = c
        .post(&format!("{}/offsets", base("g1", "c1")), &commit)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let ask = json!({"partitions": [{"topic": "orders", "partition": 0},
                                    {"topic": "orders", "partition": 1}]});
    let r = c
        .send(
            Method::GET,
            &format!("{}/offsets", base("g1", "c1")),
            serde_json::to_vec(&ask).unwrap(),
            &[],
        )
        .await;
    assert_eq!(
        r.json,
        json!({"offsets": [{"topic": "orders", "partition": 0, "offset": 2, "metadata": ""}]}),
        "partition 1 has no commit and is left out"
    );
    // An empty commit takes every position the instance returned records up to.
    let r = c
        .send(
            Method::POST,
            &format!("{}/offsets", base("g1", "c1")),
            Vec::new(),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let offsets = c.get("/v1/groups/g1/offsets").await.json;
    assert_eq!(offsets["offsets"][1]["offset"], 1, "{offsets}");

    let r = c.delete(&base("g1", "c1")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let gone = records(c, "g1", "c1", JSON_V2).await;
    assert_eq!(code(&gone), (StatusCode::NOT_FOUND, json!(40403)));
    gw.stop().await;
}

#[tokio::test]
async fn assignments_exclude_subscriptions_and_seeks_move_positions() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_topic("log", 2).await;
    let values: Vec<Value> = (0..5)
        .map(|i| json!({"value": i, "partition": 0}))
        .collect();
    c.produce("log", Value::Array(values)).await;
    create(
        c,
        "g2",
        json!({"name": "a", "auto.offset.reset": "earliest"}),
    )
    .await;
    let path = base("g2", "a");

    let r = c
        .post(
            &format!("{path}/assignments"),
            &json!({"partitions": [{"topic": "log", "partition": 0}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.json);
    let r = c
        .post(&format!("{path}/subscription"), &json!({"topics": ["log"]}))
        .await;
    assert_eq!(code(&r), (StatusCode::CONFLICT, json!(40903)), "{}", r.json);
    let r = c.get(&format!("{path}/assignments")).await;
    assert_eq!(
        r.json,
        json!({"partitions": [{"topic": "log", "partition": 0}]})
    );

    let seek = json!({"offsets": [{"topic": "log", "partition": 0, "offset": 3}]});
    let r = c.post(&format!("{path}/positions"), &seek).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.json);
    let got = read_n(c, "g2", "a", BINARY_V2, 2).await;
    let offsets: Vec<u64> = got.iter().map(|r| r["offset"].as_u64().unwrap()).collect();
    assert_eq!(offsets, vec![3, 4]);
    // Binary values are base64 of the stored bytes (here the JSON text `3`).
    assert_eq!(got[0]["value"], "Mw==");

    let tp = json!({"partitions": [{"topic": "log", "partition": 0}]});
    let r = c.post(&format!("{path}/positions/beginning"), &tp).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let got = read_n(c, "g2", "a", BINARY_V2, 5).await;
    assert_eq!(got[0]["offset"], 0);
    let r = c.post(&format!("{path}/positions/end"), &tp).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    c.produce("log", json!([{"value": 9, "partition": 0}]))
        .await;
    let got = read_n(c, "g2", "a", BINARY_V2, 1).await;
    assert_eq!(got[0]["offset"], 5);

    let other = json!({"partitions": [{"topic": "log", "partition": 1}]});
    let r = c.post(&format!("{path}/positions/end"), &other).await;
    assert_eq!(
        code(&r),
        (StatusCode::CONFLICT, json!(40903)),
        "not assigned: {}",
        r.json
    );
    let r = c
        .post(
            &format!("{path}/assignments"),
            &json!({"partitions": [{"topic": "log", "partition": 7}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.json);
    gw.stop().await;
}

#[tokio::test]
async fn a_groups_instances_share_a_topics_partitions() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_topic("work", 4).await;
    for name in ["a", "b"] {
        create(
            c,
            "g3",
            json!({"name": name, "format": "json", "auto.offset.reset": "earliest"}),
        )
        .await;
        let r = c
            .post(
                &format!("{}/subscription", base("g3", name)),
                &json!({"topics": ["work"]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
    }
    let values: Vec<Value> = (0..8)
        .map(|i| json!({"value": i, "partition": i % 4}))
        .collect();
    c.produce("work", Value::Array(values)).await;
    // Each instance's records calls let the group settle: the first member gives up what the
    // second should own, which then claims it.
    let mut by_instance: [BTreeSet<u64>; 2] = [BTreeSet::new(), BTreeSet::new()];
    let mut values = BTreeSet::new();
    for _ in 0..MAX_CALLS {
        for (i, name) in ["a", "b"].iter().enumerate() {
            let r = records(c, "g3", name, JSON_V2).await;
            for rec in r.json.as_array().unwrap() {
                by_instance[i].insert(rec["partition"].as_u64().unwrap());
                assert!(
                    values.insert(rec["value"].as_u64().unwrap()),
                    "delivered twice: {rec}"
                );
            }
        }
        if values.len() == 8 {
            break;
        }
    }
    assert_eq!(values.len(), 8, "{values:?}");
    let assigned = |name: &'static str| async move {
        let r = c.get(&format!("{}/assignments", base("g3", name))).await;
        r.json["partitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|tp| tp["partition"].as_u64().unwrap())
            .collect::<BTreeSet<u64>>()
    };
    let (a, b) = (assigned("a").await, assigned("b").await);
    assert_eq!(a.len(), 2, "{a:?} {b:?}");
    assert!(a.is_disjoint(&b) && a.union(&b).count() == 4, "{a:?} {b:?}");
    assert!(
        !by_instance[1].is_empty(),
        "the second instance got records"
    );
    gw.stop().await;
}

#[tokio::test]
async fn instances_survive_a_restart_and_resume_from_commits() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_topic("audit", 1).await;
    let values: Vec<Value> = (0..4).map(|i| json!({"value": i})).collect();
    c.produce("audit", Value::Array(values)).await;
    let body = json!({"name": "keeper", "format": "json", "auto.offset.reset": "earliest",
                      "auto.commit.enable": "false"});
    create(c, "g4", body).await;
    let path = base("g4", "keeper");
    c.post(
        &format!("{path}/subscription"),
        &json!({"topics": ["audit"]}),
    )
    .await;
    let got = read_n(c, "g4", "keeper", JSON_V2, 4).await;
    assert_eq!(got.len(), 4);
    let commit = json!({"offsets": [{"topic": "audit", "partition": 0, "offset": 1}]});
    assert_eq!(
        c.post(&format!("{path}/offsets"), &commit).await.status,
        StatusCode::OK
    );

    let dir = gw.stop().await;
    let gw = TestGateway::start_in(dir, Default::default()).await;
    let c = &gw.client;
    let sub = c.get(&format!("{path}/subscription")).await;
    assert_eq!(sub.json, json!({"topics": ["audit"]}), "{}", sub.json);
    let dup = c.post("/consumers/g4", &json!({"name": "keeper"})).await;
    assert_eq!(code(&dup), (StatusCode::CONFLICT, json!(40902)));
    let got = read_n(c, "g4", "keeper", JSON_V2, 2).await;
    let values: Vec<Value> = got.iter().map(|r| r["value"].clone()).collect();
    assert_eq!(values, vec![json!(2), json!(3)], "resumes after the commit");
    gw.stop().await;
}

#[tokio::test]
async fn avro_consumers_decode_and_refuse_what_is_not_avro() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_topic("pay", 1).await;
    let schema = r#"{"type":"record","name":"Pay","fields":[{"name":"id","type":"string"},{"name":"cents","type":"long"}]}"#;
    let body = json!({"value_schema": schema, "records": [{"value": {"id": "p1", "cents": 250}}]});
    let r = c
        .send(
            Method::POST,
            "/topics/pay",
            serde_json::to_vec(&body).unwrap(),
            &[("content-type", AVRO_V2)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    c.produce("pay", json!([{"value": "not avro"}])).await;
    create(
        c,
        "g5",
        json!({"name": "r", "format": "avro", "auto.offset.reset": "earliest"}),
    )
    .await;
    let path = base("g5", "r");
    c.post(
        &format!("{path}/subscription"),
        &json!({"topic_pattern": "pa."}),
    )
    .await;
    assert_eq!(
        c.get(&format!("{path}/subscription")).await.json,
        json!({"topics": ["pay"]})
    );
    let r = records(c, "g5", "r", AVRO_V2).await;
    assert_eq!(
        code(&r),
        (StatusCode::INTERNAL_SERVER_ERROR, json!(50002)),
        "{}",
        r.json
    );
    assert!(
        r.json["message"]
            .as_str()
            .unwrap()
            .contains("pay-0 at offset 1"),
        "{}",
        r.json
    );
    // Nothing of the refused answer is lost: the next call meets the same records.
    let again = records(c, "g5", "r", AVRO_V2).await;
    assert_eq!(
        code(&again),
        (StatusCode::INTERNAL_SERVER_ERROR, json!(50002))
    );
    // Asking for one byte reads one record: the Avro one before the bad one decodes.
    let small = |c: &Client| {
        let path = format!("{path}/records?max_bytes=1");
        let c = c.clone();
        async move {
            c.send(Method::GET, &path, Vec::new(), &[("accept", AVRO_V2)])
                .await
        }
    };
    let r = small(c).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(
        r.json,
        json!([{"topic": "pay", "key": null, "value": {"id": "p1", "cents": 250},
                               "partition": 0, "offset": 0}])
    );
    assert_eq!(
        code(&small(c).await),
        (StatusCode::INTERNAL_SERVER_ERROR, json!(50002))
    );
    // The client skips the bad record by seeking past it.
    let past = json!({"offsets": [{"topic": "pay", "partition": 0, "offset": 2}]});
    assert_eq!(
        c.post(&format!("{path}/positions"), &past).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(small(c).await.json, json!([]));
    gw.stop().await;
}

#[tokio::test]
async fn bad_consumer_requests_get_confluents_codes() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_topic("t", 1).await;
    let r = c.post("/consumers/g6", &json!({"format": "xml"})).await;
    assert_eq!(code(&r), (StatusCode::UNPROCESSABLE_ENTITY, json!(422)));
    let r = c
        .post("/consumers/g6", &json!({"auto.offset.reset": "sometimes"}))
        .await;
    assert_eq!(code(&r), (StatusCode::UNPROCESSABLE_ENTITY, json!(42204)));
    let r = c
        .post("/consumers/g6", &json!({"fetch.min.bytes": -7}))
        .await;
    assert_eq!(code(&r), (StatusCode::UNPROCESSABLE_ENTITY, json!(40001)));
    let r = c
        .send(
            Method::POST,
            "/consumers/g6",
            Vec::new(),
            &[("content-type", "text/plain")],
        )
        .await;
    assert_eq!(code(&r), (StatusCode::UNSUPPORTED_MEDIA_TYPE, json!(415)));
    let r = c.post("/consumers/g6", &json!({"name": "bad/name"})).await;
    assert_eq!(code(&r), (StatusCode::UNPROCESSABLE_ENTITY, json!(42204)));

    // An empty body makes a binary instance with a generated name.
    let r = c.send(Method::POST, "/consumers/g6", Vec::new(), &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let name = r.json["instance_id"].as_str().unwrap().to_owned();
    assert!(name.starts_with("rest-consumer-"), "{name}");
    let path = base("g6", &name);
    let r = records(c, "g6", &name, BINARY_V2).await;
    assert_eq!(
        code(&r),
        (StatusCode::CONFLICT, json!(40903)),
        "not subscribed: {}",
        r.json
    );
    let both = json!({"topics": ["t"], "topic_pattern": "t.*"});
    let r = c.post(&format!("{path}/subscription"), &both).await;
    assert_eq!(code(&r), (StatusCode::UNPROCESSABLE_ENTITY, json!(422)));
    let r = c
        .post(
            &format!("{path}/subscription"),
            &json!({"topic_pattern": "("}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.json);
    let r = c
        .post(&format!("{path}/subscription"), &json!({"topics": ["t"]}))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = c
        .post(
            &format!("{path}/offsets"),
            &json!({"offsets": [{"topic": "t", "partition": 3, "offset": 0}]}),
        )
        .await;
    assert_eq!(code(&r), (StatusCode::CONFLICT, json!(40903)), "{}", r.json);
    let r = c.get(&format!("{path}/offsets")).await;
    assert_eq!(
        code(&r),
        (StatusCode::NOT_FOUND, json!(40402)),
        "GET offsets needs a body"
    );
    let r = c
        .send(Method::POST, &format!("{path}/offsets"), "{", &[])
        .await;
    assert_eq!(code(&r), (StatusCode::BAD_REQUEST, json!(400)));
    for path in [
        "/consumers/g6/instances/nobody/records".to_owned(),
        "/consumers/g6/instances/nobody/subscription".to_owned(),
        "/consumers/g6/instances/nobody/assignments".to_owned(),
    ] {
        let r = c.get(&path).await;
        assert_eq!(code(&r), (StatusCode::NOT_FOUND, json!(40403)), "{path}");
    }
    let r = c.delete(&base("g6", "nobody")).await;
    assert_eq!(code(&r), (StatusCode::NOT_FOUND, json!(40403)));
    gw.stop().await;
}
