//! Confluent REST Proxy v3 against a real gateway: the cluster and topic resources, produce
//! streamed over one chunked request (each result arrives before the next record is sent),
//! schema types, batch produce with 207, and v3's error codes.

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::support::TestGateway;

const RECORDS: &str = "/v3/clusters/tidegate/topics/events/records";

#[tokio::test]
async fn cluster_and_topic_resources_speak_v3() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    let clusters = c.get("/v3/clusters").await.json;
    assert_eq!(clusters["kind"], "KafkaClusterList");
    assert_eq!(clusters["data"][0]["cluster_id"], "tidegate");
    let r = c.get("/kafka/v3/clusters/tidegate").await;
    assert_eq!(r.json["cluster_id"], "tidegate", "{}", r.json);
    let r = c.get("/v3/clusters/other").await;
    assert_eq!(
        (r.status, r.json["error_code"].clone()),
        (StatusCode::NOT_FOUND, json!(404))
    );

    let create = json!({"topic_name": "events", "partitions_count": 3,
                        "configs": [{"name": "retention.ms", "value": "60000"}]});
    let r = c.post("/v3/clusters/tidegate/topics", &create).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    assert_eq!(
        (
            r.json["topic_name"].clone(),
            r.json["partitions_count"].clone()
        ),
        (json!("events"), json!(3))
    );
    let again = c.post("/v3/clusters/tidegate/topics", &create).await;
    assert_eq!(
        (again.status, again.json["error_code"].clone()),
        (StatusCode::BAD_REQUEST, json!(40002))
    );
    let dry = json!({"topic_name": "later", "validate_only": true});
    let r = c.post("/v3/clusters/tidegate/topics", &dry).await;
    assert_eq!(r.status, StatusCode::OK);
    let list = c.get("/v3/clusters/tidegate/topics").await.json;
    let names: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["topic_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["events"],
        "internal topics hidden, validate_only created nothing"
    );
    c.produce("events", json!([{"value": 1, "partition": 2}]))
        .await;
    let p = c
        .get("/v3/clusters/tidegate/topics/events/partitions/2")
        .await
        .json;
    assert_eq!(
        (p["partition_id"].clone(), p["latest_offset"].clone()),
        (json!(2), json!(1)),
        "{p}"
    );
    let parts = c
        .get("/v3/clusters/tidegate/topics/events/partitions")
        .await
        .json;
    assert_eq!(parts["data"].as_array().unwrap().len(), 3);
    for path in [
        "/v3/clusters/tidegate/topics/nope",
        "/v3/clusters/tidegate/topics/events/partitions/9",
        "/v3/clusters/tidegate/topics/__schemas",
    ] {
        let r = c.get(path).await;
        assert_eq!(
            (r.status, r.json["error_code"].clone()),
            (StatusCode::NOT_FOUND, json!(40403)),
            "{path}"
        );
    }
    assert_eq!(
        c.delete("/v3/clusters/tidegate/topics/events").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        c.get("/v3/clusters/tidegate/topics/events").await.status,
        StatusCode::NOT_FOUND
    );
    gw.stop().await;
}

/// One chunked request whose body the test writes piece by piece, and its response read
/// piece by piece.
struct Stream {
    tx: Option<mpsc::Sender<Bytes>>,
    body: hyper::body::Incoming,
    pending: Vec<u8>,
}

