//! Authentication on every front end: with `--auth-required`, requests without credentials or
//! with wrong ones get 401 (and `WWW-Authenticate`) and change nothing; API keys, created by
//! the admin token and shown once, work as Bearer, as Basic and (for streams) as `?token=`,
//! and stop working when revoked or expired; keys survive a restart.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hyper::{Method, StatusCode};
use serde_json::{Value, json};
use tidegate::config::ServeArgs;

use crate::support::{Client, TestGateway, sse};

const ADMIN: &str = "admin-secret-token";

fn args() -> ServeArgs {
    ServeArgs {
        auth_required: Some(true),
        auth_admin_token: Some(ADMIN.into()),
        ..ServeArgs::default()
    }
}

async fn start() -> TestGateway {
    TestGateway::start_in(tempfile::tempdir().unwrap(), args()).await
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

async fn as_user(
    c: &Client,
    method: Method,
    path: &str,
    body: &Value,
    auth: Option<&str>,
) -> crate::support::client::Reply {
    let headers: Vec<(&str, &str)> = auth.map(|a| vec![("authorization", a)]).unwrap_or_default();
    c.send(method, path, serde_json::to_vec(body).unwrap(), &headers)
        .await
}

async fn end_offset(c: &Client, topic: &str) -> Value {
    let admin = bearer(ADMIN);
    let r = as_user(
        c,
        Method::GET,
        &format!("/v1/topics/{topic}"),
        &Value::Null,
        Some(&admin),
    )
    .await;
    r.json["partitions"][0]["end_offset"].clone()
}

/// New API keys (the full secret) for `principals`, made by the admin.
async fn keys_for(c: &Client, principals: &[&str]) -> Vec<String> {
    let admin = bearer(ADMIN);
    let mut keys = Vec::new();
    for who in principals {
        let body = json!({"principal": who});
        let r = as_user(c, Method::POST, "/v1/auth/keys", &body, Some(&admin)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
        keys.push(r.json["key"].as_str().unwrap().to_owned());
    }
    keys
}

/// Revokes the key with public id `id`, as the admin.
async fn revoke(c: &Client, id: &str) {
    let path = format!("/v1/auth/keys/{id}");
    let r = as_user(c, Method::DELETE, &path, &Value::Null, Some(&bearer(ADMIN))).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn every_front_end_refuses_missing_and_wrong_credentials() {
    let gw = start().await;
    let c = &gw.client;
    let admin = bearer(ADMIN);
    let r = as_user(
        c,
        Method::POST,
        "/v1/topics",
        &json!({"name": "t", "partitions": 1}),
        Some(&admin),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    assert_eq!(
        c.get("/healthz").await.status,
        StatusCode::OK,
        "health checks stay open"
    );

    let wrong_basic = format!("Basic {}", BASE64.encode("tg00:nope"));
    let requests: Vec<(Method, &str, Value)> = vec![
        (
            Method::POST,
            "/v1/topics/t/records",
            json!({"records": [{"value": 1}]}),
        ),
        (
            Method::GET,
            "/v1/topics/t/partitions/0/records?offset=0",
            Value::Null,
        ),
        (Method::GET, "/v1/topics", Value::Null),
        (Method::GET, "/v1/groups", Value::Null),
        (
            Method::POST,
            "/topics/t",
            json!({"records": [{"value": "AQ=="}]}),
        ),
        (Method::POST, "/consumers/g", json!({})),
        (
            Method::POST,
            "/v3/clusters/tidegate/topics/t/records",
            json!({"value": {"type": "JSON", "data": 1}}),
        ),
        (
            Method::POST,
            "/subjects/t-value/versions",
            json!({"schema": "\"string\""}),
        ),
        (Method::GET, "/subjects", Value::Null),
        (Method::GET, "/connectors", Value::Null),
        (Method::GET, "/v1/plugins", Value::Null),
        (Method::GET, "/v1/transforms", Value::Null),
        (Method::GET, "/v1/auth/keys", Value::Null),
        (Method::GET, "/metrics", Value::Null),
    ];
    for (method, path, body) in &requests {
        for auth in [
            None,
            Some("Bearer not-a-key"),
            Some("Bearer tg00.0000"),
            Some(wrong_basic.as_str()),
        ] {
            let r = as_user(c, method.clone(), path, body, auth).await;
            assert_eq!(
                r.status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {auth:?}: {}",
                r.json
            );
            assert_eq!(r.json["error_code"], 40101);
        }
    }
    let r = as_user(c, Method::GET, "/v1/topics", &Value::Null, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Streams: SSE and the WebSocket upgrade are refused before they start.
    let sse = sse::open(gw.addr(), "/v1/topics/t/events?token=wrong", &[]).await;
    assert_eq!(sse.err().map(|e| e.0), Some(StatusCode::UNAUTHORIZED));
    let ws =
        tokio_tungstenite::connect_async(format!("ws://{}/v1/topics/t/subscribe", gw.addr())).await;
    match ws {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        }
        other => panic!("the upgrade was not refused: {other:?}"),
    }
    assert_eq!(end_offset(c, "t").await, 0, "nothing was appended");
    let metrics = c
        .send(
            Method::GET,
            "/metrics",
            Vec::new(),
            &[("authorization", admin.as_str())],
        )
        .await;
    let text = String::from_utf8_lossy(&metrics.raw);
    let refused = text
        .lines()
        .find(|l| l.starts_with("tidegate_auth_failures_total{reason=\"unauthenticated\"}"))
        .and_then(|l| l.split_whitespace().last()?.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(refused >= 4 * 14, "auth failures counted: {refused}");
    gw.stop().await;
}

#[tokio::test]
async fn api_keys_work_as_bearer_basic_and_token_until_revoked() {
    let gw = start().await;
    let c = &gw.client;
    let admin = bearer(ADMIN);
    as_user(
        c,
        Method::POST,
        "/v1/topics",
        &json!({"name": "t", "partitions": 1}),
        Some(&admin),
    )
    .await;
    let r = as_user(
        c,
        Method::POST,
        "/v1/auth/keys",
        &json!({"principal": "alice", "description": "ci"}),
        Some(&admin),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let key = r.json["key"].as_str().unwrap().to_owned();
    let id = r.json["id"].as_str().unwrap().to_owned();
    assert!(key.starts_with(&format!("{id}.")), "{key}");
    let listed = as_user(c, Method::GET, "/v1/auth/keys", &Value::Null, Some(&admin))
        .await
        .json;
    assert_eq!(listed["keys"][0]["principal"], "alice");
    assert!(
        !listed.to_string().contains(key.split('.').nth(1).unwrap()),
        "secrets are never listed"
    );

    let everything = json!({"principal": "User:alice", "resource_type": "topic", "resource_name": "*",
                            "operation": "all", "permission": "allow"});
    let r = as_user(c, Method::POST, "/v1/acls", &everything, Some(&admin)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let alice = bearer(&key);
    let produce = json!({"records": [{"value": 1}]});
    for _ in 0..2 {
        // The second request is served from the verified-key cache.
        let r = as_user(
            c,
            Method::POST,
            "/v1/topics/t/records",
            &produce,
            Some(&alice),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    }
    let (key_id, secret) = key.split_once('.').unwrap();
    let basic = format!("Basic {}", BASE64.encode(format!("{key_id}:{secret}")));
    let r = as_user(c, Method::GET, "/subjects", &Value::Null, Some(&basic)).await;
    assert_eq!(r.status, StatusCode::OK, "Basic with id:secret: {}", r.json);
    let mut stream = sse::open(
        gw.addr(),
        &format!("/v1/topics/t/events?from=earliest&token={key}"),
        &[],
    )
    .await
    .map_err(|e| e.0)
    .unwrap();
    assert_eq!(
        stream.next().await.unwrap().event.as_deref(),
        Some("subscribed")
    );
    assert_eq!(stream.records(1).await.len(), 1);
    // A principal that is not the admin may not manage keys.
    let r = as_user(
        c,
        Method::POST,
        "/v1/auth/keys",
        &json!({"principal": "eve"}),
        Some(&alice),
    )
    .await;
    assert_eq!(
        (r.status, r.json["error_code"].clone()),
        (StatusCode::FORBIDDEN, json!(40301))
    );

    revoke(c, &id).await;
    let r = as_user(
        c,
        Method::POST,
        "/v1/topics/t/records",
        &produce,
        Some(&alice),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "a revoked key is refused at once"
    );
    assert_eq!(end_offset(c, "t").await, 2);
    gw.stop().await;
}

#[tokio::test]
async fn keys_survive_a_restart_and_expire() {
    let gw = start().await;
    let c = &gw.client;
    let admin = bearer(ADMIN);
    let r = as_user(
        c,
        Method::POST,
        "/v1/auth/keys",
        &json!({"principal": "bob"}),
        Some(&admin),
    )
    .await;
    let key = r.json["key"].as_str().unwrap().to_owned();
    let r = as_user(
        c,
        Method::POST,
        "/v1/auth/keys",
        &json!({"principal": "tmp", "expires_in_ms": 400}),
        Some(&admin),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let short = r.json["key"].as_str().unwrap().to_owned();
    let bad = as_user(
        c,
        Method::POST,
        "/v1/auth/keys",
        &json!({"principal": ""}),
        Some(&admin),
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);

    let dir = gw.stop().await;
    let gw = TestGateway::start_in(dir, args()).await;
    let c = &gw.client;
    let r = as_user(
        c,
        Method::GET,
        "/v1/topics",
        &Value::Null,
        Some(&bearer(&key)),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    // The short-lived key stops working once its time is up (a bounded wait on the clock).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let r = as_user(
            c,
            Method::GET,
            "/v1/topics",
            &Value::Null,
            Some(&bearer(&short)),
        )
        .await;
        if r.status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the key never expired"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    gw.stop().await;
}

#[tokio::test]
async fn a_principal_over_its_rate_gets_429_while_others_are_served() {
    let args = ServeArgs {
        principal_request_rate: Some(1),
        principal_request_burst: Some(3),
        ..args()
    };
    let gw = TestGateway::start_in(tempfile::tempdir().unwrap(), args).await;
    let c = &gw.client;
    let admin = bearer(ADMIN);
    let keys: Vec<String> = keys_for(c, &["flood", "calm"])
        .await
        .iter()
        .map(|k| bearer(k))
        .collect();
    // Three at once fit the burst; the fourth, within the same second, does not.
    for _ in 0..3 {
        let r = as_user(c, Method::GET, "/v1/topics", &Value::Null, Some(&keys[0])).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    }
    let r = c
        .send(
            Method::GET,
            "/v1/topics",
            Vec::new(),
            &[("authorization", keys[0].as_str())],
        )
        .await;
    assert_eq!(
        (r.status, r.json["error_code"].clone()),
        (StatusCode::TOO_MANY_REQUESTS, json!(42901))
    );
    assert_eq!(
        r.headers
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned()),
        Some("1".to_owned())
    );
    // Health checks are never limited, however many come.
    for _ in 0..10 {
        assert_eq!(c.get("/healthz").await.status, StatusCode::OK);
    }
    // Another principal keeps being served, and the admin is never limited.
    let r = as_user(c, Method::GET, "/v1/topics", &Value::Null, Some(&keys[1])).await;
    assert_eq!(r.status, StatusCode::OK);
    for _ in 0..5 {
        let r = as_user(c, Method::GET, "/v1/topics", &Value::Null, Some(&admin)).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    gw.stop().await;
}

/// Byte rates and open streams are limited per principal: a produce that puts a principal in
/// debt is let in and the next one is refused (42902, nothing appended) until it is paid for;
/// fetched bytes likewise (42903); a second open stream is refused (42904) until the first
/// closes; another principal is served all along.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn byte_rates_and_open_streams_are_limited_per_principal() {
    let args = ServeArgs {
        principal_produce_bytes_rate: Some(1_000),
        principal_fetch_bytes_rate: Some(1_000),
        principal_max_streams: Some(1),
        ..args()
    };
    let gw = TestGateway::start_in(tempfile::tempdir().unwrap(), args).await;
    let c = &gw.client;
    let admin = bearer(ADMIN);
    let post = Method::POST;
    let topic = json!({"name": "t", "partitions": 1});
    let r = as_user(c, post.clone(), "/v1/topics", &topic, Some(&admin)).await;
    assert_eq!(r.status, StatusCode::CREATED);
    for operation in ["read", "write", "describe"] {
        let acl = json!({"principal": "User:*", "resource_type": "topic", "resource_name": "t",
                         "operation": operation, "permission": "allow"});
        let r = as_user(c, post.clone(), "/v1/acls", &acl, Some(&admin)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    }
    let keys = keys_for(c, &["heavy", "light"]).await;
    let (heavy, light) = (bearer(&keys[0]), bearer(&keys[1]));
    let records = "/v1/topics/t/records";
    let big = json!({"records": [{"value": "x".repeat(5_000)}]});
    let small = json!({"records": [{"value": 1}]});

    let r = as_user(c, post.clone(), records, &big, Some(&heavy)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let r = as_user(c, post.clone(), records, &small, Some(&heavy)).await;
    assert_eq!(
        (r.status, r.json["error_code"].clone()),
        (StatusCode::TOO_MANY_REQUESTS, json!(42902))
    );
    let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=6).contains(&wait), "Retry-After {wait}");
    assert_eq!(
        end_offset(c, "t").await,
        1,
        "the refused produce appended nothing"
    );
    let r = as_user(c, post.clone(), records, &small, Some(&light)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(end_offset(c, "t").await, 2);

    let fetch = "/v1/topics/t/partitions/0/records?offset=0";
    let r = as_user(c, Method::GET, fetch, &Value::Null, Some(&light)).await;
    assert_eq!(r.json["records"].as_array().unwrap().len(), 2);
    let r = as_user(c, Method::GET, fetch, &Value::Null, Some(&light)).await;
    assert_eq!(
        (r.status, r.json["error_code"].clone()),
        (StatusCode::TOO_MANY_REQUESTS, json!(42903))
    );
    let r = as_user(c, Method::GET, fetch, &Value::Null, Some(&heavy)).await;
    assert_eq!(r.status, StatusCode::OK, "the other principal reads on");

    let stream = |key: &str| format!("/v1/topics/t/events?token={key}");
    let first = sse::open(gw.addr(), &stream(&keys[0]), &[]).await;
    assert!(first.is_ok());
    let (status, body) = sse::open(gw.addr(), &stream(&keys[0]), &[])
        .await
        .map(|_| ())
        .unwrap_err();
    assert_eq!(
        (status, &body["error_code"]),
        (StatusCode::TOO_MANY_REQUESTS, &json!(42904))
    );
    assert!(sse::open(gw.addr(), &stream(&keys[1]), &[]).await.is_ok());
    drop(first);
    // The slot is freed when the server sees the stream close: a bounded wait for that.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while sse::open(gw.addr(), &stream(&keys[0]), &[]).await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the closed stream kept its slot"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    gw.stop().await;
}

/// Revoking a key, or removing the ACL a stream was opened under, reaches streams already
/// open: the next record is not delivered, the stream ends with an error event instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_key_or_an_acl_ends_open_streams() {
    let gw = start().await;
    let c = &gw.client;
    let admin = bearer(ADMIN);
    let post = Method::POST;
    let topic = json!({"name": "t", "partitions": 1});
    assert_eq!(
        as_user(c, post.clone(), "/v1/topics", &topic, Some(&admin))
            .await
            .status,
        StatusCode::CREATED
    );
    let acl = |who: &str| {
        json!({"principal": format!("User:{who}"), "resource_type": "topic",
               "resource_name": "t", "operation": "read", "permission": "allow"})
    };
    for who in ["revoked", "unlisted"] {
        let r = as_user(c, post.clone(), "/v1/acls", &acl(who), Some(&admin)).await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let keys = keys_for(c, &["revoked", "unlisted"]).await;
    let mut streams = Vec::new();
    for key in &keys {
        let path = format!("/v1/topics/t/events?from=earliest&token={key}");
        let mut s = sse::open(gw.addr(), &path, &[])
            .await
            .map_err(|e| e.0)
            .unwrap();
        assert_eq!(s.next().await.unwrap().event.as_deref(), Some("subscribed"));
        streams.push(s);
    }
    let produce = |v: i32| {
        let body = json!({"records": [{"value": v}]});
        let admin = admin.clone();
        async move { as_user(c, Method::POST, "/v1/topics/t/records", &body, Some(&admin)).await }
    };
    produce(1).await;
    for s in &mut streams {
        assert_eq!(s.records(1).await[0].json()["value"], 1);
    }
    let ws_url = format!("ws://{}/v1/ws?token={}", gw.addr(), keys[0]);
    let (mut open_socket, _) = tokio_tungstenite::connect_async(ws_url).await.unwrap();

    revoke(c, keys[0].split_once('.').unwrap().0).await;
    let r = as_user(
        c,
        Method::DELETE,
        "/v1/acls",
        &acl("unlisted"),
        Some(&admin),
    )
    .await;
    assert_eq!(r.json["removed"], 1);

    produce(2).await;
    // A socket opened before the revocation produces nothing more: 40101, not the 40301 its
    // missing write ACL would give.
    use futures_util::{SinkExt, StreamExt};
    let frame = json!({"produce": {"records": [{"value": 3}]}, "topic": "t", "id": 7});
    open_socket
        .send(tokio_tungstenite::tungstenite::Message::text(
            frame.to_string(),
        ))
        .await
        .unwrap();
    let reply = loop {
        let message = open_socket.next().await.unwrap().unwrap();
        let text = message.into_text().unwrap();
        let v: Value = serde_json::from_str(text.as_str()).unwrap();
        if v.get("nack").is_some() || v.get("ack").is_some() {
            break v;
        }
    };
    assert_eq!(reply["error_code"], 40101, "{reply}");
    for (s, code) in streams.iter_mut().zip([40101, 40301]) {
        let e = s.next().await.unwrap();
        assert_eq!(e.event.as_deref(), Some("error"), "{e:?}");
        assert_eq!(e.json()["error_code"], code);
        assert!(s.next().await.is_none(), "the stream ended");
    }
    gw.stop().await;
}

/// One connection of `addr`, and a GET on it with `auth`: (status, error_code, whether the
/// server asked to close).
struct Connection(hyper::client::conn::http1::SendRequest<http_body_util::Empty<bytes::Bytes>>);

impl Connection {
    async fn open(addr: std::net::SocketAddr) -> Self {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let io = hyper_util::rt::TokioIo::new(tcp);
        let (sender, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
        tokio::spawn(conn);
        Self(sender)
    }

    async fn get(&mut self, path: &str, auth: &str) -> (StatusCode, Value, bool) {
        use http_body_util::BodyExt;
        let req = hyper::Request::get(path)
            .header("host", "t")
            .header("authorization", auth)
            .body(http_body_util::Empty::new())
            .unwrap();
        // The previous answer's end may still be in flight: wait until the connection can
        // take the next request.
        self.0.ready().await.unwrap();
        let resp = self.0.send_request(req).await.unwrap();
        let status = resp.status();
        let close = resp
            .headers()
            .get("connection")
            .is_some_and(|v| v == "close");
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
        (status, json["error_code"].clone(), close)
    }
}

/// Connections count for the principal of their first request: a second one of the same
/// principal is refused (42905) and closed, another principal's is served, and closing the
/// first frees the slot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_connections_are_limited_per_principal() {
    let args = ServeArgs {
        principal_max_connections: Some(1),
        ..args()
    };
    let gw = TestGateway::start_in(tempfile::tempdir().unwrap(), args).await;
    let c = &gw.client;
    let keys: Vec<String> = keys_for(c, &["one", "two", "three"])
        .await
        .iter()
        .map(|k| bearer(k))
        .collect();
    let mut first = Connection::open(gw.addr()).await;
    let (status, _, _) = first.get("/v1/topics", &keys[0]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = first.get("/v1/topics", &keys[0]).await;
    assert_eq!(status, StatusCode::OK, "the same connection goes on");

    let mut second = Connection::open(gw.addr()).await;
    let (status, code, close) = second.get("/v1/topics", &keys[0]).await;
    assert_eq!(
        (status, code, close),
        (StatusCode::TOO_MANY_REQUESTS, json!(42905), true)
    );
    let mut other = Connection::open(gw.addr()).await;
    assert_eq!(other.get("/v1/topics", &keys[1]).await.0, StatusCode::OK);

    // An upgraded WebSocket keeps its connection counted for its principal.
    let raw_three = keys[2].trim_start_matches("Bearer ");
    let ws_url = format!("ws://{}/v1/ws?token={raw_three}", gw.addr());
    let (ws, _) = tokio_tungstenite::connect_async(ws_url).await.unwrap();
    let mut after = Connection::open(gw.addr()).await;
    let (status, code, _) = after.get("/v1/topics", &keys[2]).await;
    assert_eq!(
        (status, code),
        (StatusCode::TOO_MANY_REQUESTS, json!(42905))
    );
    drop(ws);

    drop(first);
    // The slot is freed when the server sees the connection close: a bounded wait for that.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let mut next = Connection::open(gw.addr()).await;
        if next.get("/v1/topics", &keys[0]).await.0 == StatusCode::OK {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the closed connection kept its slot"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    gw.stop().await;
}
