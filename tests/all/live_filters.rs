//! Per-subscriber transform plugins on live subscriptions (`transform=<plugin>&config=…`),
//! with real components built from `plugins/`: a filter keeps offsets exact, a reshaping
//! plugin rewrites values, bad plugins and configs are refused before the upgrade, and a
//! trapping plugin ends the subscription with an error and a close code.

use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::support::{TestGateway, sse};
use crate::transforms::upload;
use crate::websocket::{close_of, connect, next_json, refused};

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_filters_and_reshapes_per_subscriber() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    upload(c, "filter").await;
    upload(c, "mask").await;
    upload(c, "hostile-trap").await;
    c.create_topic("pf", 1).await;
    let records: Vec<Value> = (0..6)
        .map(|i| json!({"value": {"kind": if i % 2 == 0 { "a" } else { "b" }, "n": i, "secret": "x"}}))
        .collect();
    c.produce("pf", json!(records)).await;

    // The filter keeps kind "a" and each record keeps its own offset.
    let config = encode(r#"{"field":"kind","equals":"a"}"#);
    let mut ws = connect(
        &gw,
        &format!("/v1/topics/pf/subscribe?from=earliest&transform=filter&config={config}"),
    )
    .await;
    let mut kept = Vec::new();
    for _ in 0..3 {
        let r = next_json(&mut ws).await;
        kept.push((
            r["offset"].as_u64().unwrap(),
            r["value"]["n"].as_u64().unwrap(),
        ));
    }
    assert_eq!(kept, [(0, 0), (2, 2), (4, 4)]);

    // Another subscriber on the same topic reshapes instead (over SSE this time).
    let config = encode(r#"{"fields":"secret"}"#);
    let path = format!("/v1/topics/pf/events?from=earliest&transform=mask&config={config}");
    let mut events = sse::open(gw.addr(), &path, &[]).await.unwrap();
    let _subscribed = events.next().await;
    let masked = events.records(6).await;
    assert_eq!(masked[5].id.as_deref(), Some("0:6"));
    assert_eq!(
        masked[1].json()["value"],
        json!({"kind": "b", "n": 1, "secret": "***"})
    );

    // Refused before the upgrade: unknown plugin, config the plugin's init rejects, bad JSON.
    let (status, body) = refused(&gw, "/v1/topics/pf/subscribe?transform=nope").await;
    assert_eq!(status.as_u16(), 404, "{body}");
    let (status, body) = refused(&gw, "/v1/topics/pf/subscribe?transform=filter").await;
    assert_eq!(status.as_u16(), 422, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("field"),
        "{body}"
    );
    let (status, _) = refused(&gw, "/v1/topics/pf/subscribe?transform=filter&config=x").await;
    assert_eq!(status.as_u16(), 400);

    // A plugin that traps ends its own subscription only.
    c.create_topic("pt", 1).await;
    // "cGFuaWM=" is the raw bytes `panic`, the plugin's trigger.
    c.produce(
        "pt",
        json!([{"value": "fine"}, {"value_base64": "cGFuaWM="}]),
    )
    .await;
    let path = "/v1/topics/pt/subscribe?from=earliest&transform=hostile-trap";
    let mut hostile = connect(&gw, path).await;
    let error = loop {
        let frame = next_json(&mut hostile).await;
        if frame.get("error").is_some() {
            break frame;
        }
        assert_eq!(
            frame["value"], "fine",
            "only records before the trap: {frame}"
        );
    };
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("panic"),
        "{error}"
    );
    let (code, _) = close_of(&mut hostile).await;
    assert_eq!(code, CloseCode::Error);
    c.produce("pf", json!([{"value": {"kind": "a", "n": 6}}]))
        .await;
    let r = next_json(&mut ws).await;
    assert_eq!(
        (r["offset"].clone(), r["value"]["n"].clone()),
        (json!(6), json!(6))
    );
    gw.stop().await;
}