impl Stream {
    async fn open(gw: &TestGateway, path: &str) -> (StatusCode, Self) {
        let tcp = tokio::net::TcpStream::connect(gw.addr()).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .unwrap();
        tokio::spawn(conn);
        let (tx, rx) = mpsc::channel::<Bytes>(4);
        let frames = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv()
                .await
                .map(|b| (Ok::<_, std::convert::Infallible>(Frame::data(b)), rx))
        });
        let req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("host", "127.0.0.1")
            .header("content-type", "application/json")
            .body(StreamBody::new(frames))
            .unwrap();
        let resp = sender.send_request(req).await.unwrap();
        let status = resp.status();
        (
            status,
            Self {
                tx: Some(tx),
                body: resp.into_body(),
                pending: Vec::new(),
            },
        )
    }

    async fn send(&self, record: &Value) {
        let tx = self.tx.as_ref().unwrap();
        tx.send(Bytes::from(format!("{record}\n"))).await.unwrap();
    }

    /// The next `\r\n`-terminated result, `None` at the end of the response.
    async fn result(&mut self) -> Option<Value> {
        loop {
            if let Some(at) = self.pending.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.pending.drain(..at + 2).collect();
                return Some(serde_json::from_slice(&line[..at]).unwrap());
            }
            let frame = self.body.frame().await?.unwrap();
            if let Ok(data) = frame.into_data() {
                self.pending.extend_from_slice(&data);
            }
        }
    }
}

#[tokio::test]
async fn a_streamed_request_gets_each_result_before_the_next_record() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_topic("events", 2).await;
    let (status, mut s) = Stream::open(&gw, RECORDS).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the answer starts before the request ends"
    );

    s.send(
        &json!({"partition_id": 1, "key": {"type": "STRING", "data": "k1"},
                   "value": {"type": "JSON", "data": {"n": 1}},
                   "headers": [{"name": "src", "value": "d2Vi"}]}),
    )
    .await;
    let first = s.result().await.unwrap();
    assert_eq!(
        (
            first["error_code"].clone(),
            first["partition_id"].clone(),
            first["offset"].clone()
        ),
        (json!(200), json!(1), json!(0)),
        "{first}"
    );
    assert_eq!(first["key"], json!({"type": "STRING", "size": 2}));
    assert_eq!(first["value"], json!({"type": "JSON", "size": 7}));

    s.send(&json!({"value": {"type": "BINARY", "data": "not base64!"}}))
        .await;
    let bad = s.result().await.unwrap();
    assert_eq!(bad["error_code"], 400, "a bad record fails alone: {bad}");

    let schema = r#"{"type":"record","name":"E","fields":[{"name":"n","type":"int"}]}"#;
    s.send(
        &json!({"partition_id": 0, "value": {"type": "AVRO", "schema": schema, "data": {"n": 7}}}),
    )
    .await;
    let avro = s.result().await.unwrap();
    assert_eq!(avro["error_code"], 200, "{avro}");
    assert_eq!(avro["value"]["subject"], "events-value");
    assert_eq!(avro["value"]["schema_version"], 1);
    let id = avro["value"]["schema_id"].clone();
    // The same schema by id; a record for a partition the topic lacks fails with 40403.
    s.send(&json!({"partition_id": 0, "value": {"schema_id": id, "data": {"n": 8}}}))
        .await;
    s.send(&json!({"partition_id": 5, "value": {"type": "JSON", "data": 1}}))
        .await;
    let by_id = s.result().await.unwrap();
    assert_eq!(
        (by_id["offset"].clone(), by_id["value"]["type"].clone()),
        (json!(1), json!("AVRO")),
        "{by_id}"
    );
    let missing = s.result().await.unwrap();
    assert_eq!(missing["error_code"], 40403, "{missing}");
    s.tx = None;
    assert!(
        s.result().await.is_none(),
        "the response ends with the request"
    );

    let stored = c.fetch("events", 1, "offset=0").await.json;
    assert_eq!(
        stored["records"][0]["key_base64"], "azE=",
        "STRING keys are raw bytes"
    );
    assert_eq!(stored["records"][0]["value"], json!({"n": 1}));
    assert_eq!(stored["records"][0]["headers"], json!({"src": "web"}));
    let decoded = c.fetch("events", 0, "offset=0&decode=true").await.json;
    assert_eq!(decoded["records"][1]["value"], json!({"n": 8}), "{decoded}");
    assert_eq!(
        c.end_offsets("events").await,
        vec![2, 1],
        "nothing else was appended"
    );
    gw.stop().await;
}

