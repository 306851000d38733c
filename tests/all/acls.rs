//! ACLs in Kafka's model, enforced by the broker for every front end: a valid principal
//! without the ACL gets 403 and changes nothing; literal, prefixed, deny (wins) and group
//! ACLs behave as documented; ACLs survive a restart and their removal takes effect at once.

use hyper::{Method, StatusCode};
use serde_json::{Value, json};
use tidegate::config::ServeArgs;

use crate::support::client::Reply;
use crate::support::{Client, TestGateway, sse};

const ADMIN: &str = "acl-admin";

fn args() -> ServeArgs {
    ServeArgs {
        auth_required: Some(true),
        auth_admin_token: Some(ADMIN.into()),
        ..ServeArgs::default()
    }
}

async fn call(c: &Client, method: Method, path: &str, body: &Value, token: &str) -> Reply {
    let auth = format!("Bearer {token}");
    let body = if body.is_null() {
        Vec::new()
    } else {
        serde_json::to_vec(body).unwrap()
    };
    // The REST Proxy picks its embedded format from the content type.
    let mut headers = vec![("authorization", auth.as_str())];
    if path.starts_with("/topics/") {
        headers.insert(0, ("content-type", "application/vnd.kafka.json.v2+json"));
    }
    c.send(method, path, body, &headers).await
}

