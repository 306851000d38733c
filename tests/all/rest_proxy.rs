//! Confluent's REST Proxy v2 (metadata and produce) against a real gateway: Confluent's
//! shapes, embedded formats binary, json, avro and jsonschema, auto-registration of schemas
//! given as text, and its error codes.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Client, TestGateway};

const AVRO: &str = "application/vnd.kafka.avro.v2+json";

async fn produce(
    c: &Client,
    path: &str,
    content_type: &str,
    body: &Value,
) -> crate::support::client::Reply {
    c.send(
        Method::POST,
        path,
        serde_json::to_vec(body).unwrap(),
        &[("content-type", content_type)],
    )
    .await
}

#[tokio::test]
async fn metadata_speaks_the_proxys_shapes() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_topic("orders", 2).await;
    assert_eq!(
        c.get("/topics").await.json,
        json!(["orders"]),
        "internal topics are hidden"
    );
    let t = c.get("/topics/orders").await.json;
    assert_eq!(t["name"], "orders");
    assert_eq!(t["configs"]["cleanup.policy"], "delete", "{t}");
    assert_eq!(
        t["partitions"][1],
        json!({"partition": 1, "leader": 0, "replicas": [{"broker": 0, "leader": true, "in_sync": true}]})
    );
    assert_eq!(
        c.get("/topics/orders/partitions")
            .await
            .json
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        c.get("/topics/orders/partitions/1").await.json["partition"],
        1
    );
    c.produce("orders", json!([{"value": 1, "partition": 1}]))
        .await;
    assert_eq!(
        c.get("/topics/orders/partitions/1/offsets").await.json,
        json!({"beginning_offset": 0, "end_offset": 1})
    );
    assert_eq!(c.get("/brokers").await.json, json!({"brokers": [0]}));
    for (path, code) in [
        ("/topics/nope", 40401),
        ("/topics/__schemas", 40401),
        ("/topics/orders/partitions/7", 40402),
        ("/topics/orders/partitions/7/offsets", 40402),
    ] {
        let r = c.get(path).await;
        assert_eq!(
            (r.status, r.json["error_code"].clone()),
            (StatusCode::NOT_FOUND, json!(code)),
            "{path}"
        );
    }
    gw.stop().await;
}

