//! CloudEvents on the native produce endpoint: structured, batch and binary modes map to
//! records as the Kafka protocol binding says (`ce_*` headers, `partitionkey` or `subject` as
//! the key, `time` as the timestamp), bad events are refused whole, and a topic's schema
//! applies to the event's data.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::TestGateway;

async fn post(
    c: &crate::support::Client,
    topic: &str,
    body: &Value,
    headers: &[(&str, &str)],
) -> crate::support::client::Reply {
    c.send(
        Method::POST,
        &format!("/v1/topics/{topic}/records"),
        serde_json::to_vec(body).unwrap(),
        headers,
    )
    .await
}

#[tokio::test]
async fn structured_batch_and_binary_events_become_records() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_topic("events", 1).await;
    let event = json!({"specversion": "1.0", "id": "e-1", "source": "/shop", "type": "order.created",
        "subject": "order-7", "partitionkey": "customer-3", "time": "2026-11-28T10:00:00Z",
        "datacontenttype": "application/json", "data": {"total": 42.5}});
    let r = post(
        c,
        "events",
        &event,
        &[("content-type", "application/cloudevents+json")],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    let batch = json!([
        {"specversion": "1.0", "id": "e-2", "source": "/shop", "type": "order.paid", "subject": "order-7", "data": [1, 2]},
        {"specversion": "1.0", "id": "e-3", "source": "/shop", "type": "blob", "data_base64": "AAEC"}
    ]);
    let r = post(
        c,
        "events",
        &batch,
        &[("content-type", "application/cloudevents-batch+json")],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    assert_eq!(r.json["offsets"].as_array().unwrap().len(), 2);
    let r = post(
        c,
        "events",
        &json!({"n": 1}),
        &[
            ("ce-specversion", "1.0"),
            ("ce-id", "e-4"),
            ("ce-source", "%2Fsensors"),
            ("ce-type", "reading"),
            ("content-type", "application/json"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);

    let records = c.fetch("events", 0, "offset=0").await.json["records"].clone();
    let first = &records[0];
    // Keys are the attribute's raw bytes (the Kafka binding), so they come back as base64.
    let key = |r: &Value| {
        String::from_utf8(BASE64.decode(r["key_base64"].as_str().unwrap()).unwrap()).unwrap()
    };
    assert_eq!(key(first), "customer-3", "partitionkey wins over subject");
    assert_eq!(first["value"], json!({"total": 42.5}));
    assert_eq!(first["timestamp"], 1_795_860_000_000_i64);
    for (header, value) in [
        ("ce_id", "e-1"),
        ("ce_source", "/shop"),
        ("ce_type", "order.created"),
        ("ce_specversion", "1.0"),
        ("ce_subject", "order-7"),
        ("content-type", "application/json"),
    ] {
        assert_eq!(first["headers"][header], value, "{header}: {first}");
    }
    assert_eq!(
        key(&records[1]),
        "order-7",
        "subject when there is no partitionkey"
    );
    assert_eq!(records[1]["value"], json!([1, 2]));
    assert_eq!(records[2]["value_base64"], "AAEC");
    assert_eq!(records[3]["value"], json!({"n": 1}));
    assert_eq!(
        records[3]["headers"]["ce_source"], "/sensors",
        "binary-mode headers are percent-decoded"
    );

    // A bad event refuses the whole request.
    let before = c.end_offsets("events").await;
    for (body, content_type) in [
        (
            json!([{"specversion": "1.0", "id": "ok", "source": "/s", "type": "t"}, {"specversion": "1.0", "source": "/s", "type": "t"}]),
            "application/cloudevents-batch+json",
        ),
        (
            json!({"specversion": "0.3", "id": "x", "source": "/s", "type": "t"}),
            "application/cloudevents+json",
        ),
        (
            json!({"specversion": "1.0", "id": "x", "source": "/s", "type": "t", "data_base64": "***"}),
            "application/cloudevents+json",
        ),
        (json!([1]), "application/cloudevents+json"),
    ] {
        let r = post(c, "events", &body, &[("content-type", content_type)]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {:?}", r.json);
        assert!(!r.json["message"].as_str().unwrap().is_empty());
    }
    assert_eq!(c.end_offsets("events").await, before);
    gw.stop().await;
}

#[tokio::test]
async fn a_topics_schema_applies_to_event_data() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    let r = c
        .post("/v1/topics", &json!({"name": "orders", "partitions": 1, "config": {"value.schema.validation": "true"}}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let schema = json!({"type": "object", "required": ["total"], "properties": {"total": {"type": "number"}}});
    let r = c
        .post(
            "/subjects/orders-value/versions",
            &json!({"schema": schema.to_string(), "schemaType": "JSON"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let event = |data: Value| json!({"specversion": "1.0", "id": "1", "source": "/s", "type": "t", "data": data});
    let ok = post(
        c,
        "orders",
        &event(json!({"total": 1})),
        &[("content-type", "application/cloudevents+json")],
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.json);
    let bad = post(
        c,
        "orders",
        &event(json!({"sum": 1})),
        &[("content-type", "application/cloudevents+json")],
    )
    .await;
    assert_eq!(
        bad.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        bad.json
    );
    assert_eq!(bad.json["error_code"], 42230);
    gw.stop().await;
}