#[tokio::test]
async fn ndjson_batch_and_validation_results_are_per_record() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_topic("events", 1).await;
    let schema = json!({"schema": r#"{"type":"object","properties":{"n":{"type":"integer"}},"required":["n"]}"#,
                        "schemaType": "JSON"});
    assert_eq!(
        c.post("/subjects/events-value/versions", &schema)
            .await
            .status,
        StatusCode::OK
    );
    let config = json!({"config": {"value.schema.validation": "true"}});
    let r = c
        .send(
            Method::PATCH,
            "/v1/topics/events",
            serde_json::to_vec(&config).unwrap(),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);

    // Two records in one plain (not chunked) body: the latest JSON schema applies.
    let body = "{\"value\": {\"type\": \"JSONSCHEMA\", \"data\": {\"n\": 1}}}\n{\"value\": {\"type\": \"JSONSCHEMA\", \"data\": {\"n\": \"x\"}}}";
    let r = c.send(Method::POST, RECORDS, body, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    let text = String::from_utf8(r.raw.to_vec()).unwrap();
    let results: Vec<Value> = text
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(results.len(), 2, "{text}");
    assert_eq!(results[0]["error_code"], 200);
    assert_eq!(
        results[1]["error_code"], 42207,
        "serialization refused: {}",
        results[1]
    );
    // A record the registry serializes but the topic's rules refuse: JSON type skips the
    // schema, validation still applies.
    let r = c
        .send(
            Method::POST,
            RECORDS,
            "{\"value\": {\"type\": \"JSON\", \"data\": {\"m\": 1}}}",
            &[],
        )
        .await;
    let refused: Value = serde_json::from_slice(r.raw.strip_suffix(b"\r\n").unwrap()).unwrap();
    assert_eq!(refused["error_code"], 42206, "{refused}");
    assert_eq!(c.end_offsets("events").await, vec![1]);

    let batch = json!({"entries": [
        {"id": "a", "value": {"type": "JSON", "data": {"m": 2}}},
        {"id": "b", "value": {"type": "JSONSCHEMA", "data": {"n": 2}}},
    ]});
    let r = c
        .post("/v3/clusters/tidegate/topics/events/records:batch", &batch)
        .await;
    assert_eq!(r.status, StatusCode::MULTI_STATUS, "{}", r.json);
    assert_eq!(r.json["successes"][0]["id"], "b");
    assert_eq!(r.json["successes"][0]["offset"], 1);
    assert_eq!(r.json["failures"][0]["id"], "a");
    for (entries, why) in [
        (json!([]), "Empty batch."),
        (
            json!([{"id": "x", "value": null}, {"id": "x", "value": null}]),
            "Batch entry IDs are not distinct.",
        ),
    ] {
        let r = c
            .post(
                "/v3/clusters/tidegate/topics/events/records:batch",
                &json!({"entries": entries}),
            )
            .await;
        assert_eq!(
            (
                r.status,
                r.json["error_code"].clone(),
                r.json["message"].clone()
            ),
            (StatusCode::UNPROCESSABLE_ENTITY, json!(42208), json!(why))
        );
    }
    let r = c.send(Method::POST, RECORDS, "", &[]).await;
    let empty: Value = serde_json::from_slice(r.raw.strip_suffix(b"\r\n").unwrap()).unwrap();
    assert_eq!(empty["error_code"], 42206, "{empty}");
    let r = c
        .send(
            Method::POST,
            "/v3/clusters/tidegate/topics/nope/records",
            "{}",
            &[],
        )
        .await;
    assert_eq!(
        (r.status, r.json["error_code"].clone()),
        (StatusCode::NOT_FOUND, json!(40403))
    );
    assert_eq!(c.end_offsets("events").await, vec![2]);
    gw.stop().await;
}