#[tokio::test]
async fn produce_in_every_embedded_format() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_topic("t", 2).await;
    let r = produce(c, "/topics/t", "application/vnd.kafka.binary.v2+json",
        &json!({"records": [{"key": BASE64.encode(b"k"), "value": BASE64.encode(b"\x00\xffbin")}, {"value": null}]})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    assert_eq!(r.json["key_schema_id"], Value::Null);
    assert_eq!(r.json["offsets"][0]["error_code"], Value::Null);
    assert!(r.json["offsets"][0]["offset"].is_u64());
    let r = produce(
        c,
        "/topics/t/partitions/1",
        "application/vnd.kafka.json.v2+json",
        &json!({"records": [{"value": {"a": [1, 2]}}]}),
    )
    .await;
    assert_eq!(r.json["offsets"][0]["partition"], 1, "{:?}", r.json);
    let at = r.json["offsets"][0]["offset"].as_u64().unwrap();
    let json_record = &c.fetch("t", 1, &format!("offset={at}")).await.json["records"][0];
    assert_eq!(json_record["value"], json!({"a": [1, 2]}));

    // Avro: the schema given as text is registered under t-value; the value uses Avro's JSON
    // encoding (tagged unions) and is stored in Confluent's wire format.
    let schema = json!({"type": "record", "name": "P", "fields": [{"name": "id", "type": "string"},
        {"name": "note", "type": ["null", "string"], "default": null}]})
    .to_string();
    let r = produce(c, "/topics/t/partitions/0", AVRO,
        &json!({"value_schema": schema, "records": [{"value": {"id": "a", "note": {"string": "hi"}}}]})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    let id = r.json["value_schema_id"].as_u64().unwrap();
    assert_eq!(
        c.get("/subjects/t-value/versions/latest").await.json["id"],
        id
    );
    let r = produce(
        c,
        "/topics/t/partitions/0",
        AVRO,
        &json!({"value_schema_id": id, "records": [{"value": {"id": "b", "note": null}}]}),
    )
    .await;
    assert_eq!(r.json["value_schema_id"], id, "{:?}", r.json);
    let fetched = c.fetch("t", 0, "offset=0&decode=true").await.json;
    let values: Vec<Value> = fetched["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["value"].clone())
        .collect();
    assert_eq!(
        values[values.len() - 2..],
        [
            json!({"id": "a", "note": "hi"}),
            json!({"id": "b", "note": null})
        ]
    );

    // JSON Schema (another topic: t-value holds Avro): checked, then framed.
    c.create_topic("j", 1).await;
    let schema =
        json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]})
            .to_string();
    let r = produce(
        c,
        "/topics/j",
        "application/vnd.kafka.jsonschema.v2+json",
        &json!({"value_schema": schema, "records": [{"value": {"n": 3}}]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    let stored = &c.fetch("j", 0, "offset=0").await.json["records"][0];
    let bytes = BASE64
        .decode(stored["value_base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(bytes[0], 0);
    assert_eq!(&bytes[5..], br#"{"n":3}"#);
    let r = produce(c, "/topics/j", "application/vnd.kafka.jsonschema.v2+json",
        &json!({"value_schema_id": r.json["value_schema_id"], "records": [{"value": {"n": "three"}}]})).await;
    assert_eq!(r.json["error_code"], 42203, "{:?}", r.json);
    gw.stop().await;
}

#[tokio::test]
async fn produce_errors_carry_the_proxys_codes_and_append_nothing() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_topic("t", 1).await;
    let schema =
        json!({"type": "record", "name": "P", "fields": [{"name": "id", "type": "string"}]})
            .to_string();
    let cases = [
        (
            produce(
                c,
                "/topics/t",
                AVRO,
                &json!({"records": [{"value": {"id": "a"}}]}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            42202,
        ),
        (
            produce(
                c,
                "/topics/t",
                AVRO,
                &json!({"value_schema": schema, "records": [{"key": "k", "value": {"id": "a"}}]}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            42201,
        ),
        (
            produce(
                c,
                "/topics/t",
                AVRO,
                &json!({"value_schema": schema, "records": [{"value": {"id": 5}}]}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            42203,
        ),
        (
            produce(
                c,
                "/topics/t",
                AVRO,
                &json!({"value_schema": "{\"type\": \"nope\"}", "records": [{"value": 1}]}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            42205,
        ),
        (
            produce(
                c,
                "/topics/t",
                AVRO,
                &json!({"value_schema_id": 999, "records": [{"value": 1}]}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            42205,
        ),
        (
            produce(
                c,
                "/topics/t",
                "application/vnd.kafka.binary.v2+json",
                &json!({"records": [{"value": "***"}]}),
            )
            .await,
            StatusCode::BAD_REQUEST,
            400,
        ),
        (
            produce(
                c,
                "/topics/t",
                "application/vnd.kafka.binary.v2+json",
                &json!({"records": []}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            422,
        ),
        (
            produce(
                c,
                "/topics/t",
                "text/plain",
                &json!({"records": [{"value": 1}]}),
            )
            .await,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            415,
        ),
        (
            produce(
                c,
                "/topics/nope",
                "application/vnd.kafka.json.v2+json",
                &json!({"records": [{"value": 1}]}),
            )
            .await,
            StatusCode::NOT_FOUND,
            40401,
        ),
        (
            produce(
                c,
                "/topics/t/partitions/5",
                "application/vnd.kafka.json.v2+json",
                &json!({"records": [{"value": 1}]}),
            )
            .await,
            StatusCode::NOT_FOUND,
            40402,
        ),
    ];
    for (i, (reply, status, code)) in cases.into_iter().enumerate() {
        assert_eq!(
            (reply.status, reply.json["error_code"].clone()),
            (status, json!(code)),
            "case {i}: {:?}",
            reply.json
        );
        assert!(!reply.json["message"].as_str().unwrap().is_empty());
    }
    assert_eq!(c.end_offsets("t").await, vec![0]);
    gw.stop().await;
}
