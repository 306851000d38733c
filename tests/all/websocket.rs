//! WebSocket subscriptions through a real server and a real WebSocket client
//! (tokio-tungstenite): live delivery, exact resume, batches, produce with ack and nack, bad
//! input refused before the upgrade, and close codes for bad frames, deletion and shutdown.

use futures_util::{SinkExt, StreamExt};
use hyper::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use crate::support::{TestGateway, assert_record_shape};

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub(crate) async fn connect(gw: &TestGateway, path: &str) -> Ws {
    let addr = gw.addr();
    connect_async(format!("ws://{addr}{path}")).await.unwrap().0
}

/// The HTTP status and JSON body of a refused upgrade.
pub(crate) async fn refused(gw: &TestGateway, path: &str) -> (StatusCode, Value) {
    let addr = gw.addr();
    match connect_async(format!("ws://{addr}{path}")).await {
        Err(WsError::Http(resp)) => {
            let body = resp.body().clone().unwrap_or_default();
            (
                StatusCode::from_u16(resp.status().as_u16()).unwrap(),
                serde_json::from_slice(&body).unwrap_or(Value::Null),
            )
        }
        other => panic!("{path}: expected a refusal, got {:?}", other.map(|_| ())),
    }
}

/// The next text frame as JSON (pings are skipped); panics after 20 s.
pub(crate) async fn next_json(ws: &mut Ws) -> Value {
    // One deadline for the whole wait, so pings cannot keep a test waiting forever.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("no frame within 20 s")
            .expect("socket ended")
            .expect("socket error");
        match msg {
            Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// Reads until the server closes; returns its close code and reason.
pub(crate) async fn close_of(ws: &mut Ws) -> (CloseCode, String) {
    loop {
        let msg = tokio::time::timeout(std::time::Duration::from_secs(20), ws.next())
            .await
            .expect("no close within 20 s");
        match msg {
            Some(Ok(Message::Close(Some(frame)))) => return (frame.code, frame.reason.to_string()),
            Some(Ok(_)) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

fn values(records: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = records
        .iter()
        .map(|r| r["value"].as_str().unwrap().to_owned())
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_stream_live_and_resume_exactly() {
    let gw = TestGateway::start().await;
    gw.client.create_topic("ws", 2).await;
    let mut ws = connect(&gw, "/v1/topics/ws/subscribe").await;
    gw.client
        .produce("ws", json!([{"value": "a", "partition": 0}, {"value": "b", "partition": 1}, {"value": "c", "partition": 0}]))
        .await;
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(next_json(&mut ws).await);
    }
    assert_eq!(values(&got), ["a", "b", "c"]);
    assert_record_shape(&got[0]);
    drop(ws);

    // Exact resume: positions after "a" on partition 0, nothing yet on partition 1.
    gw.client
        .produce("ws", json!([{"value": "d", "partition": 1}]))
        .await;
    let mut again = connect(&gw, "/v1/topics/ws/subscribe?offsets=0:1,1:0").await;
    let mut rest = Vec::new();
    for _ in 0..3 {
        rest.push(next_json(&mut again).await);
    }
    assert_eq!(values(&rest), ["b", "c", "d"], "no gap, no duplicate");

    let mut batched = connect(
        &gw,
        "/v1/topics/ws/subscribe?from=earliest&partitions=0&batch=true",
    )
    .await;
    let frame = next_json(&mut batched).await;
    assert_eq!(values(frame.as_array().unwrap()), ["a", "c"]);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_over_the_socket_is_acked_or_nacked() {
    let gw = TestGateway::start().await;
    gw.client.create_topic("wsp", 1).await;
    let mut ws = connect(&gw, "/v1/topics/wsp/subscribe?from=latest").await;
    let send = json!({"produce": {"records": [{"value": {"n": 1}}, {"key": "k", "value": "two"}]}, "id": 7});
    ws.send(Message::text(send.to_string())).await.unwrap();
    let mut ack = None;
    let mut delivered = Vec::new();
    while ack.is_none() || delivered.len() < 2 {
        let frame = next_json(&mut ws).await;
        if frame.get("ack").is_some() {
            ack = Some(frame);
        } else {
            delivered.push(frame);
        }
    }
    let ack = ack.unwrap();
    assert_eq!(ack["ack"], 7);
    assert_eq!(ack["offsets"].as_array().unwrap().len(), 2, "{ack}");
    assert_eq!(
        delivered[0]["value"],
        json!({"n": 1}),
        "the subscription sees its own produce"
    );

    let bad = json!({"produce": {"records": [{"value": "x", "partition": 9}]}, "id": 8});
    ws.send(Message::text(bad.to_string())).await.unwrap();
    let nack = next_json(&mut ws).await;
    assert_eq!(nack["nack"], 8, "{nack}");
    assert!(
        nack["error_code"].as_u64().is_some_and(|c| c >= 40000),
        "{nack}"
    );
    assert!(
        nack["message"]
            .as_str()
            .is_some_and(|m| m.contains("partition")),
        "{nack}"
    );
    let end = gw.client.end_offsets("wsp").await;
    assert_eq!(end, [2], "the nacked request appended nothing");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_status_or_a_close_code_and_the_server_stays_up() {
    let gw = TestGateway::start_with(|a| a.max_body_bytes = Some(4096)).await;
    gw.client.create_topic("wsb", 1).await;
    for (path, status) in [
        ("/v1/topics/nope/subscribe", StatusCode::NOT_FOUND),
        (
            "/v1/topics/wsb/subscribe?from=soon",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/v1/topics/wsb/subscribe?max_in_flight=0",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/v1/topics/wsb/subscribe?group=g&partitions=0",
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (got, body) = refused(&gw, path).await;
        assert_eq!(got, status, "{path}: {body}");
        assert!(body["message"].is_string(), "{path}: {body}");
    }
    let plain = gw.client.get("/v1/topics/wsb/subscribe").await;
    assert_eq!(
        plain.status,
        StatusCode::UPGRADE_REQUIRED,
        "{:?}",
        plain.json
    );

    let mut ws = connect(&gw, "/v1/topics/wsb/subscribe").await;
    ws.send(Message::text("{not json")).await.unwrap();
    assert_eq!(close_of(&mut ws).await.0, CloseCode::Invalid);

    let mut ws = connect(&gw, "/v1/topics/wsb/subscribe").await;
    ws.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    assert_eq!(close_of(&mut ws).await.0, CloseCode::Unsupported);

    let mut ws = connect(&gw, "/v1/topics/wsb/subscribe").await;
    ws.send(Message::text("x".repeat(10_000))).await.unwrap();
    assert_eq!(close_of(&mut ws).await.0, CloseCode::Size);

    let mut ws = connect(&gw, "/v1/topics/wsb/subscribe").await;
    assert_eq!(
        gw.client.delete("/v1/topics/wsb").await.status,
        StatusCode::NO_CONTENT
    );
    let error = next_json(&mut ws).await;
    assert_eq!(error["error"]["error_code"], 40401, "{error}");
    assert_eq!(close_of(&mut ws).await.0, CloseCode::from(4404));

    assert_eq!(gw.client.get("/healthz").await.status, StatusCode::OK);
    gw.client.create_topic("wsb", 1).await;
    let mut ws = connect(&gw, "/v1/topics/wsb/subscribe").await;
    let (code, _) = tokio::join!(close_of(&mut ws), gw.stop()).0;
    assert_eq!(code, CloseCode::Away, "shutdown closes with 1001");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_socket_carries_many_subscriptions() {
    let gw = TestGateway::start().await;
    gw.client.create_topic("feed-a", 1).await;
    gw.client.create_topic("feed-b", 1).await;
    gw.client.produce("feed-a", json!([{"value": "a0"}])).await;
    let mut ws = connect(&gw, "/v1/ws").await;
    let subscribe = |id: Value, topic: &str, extra: Value| {
        let mut spec = json!({"id": id, "topic": topic});
        for (k, v) in extra.as_object().unwrap() {
            spec[k] = v.clone();
        }
        Message::text(json!({"subscribe": spec}).to_string())
    };
    ws.send(subscribe(json!("a"), "feed-a", json!({"from": "earliest"})))
        .await
        .unwrap();
    ws.send(subscribe(
        json!(2),
        "feed-b",
        json!({"from": "latest", "filter": "/n > 1"}),
    ))
    .await
    .unwrap();
    ws.send(subscribe(json!("bad"), "nope", json!({})))
        .await
        .unwrap();
    ws.send(subscribe(json!("a"), "feed-b", json!({})))
        .await
        .unwrap();

    let mut acks = Vec::new();
    let mut records = Vec::new();
    let mut errors = Vec::new();
    while acks.len() < 2 || records.is_empty() || errors.len() < 2 {
        let frame = next_json(&mut ws).await;
        if frame.get("subscribed").is_some() {
            acks.push(frame["subscribed"].clone());
        } else if frame.get("error").is_some() {
            errors.push((
                frame["subscription"].clone(),
                frame["error"]["error_code"].clone(),
            ));
        } else {
            records.push(frame);
        }
    }
    assert_eq!(acks, [json!("a"), json!(2)]);
    assert!(errors.contains(&(json!("bad"), json!(40401))), "{errors:?}");
    assert!(
        errors.iter().any(|(id, code)| id == "a" && code == 40001),
        "{errors:?}"
    );
    assert_eq!(records[0]["subscription"], "a");
    assert_eq!(records[0]["value"], "a0");
    assert_record_shape(&records[0]);

    // Produce through the socket to feed-b: only the record the filter passes comes back.
    let produce = json!({"produce": {"records": [{"value": {"n": 1}}, {"value": {"n": 5}}]}, "topic": "feed-b", "id": 9});
    ws.send(Message::text(produce.to_string())).await.unwrap();
    let (mut ack, mut delivered) = (None, None);
    while ack.is_none() || delivered.is_none() {
        let frame = next_json(&mut ws).await;
        if frame.get("ack").is_some() {
            ack = Some(frame);
        } else {
            delivered = Some(frame);
        }
    }
    assert_eq!(ack.unwrap()["ack"], 9);
    let delivered = delivered.unwrap();
    assert_eq!(
        (
            delivered["subscription"].clone(),
            delivered["value"]["n"].clone()
        ),
        (json!(2), json!(5))
    );

    // After unsubscribing, feed-a's new records no longer arrive; feed-b's still do.
    ws.send(Message::text(json!({"unsubscribe": "a"}).to_string()))
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await["unsubscribed"], "a");
    gw.client.produce("feed-a", json!([{"value": "a1"}])).await;
    gw.client
        .produce("feed-b", json!([{"value": {"n": 7}}]))
        .await;
    let next = next_json(&mut ws).await;
    assert_eq!(
        (next["subscription"].clone(), next["value"]["n"].clone()),
        (json!(2), json!(7))
    );

    ws.send(Message::text("{\"subscribe\": 1, \"unsubscribe\": 2}"))
        .await
        .unwrap();
    assert_eq!(close_of(&mut ws).await.0, CloseCode::Invalid);
    gw.stop().await;
}