async fn key(c: &Client, principal: &str, groups: &[&str]) -> String {
    let r = call(
        c,
        Method::POST,
        "/v1/auth/keys",
        &json!({"principal": principal, "groups": groups}),
        ADMIN,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    r.json["key"].as_str().unwrap().to_owned()
}

async fn acl(c: &Client, method: Method, acl: Value) {
    let r = call(c, method, "/v1/acls", &acl, ADMIN).await;
    assert!(r.status.is_success(), "{}", r.json);
}

async fn create_topics(c: &Client, names: &[&str]) {
    for t in names {
        let r = call(
            c,
            Method::POST,
            "/v1/topics",
            &json!({"name": t, "partitions": 1}),
            ADMIN,
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    }
}

async fn ends(c: &Client, topic: &str) -> Value {
    call(
        c,
        Method::GET,
        &format!("/v1/topics/{topic}"),
        &Value::Null,
        ADMIN,
    )
    .await
    .json["partitions"][0]["end_offset"]
        .clone()
}

#[tokio::test]
async fn a_principal_without_acls_is_refused_on_every_front_end() {
    let gw = TestGateway::start_in(tempfile::tempdir().unwrap(), args()).await;
    let c = &gw.client;
    create_topics(c, &["orders", "other"]).await;
    let bob = key(c, "bob", &[]).await;
    let refused: Vec<(Method, &str, Value)> = vec![
        (
            Method::POST,
            "/v1/topics/orders/records",
            json!({"records": [{"value": 1}]}),
        ),
        (
            Method::GET,
            "/v1/topics/orders/partitions/0/records?offset=0",
            Value::Null,
        ),
        (Method::GET, "/v1/topics/orders", Value::Null),
        (
            Method::PATCH,
            "/v1/topics/orders",
            json!({"config": {"retention.ms": "1000"}}),
        ),
        (Method::DELETE, "/v1/topics/orders", Value::Null),
        (
            Method::POST,
            "/v1/topics",
            json!({"name": "new", "partitions": 1}),
        ),
        (
            Method::POST,
            "/v1/groups/g/offsets",
            json!({"offsets": [{"topic": "orders", "partition": 0, "offset": 0}]}),
        ),
        (
            Method::POST,
            "/topics/orders",
            json!({"records": [{"value": 1}]}),
        ),
        (Method::POST, "/consumers/g", json!({})),
        (
            Method::POST,
            "/v3/clusters/tidegate/topics/orders/records",
            json!({"value": {"type": "JSON", "data": 1}}),
        ),
        (
            Method::POST,
            "/subjects/orders-value/versions",
            json!({"schema": "\"string\""}),
        ),
        (Method::PUT, "/config", json!({"compatibility": "NONE"})),
        (
            Method::PUT,
            "/connectors/c/config",
            json!({"connector.class": "x"}),
        ),
        (
            Method::POST,
            "/v1/transforms",
            json!({"name": "tr", "plugin": "p", "input": "orders", "outputs": ["other"]}),
        ),
        (Method::PUT, "/v1/plugins/p", Value::Null),
        (
            Method::POST,
            "/v1/acls",
            json!({"principal": "User:bob", "resource_type": "topic", "resource_name": "*", "operation": "all", "permission": "allow"}),
        ),
        (Method::POST, "/v1/auth/keys", json!({"principal": "bob2"})),
    ];
    for (method, path, body) in &refused {
        let r = call(c, method.clone(), path, body, &bob).await;
        assert_eq!(
            (r.status, r.json["error_code"].clone()),
            (StatusCode::FORBIDDEN, json!(40301)),
            "{method} {path}: {}",
            r.json
        );
    }
    let sse = sse::open(
        gw.addr(),
        &format!("/v1/topics/orders/events?token={bob}"),
        &[],
    )
    .await;
    assert_eq!(sse.err().map(|e| e.0), Some(StatusCode::FORBIDDEN));
    let listed = call(c, Method::GET, "/v1/topics", &Value::Null, &bob).await;
    assert_eq!(
        listed.json,
        json!([]),
        "topics bob may not describe are not listed: {}",
        listed.json
    );
    assert_eq!(ends(c, "orders").await, 0, "nothing was appended");
    let topics = call(c, Method::GET, "/v1/topics", &Value::Null, ADMIN)
        .await
        .json;
    let user_topics = topics
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["internal"] == false)
        .count();
    assert_eq!(user_topics, 2, "nothing was created or deleted: {topics}");
    gw.stop().await;
}

#[tokio::test]
async fn literal_prefixed_deny_and_group_acls() {
    let gw = TestGateway::start_in(tempfile::tempdir().unwrap(), args()).await;
    let c = &gw.client;
    create_topics(c, &["orders", "audit.eu", "audit.us"]).await;
    for t in ["orders", "audit.eu", "audit.us"] {
        let path = format!("/v1/topics/{t}/records");
        call(
            c,
            Method::POST,
            &path,
            &json!({"records": [{"value": 1}]}),
            ADMIN,
        )
        .await;
    }
    let alice = key(c, "alice", &["analysts"]).await;
    let write_orders = json!({"principal": "User:alice", "resource_type": "topic", "resource_name": "orders",
                              "operation": "write", "permission": "allow"});
    acl(c, Method::POST, write_orders.clone()).await;
    acl(c, Method::POST, json!({"principal": "Group:analysts", "resource_type": "topic", "resource_name": "audit.",
                                "pattern_type": "prefixed", "operation": "read", "permission": "allow"})).await;
    acl(
        c,
        Method::POST,
        json!({"principal": "User:alice", "resource_type": "topic", "resource_name": "audit.us",
                                "operation": "read", "permission": "deny"}),
    )
    .await;

    let produce = json!({"records": [{"value": 2}]});
    let r = call(
        c,
        Method::POST,
        "/v1/topics/orders/records",
        &produce,
        &alice,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "literal write: {}", r.json);
    let r = call(
        c,
        Method::GET,
        "/v1/topics/orders/partitions/0/records?offset=0",
        &Value::Null,
        &alice,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "write does not give read");
    let r = call(
        c,
        Method::GET,
        "/v1/topics/audit.eu/partitions/0/records?offset=0",
        &Value::Null,
        &alice,
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "prefixed read through the group: {}",
        r.json
    );
    let r = call(
        c,
        Method::GET,
        "/v1/topics/audit.us/partitions/0/records?offset=0",
        &Value::Null,
        &alice,
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "the deny wins over the group's allow"
    );
    let r = call(
        c,
        Method::POST,
        "/v1/topics/audit.eu/records",
        &produce,
        &alice,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "read does not give write");
    let listed = call(c, Method::GET, "/v1/topics", &Value::Null, &alice)
        .await
        .json;
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"orders") && names.contains(&"audit.eu"),
        "describe is implied: {names:?}"
    );
    let all = call(c, Method::GET, "/v1/acls", &Value::Null, ADMIN)
        .await
        .json;
    assert_eq!(all["acls"].as_array().unwrap().len(), 3);

    // ACLs survive a restart; removing one takes effect at once.
    let dir = gw.stop().await;
    let gw = TestGateway::start_in(dir, args()).await;
    let c = &gw.client;
    let r = call(
        c,
        Method::POST,
        "/v1/topics/orders/records",
        &produce,
        &alice,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    acl(c, Method::DELETE, write_orders).await;
    let r = call(
        c,
        Method::POST,
        "/v1/topics/orders/records",
        &produce,
        &alice,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(ends(c, "orders").await, 3);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transform_runs_with_its_creators_rights() {
    let gw = TestGateway::start_in(tempfile::tempdir().unwrap(), args()).await;
    let c = &gw.client;
    create_topics(c, &["in", "out"]).await;
    let alice = key(c, "alice", &[]).await;
    let grants = [
        ("transform", "copy", "create"),
        ("topic", "in", "read"),
        ("topic", "out", "write"),
    ];
    for (kind, name, op) in grants {
        acl(
            c,
            Method::POST,
            json!({"principal": "User:alice", "resource_type": kind,
            "resource_name": name, "operation": op, "permission": "allow"}),
        )
        .await;
    }
    let create = json!({"name": "copy", "plugin": "builtin:identity", "input": "in",
                        "outputs": ["out"], "on_error": "stop"});
    // The built-in plugin needs no describe; input and output are checked.
    let r = call(c, Method::POST, "/v1/transforms", &create, &alice).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let produce = json!({"records": [{"value": 1}]});
    call(c, Method::POST, "/v1/topics/in/records", &produce, ADMIN).await;
    // A long poll on the output: answered as soon as the copy lands.
    let copied = call(
        c,
        Method::GET,
        "/v1/topics/out/partitions/0/records?offset=0&timeout_ms=20000",
        &Value::Null,
        ADMIN,
    )
    .await;
    assert_eq!(
        copied.json["records"].as_array().map(Vec::len),
        Some(1),
        "{}",
        copied.json
    );

    // Alice loses write on the output: her transform can no longer write there.
    acl(
        c,
        Method::DELETE,
        json!({"principal": "User:alice", "resource_type": "topic",
        "resource_name": "out", "operation": "write", "permission": "allow"}),
    )
    .await;
    call(c, Method::POST, "/v1/topics/in/records", &produce, ADMIN).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let t = call(c, Method::GET, "/v1/transforms/copy", &Value::Null, ADMIN)
            .await
            .json;
        if t["state"] == "FAILED" {
            assert!(
                t["last_error"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("alice"),
                "{t}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the transform kept running: {t}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(ends(c, "out").await, 1, "nothing written without the right");
    gw.stop().await;
}

#[tokio::test]
async fn administrative_requests_are_audited_with_who_what_and_where() {
    let gw = TestGateway::start_in(tempfile::tempdir().unwrap(), args()).await;
    let c = &gw.client;
    call(
        c,
        Method::POST,
        "/v1/topics",
        &json!({"name": "t", "partitions": 1}),
        ADMIN,
    )
    .await;
    let bob = key(c, "bob", &[]).await;
    let r = call(c, Method::DELETE, "/v1/topics/t", &Value::Null, &bob).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Data requests are not administration: not audited.
    call(
        c,
        Method::POST,
        "/v1/topics/t/records",
        &json!({"records": [{"value": 1}]}),
        ADMIN,
    )
    .await;

    let r = call(c, Method::GET, "/v1/audit?offset=0", &Value::Null, &bob).await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "reading the audit log needs describe on the cluster"
    );
    let log = call(c, Method::GET, "/v1/audit?offset=0", &Value::Null, ADMIN)
        .await
        .json;
    let entries: Vec<(String, String, String, u64)> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert!(
                e["address"].as_str().unwrap().starts_with("127.0.0.1:"),
                "{e}"
            );
            assert!(e["time_ms"].as_i64().unwrap() > 0, "{e}");
            (
                e["principal"].as_str().unwrap().to_owned(),
                e["action"].as_str().unwrap().to_owned(),
                e["request"].as_str().unwrap().to_owned(),
                e["status"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("admin", "create_topic", "POST /v1/topics", 201),
        ("admin", "create_api_key", "POST /v1/auth/keys", 201),
        ("bob", "delete_topic", "DELETE /v1/topics/t", 403),
    ];
    let expected: Vec<(String, String, String, u64)> = expected
        .iter()
        .map(|(p, a, r, s)| ((*p).to_owned(), (*a).to_owned(), (*r).to_owned(), *s))
        .collect();
    assert_eq!(entries, expected);
    assert_eq!(log["next_offset"], 3);
    gw.stop().await;
}
