//! Validation on produce against a real gateway: topics that require schemas refuse records
//! that break them (nothing of the request appended), Avro JSON is stored in Confluent's wire
//! format and decoded back on request, wire-format records are checked in full, and CEL
//! data-contract rules refuse records or send them to their dead-letter topic.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hyper::StatusCode;
use serde_json::{Value, json};

use crate::support::{Client, TestGateway};

async fn validated_topic(c: &Client, name: &str) {
    let r = c
        .post(
            "/v1/topics",
            &json!({"name": name, "partitions": 1, "config": {"value.schema.validation": "true"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
    assert_eq!(
        r.json["schema_validation"]["value.schema.validation"],
        "true"
    );
}

async fn register(c: &Client, subject: &str, body: Value) -> u64 {
    let r = c
        .post(&format!("/subjects/{subject}/versions"), &body)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    r.json["id"].as_u64().unwrap()
}

async fn produce(c: &Client, topic: &str, records: Value) -> crate::support::client::Reply {
    c.post(
        &format!("/v1/topics/{topic}/records"),
        &json!({"records": records}),
    )
    .await
}

fn avro_payment() -> String {
    json!({"type": "record", "name": "Payment", "namespace": "acme", "fields": [
        {"name": "id", "type": "string"},
        {"name": "amount", "type": "double"},
        {"name": "currency", "type": {"type": "enum", "name": "Currency", "symbols": ["EUR", "USD"]}},
        {"name": "note", "type": ["null", "string"], "default": null}]})
    .to_string()
}

#[tokio::test]
async fn json_schema_topics_refuse_invalid_records_and_append_nothing() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    validated_topic(c, "orders").await;
    // No schema yet: refused with a reason.
    let r = produce(c, "orders", json!([{"value": {"amount": 1}}])).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.json["message"]
            .as_str()
            .unwrap()
            .contains("has no schema"),
        "{:?}",
        r.json
    );

    let schema = json!({"type": "object", "required": ["amount"], "additionalProperties": false,
        "properties": {"amount": {"type": "number", "exclusiveMinimum": 0}, "sku": {"type": "string"}}});
    register(
        c,
        "orders-value",
        json!({"schema": schema.to_string(), "schemaType": "JSON"}),
    )
    .await;
    assert_eq!(
        produce(c, "orders", json!([{"value": {"amount": 2, "sku": "a"}}]))
            .await
            .status,
        StatusCode::OK
    );

    let r = produce(
        c,
        "orders",
        json!([{"value": {"amount": 3}}, {"value": {"amount": -1}}, {"value": {"amount": 1}}]),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.json);
    assert_eq!(r.json["error_code"], 42230);
    let message = r.json["message"].as_str().unwrap();
    assert!(message.starts_with("record 1 (value)"), "{message}");
    assert!(
        message.contains("/amount") && message.contains("orders-value"),
        "{message}"
    );
    let r = produce(
        c,
        "orders",
        json!([{"value": {"amount": 1, "extra": true}}]),
    )
    .await;
    assert!(
        r.json["message"].as_str().unwrap().contains("extra"),
        "{:?}",
        r.json
    );
    // Not JSON at all.
    let r = produce(
        c,
        "orders",
        json!([{"value_base64": BASE64.encode(b"\x01\x02")}]),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.json);
    assert_eq!(
        c.end_offsets("orders").await,
        vec![1],
        "refused requests appended nothing"
    );

    // The dry run checks without appending.
    let r = c
        .post(
            "/v1/topics/orders/validate",
            &json!({"records": [{"value": {"amount": 5}}]}),
        )
        .await;
    assert_eq!(
        (r.status, r.json["valid"].clone()),
        (StatusCode::OK, json!(true)),
        "{:?}",
        r.json
    );
    let r = c
        .post(
            "/v1/topics/orders/validate",
            &json!({"records": [{"value": {"amount": 0}}]}),
        )
        .await;
    assert_eq!(r.json["error_code"], 42230);
    assert_eq!(c.end_offsets("orders").await, vec![1]);

    // Settings survive a restart.
    let dir = gw.stop().await;
    let gw = TestGateway::start_in(dir, Default::default()).await;
    let r = produce(&gw.client, "orders", json!([{"value": {"amount": -5}}])).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Turning validation off lets anything through again.
    let r = gw
        .client
        .send(
            hyper::Method::PATCH,
            "/v1/topics/orders",
            serde_json::to_vec(&json!({"config": {"value.schema.validation": "false"}})).unwrap(),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    assert_eq!(
        produce(&gw.client, "orders", json!([{"value": "anything"}]))
            .await
            .status,
        StatusCode::OK
    );
    gw.stop().await;
}

#[tokio::test]
async fn avro_values_are_stored_in_wire_format_and_checked_in_full() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    validated_topic(c, "payments").await;
    let id = register(c, "payments-value", json!({"schema": avro_payment()})).await;
    let r = produce(
        c,
        "payments",
        json!([
            {"value": {"id": "p1", "amount": 12.5, "currency": "EUR"}},
            {"value": {"id": "p2", "amount": 3, "currency": "USD", "note": {"string": "tip"}}}
        ]),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);

    let raw = c.fetch("payments", 0, "offset=0").await.json;
    let stored = BASE64
        .decode(raw["records"][0]["value_base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(stored[0], 0, "magic byte");
    assert_eq!(
        u32::from_be_bytes(stored[1..5].try_into().unwrap()) as u64,
        id
    );
    let decoded = c.fetch("payments", 0, "offset=0&decode=true").await.json;
    assert_eq!(
        decoded["records"][0]["value"],
        json!({"id": "p1", "amount": 12.5, "currency": "EUR", "note": null})
    );
    assert_eq!(decoded["records"][1]["value"]["note"], "tip");

    // A wire-format record produced as bytes is checked to its last byte.
    let ok = produce(
        c,
        "payments",
        json!([{"value_base64": BASE64.encode(&stored)}]),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.json);
    let truncated = &stored[..stored.len() - 1];
    let mut trailing = stored.clone();
    trailing.push(0);
    let mut other_id = stored.clone();
    other_id[4] = 99;
    for (bad, needle) in [
        (truncated.to_vec(), "payload"),
        (trailing, "left over"),
        (other_id, "not registered"),
    ] {
        let r = produce(
            c,
            "payments",
            json!([{"value_base64": BASE64.encode(&bad)}]),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.json);
        let message = r.json["message"].as_str().unwrap();
        assert!(message.contains(needle), "{needle}: {message}");
    }
    // JSON that does not fit the Avro schema names the field.
    for (value, needle) in [
        (json!({"id": "p", "amount": 1, "currency": "JPY"}), "JPY"),
        (json!({"id": "p", "currency": "EUR"}), "amount"),
        (json!({"id": 7, "amount": 1, "currency": "EUR"}), ".id"),
    ] {
        let r = produce(c, "payments", json!([{"value": value}])).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.json);
        assert!(
            r.json["message"].as_str().unwrap().contains(needle),
            "{needle}: {:?}",
            r.json
        );
    }
    assert_eq!(c.end_offsets("payments").await, vec![3]);
    gw.stop().await;
}

#[tokio::test]
async fn data_contract_rules_refuse_or_dead_letter_records() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    validated_topic(c, "payments").await;
    let rule = |on_failure: &str| {
        json!({"domainRules": [{"name": "valid-amount", "kind": "CONDITION", "type": "CEL",
        "mode": "WRITE", "expr": "message.amount > 0 && message.currency in ['EUR', 'USD']",
        "onFailure": on_failure, "params": {"dlq.topic": "payments-dlq"}}]})
    };
    // A rule that does not compile is refused at registration.
    let bad = json!({"schema": avro_payment(), "ruleSet": {"domainRules": [{"name": "broken", "type": "CEL", "expr": "message.amount > && 1"}]}});
    let r = c.post("/subjects/payments-value/versions", &bad).await;
    assert_eq!(
        (r.status, r.json["error_code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!(42210)),
        "{:?}",
        r.json
    );

    register(
        c,
        "payments-value",
        json!({"schema": avro_payment(), "ruleSet": rule("ERROR")}),
    )
    .await;
    let r = produce(
        c,
        "payments",
        json!([{"value": {"id": "p1", "amount": -2.0, "currency": "EUR"}}]),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.json);
    assert!(
        r.json["message"]
            .as_str()
            .unwrap()
            .contains("rule 'valid-amount'"),
        "{:?}",
        r.json
    );
    assert_eq!(c.end_offsets("payments").await, vec![0]);

    // The same schema with a DLQ rule: a new version (the rule set is part of its identity).
    put_none(c, "payments-value").await;
    register(
        c,
        "payments-value",
        json!({"schema": avro_payment(), "ruleSet": rule("DLQ")}),
    )
    .await;
    let r = produce(
        c,
        "payments",
        json!([
            {"value": {"id": "ok", "amount": 5.0, "currency": "USD"}},
            {"value": {"id": "bad", "amount": 0.0, "currency": "EUR"}}
        ]),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    assert_eq!(r.json["offsets"][0], json!({"partition": 0, "offset": 0}));
    assert_eq!(
        r.json["offsets"][1],
        json!({"partition": 0, "offset": 0, "dead_lettered": true})
    );
    assert_eq!(c.end_offsets("payments").await, vec![1]);
    let dead = c
        .fetch("payments-dlq", 0, "offset=0&decode=true")
        .await
        .json;
    let record = &dead["records"][0];
    assert_eq!(record["value"]["id"], "bad");
    assert_eq!(record["headers"]["__rule.name"], "valid-amount");
    assert_eq!(record["headers"]["__rule.topic"], "payments");
    assert_eq!(record["headers"]["__rule.subject"], "payments-value");
    gw.stop().await;
}

async fn put_none(c: &Client, subject: &str) {
    let r = c
        .send(
            hyper::Method::PUT,
            &format!("/config/{subject}"),
            serde_json::to_vec(&json!({"compatibility": "NONE"})).unwrap(),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn live_subscribers_may_ask_for_decoded_avro() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    validated_topic(c, "payments").await;
    register(c, "payments-value", json!({"schema": avro_payment()})).await;
    let r = produce(
        c,
        "payments",
        json!([
            {"value": {"id": "p1", "amount": 12.5, "currency": "EUR"}},
            {"value": {"id": "p2", "amount": 99.0, "currency": "USD"}}
        ]),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    // Decoded before the filter, so a predicate can name a field of the Avro record.
    let path = "/v1/topics/payments/events?from=earliest&decode=true&filter=/amount%20%3E%2050";
    let mut s = crate::support::sse::open(gw.addr(), path, &[])
        .await
        .unwrap();
    assert_eq!(s.next().await.unwrap().event.as_deref(), Some("subscribed"));
    let events = s.records(1).await;
    assert_eq!(
        events[0].json()["value"],
        json!({"id": "p2", "amount": 99.0, "currency": "USD", "note": null})
    );
    let mut raw =
        crate::support::sse::open(gw.addr(), "/v1/topics/payments/events?from=earliest", &[])
            .await
            .unwrap();
    assert_eq!(
        raw.next().await.unwrap().event.as_deref(),
        Some("subscribed")
    );
    let events = raw.records(1).await;
    assert!(
        events[0].json()["value_base64"].is_string(),
        "{:?}",
        events[0].json()
    );
    drop((s, raw));
    gw.stop().await;
}

#[tokio::test]
async fn partial_produce_appends_the_valid_and_keeps_the_refused_in_a_dead_letter_topic() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    validated_topic(c, "orders").await;
    let schema = json!({"type": "object", "required": ["amount"], "properties": {"amount": {"type": "number", "minimum": 1}}});
    register(
        c,
        "orders-value",
        json!({"schema": schema.to_string(), "schemaType": "JSON"}),
    )
    .await;
    let records = json!({"records": [{"value": {"amount": 2}}, {"value": {"amount": 0}}, {"value": {"amount": 3}}]});

    // Without a dead-letter topic: reported, not kept.
    let r = c
        .post("/v1/topics/orders/records?partial=true", &records)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    assert_eq!(r.json["offsets"][0], json!({"partition": 0, "offset": 0}));
    assert_eq!(r.json["offsets"][1]["error_code"], 42230);
    assert!(
        r.json["offsets"][1]["message"]
            .as_str()
            .unwrap()
            .starts_with("record 1 (value)"),
        "{:?}",
        r.json
    );
    assert!(r.json["offsets"][1].get("dead_letter").is_none());
    assert_eq!(r.json["offsets"][2], json!({"partition": 0, "offset": 1}));
    assert_eq!(c.end_offsets("orders").await, vec![2]);

    // With one, the refused record is kept there with the reason in headers.
    let patch = json!({"config": {"schema.dead.letter.topic": "orders-rejected"}});
    let r = c
        .send(
            hyper::Method::PATCH,
            "/v1/topics/orders",
            serde_json::to_vec(&patch).unwrap(),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    assert_eq!(
        r.json["schema_validation"]["schema.dead.letter.topic"],
        "orders-rejected"
    );
    let r = c
        .post("/v1/topics/orders/records?partial=true", &records)
        .await;
    assert_eq!(
        r.json["offsets"][1]["dead_letter"],
        json!({"topic": "orders-rejected", "partition": 0, "offset": 0}),
        "{:?}",
        r.json
    );
    let kept = c.fetch("orders-rejected", 0, "offset=0").await.json;
    let record = &kept["records"][0];
    assert_eq!(record["value"], json!({"amount": 0}));
    assert_eq!(record["headers"]["tidegate.error.topic"], "orders");
    assert_eq!(record["headers"]["tidegate.error.subject"], "orders-value");
    assert_eq!(record["headers"]["tidegate.error.path"], "/amount");
    assert_eq!(record["headers"]["tidegate.error.index"], "1");
    assert!(
        record["headers"]["tidegate.error.reason"]
            .as_str()
            .unwrap()
            .contains("minimum"),
        "{record}"
    );
    // All or nothing stays the default, and the topic cannot be its own dead-letter topic.
    assert_eq!(
        c.post("/v1/topics/orders/records", &records).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(c.end_offsets("orders").await, vec![4]);
    let own = json!({"config": {"schema.dead.letter.topic": "orders"}});
    let r = c
        .send(
            hyper::Method::PATCH,
            "/v1/topics/orders",
            serde_json::to_vec(&own).unwrap(),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.json);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transform_output_to_a_validated_topic_is_checked() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_topic("raw", 1).await;
    validated_topic(c, "clean").await;
    let schema = json!({"type": "object", "required": ["amount"], "properties": {"amount": {"type": "number"}}});
    register(
        c,
        "clean-value",
        json!({"schema": schema.to_string(), "schemaType": "JSON"}),
    )
    .await;
    let r = c
        .post(
            "/v1/transforms",
            &json!({"name": "copy", "plugin": "builtin:identity", "input": "raw", "outputs": ["clean"],
                    "batch": {"max_records": 1, "max_wait_ms": 0}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
    c.produce("raw", json!([{"value": {"amount": 1}}])).await;
    crate::transforms::wait_for_records(c, "clean", 1, std::time::Duration::from_secs(60)).await;

    // An output the topic's schema refuses stops the transform with the reason; nothing of
    // that batch lands.
    c.produce("raw", json!([{"value": {"amount": "one"}}]))
        .await;
    let mut last = Value::Null;
    for _ in 0..3_000 {
        last = c.get("/v1/transforms/copy").await.json;
        if last["state"] == "FAILED" {
            break;
        }
        // The status has no long poll: a bounded retry (about a minute in all).
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(last["state"], "FAILED", "{last}");
    let error = last["last_error"].as_str().unwrap_or_default();
    assert!(
        error.contains("is invalid") && error.contains("/amount"),
        "{last}"
    );
    assert_eq!(c.end_offsets("clean").await, vec![1]);
    gw.stop().await;
}

/// Native produce checks each value where it lies in the body, in the same pass that reads the
/// body; REST Proxy v2 decodes its body itself and leaves the whole check to produce. Both must
/// store the same bytes, for compact and pretty-printed bodies alike, and a record that fails
/// still refuses the whole request with the full check's message.
#[tokio::test]
async fn values_checked_while_the_body_is_read_are_stored_as_the_full_check_stores_them() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    let json_schema = json!({"type": "object", "required": ["id"], "properties": {
        "id": {"type": "string"}, "amount": {"type": "number", "exclusiveMinimum": 0}}});
    let rule = json!({"domainRules": [{"name": "positive", "kind": "CONDITION", "type": "CEL",
        "mode": "WRITE", "expr": "message.amount > 0"}]});
    for (topic, schema) in [
        ("av", json!({"schema": avro_payment(), "ruleSet": rule})),
        (
            "js",
            json!({"schemaType": "JSON", "schema": json_schema.to_string()}),
        ),
    ] {
        validated_topic(c, topic).await;
        register(c, &format!("{topic}-value"), schema).await;
        let records = json!([
            {"value": {"id": "p1", "amount": 12.5, "currency": "EUR"}},
            {"value": {"id": "caf\u{e9} \"2\"", "amount": 3, "currency": "USD", "note": {"string": "tip"}}},
            {"key": {"k": [1, 2]}, "value": {"id": "p3", "amount": 1e2, "currency": "EUR", "note": null},
             "headers": {"h": "v"}},
        ]);
        let body = json!({"records": records});
        let path = format!("/v1/topics/{topic}/records");
        let compact = c.post(&path, &body).await;
        assert_eq!(
            compact.status,
            StatusCode::OK,
            "{topic}: {:?}",
            compact.json
        );
        let pretty = c
            .send(
                hyper::Method::POST,
                &path,
                serde_json::to_vec_pretty(&body).unwrap(),
                &[],
            )
            .await;
        assert_eq!(pretty.status, StatusCode::OK, "{topic}: {:?}", pretty.json);
        let v2 = c
            .send(
                hyper::Method::POST,
                &format!("/topics/{topic}"),
                serde_json::to_vec(&body).unwrap(),
                &[("content-type", "application/vnd.kafka.json.v2+json")],
            )
            .await;
        assert_eq!(v2.status, StatusCode::OK, "{topic}: {:?}", v2.json);

        let stored = c.fetch(topic, 0, "offset=0").await.json["records"].clone();
        let field = if topic == "av" {
            "value_base64"
        } else {
            "value"
        };
        for i in 0..3 {
            for again in [i + 3, i + 6] {
                assert_eq!(stored[i][field], stored[again][field], "{topic} record {i}");
                assert_eq!(stored[i]["key"], stored[again]["key"], "{topic} record {i}");
            }
            // REST Proxy v2's records carry no headers.
            assert_eq!(stored[i]["headers"], stored[i + 3]["headers"]);
        }
        assert!(!stored[0][field].is_null(), "{topic}: {:?}", stored[0]);

        // One bad record among good ones: the full check's refusal, nothing appended.
        let bad = json!({"records": [records[0], {"value": {"id": "p9", "amount": -1,
            "currency": "EUR"}}]});
        for body in [
            serde_json::to_vec(&bad).unwrap(),
            serde_json::to_vec_pretty(&bad).unwrap(),
        ] {
            let r = c.send(hyper::Method::POST, &path, body, &[]).await;
            assert_eq!(
                r.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{topic}: {:?}",
                r.json
            );
            let message = r.json["message"].as_str().unwrap();
            assert!(message.contains("record 1"), "{topic}: {message}");
        }
        assert_eq!(c.end_offsets(topic).await, vec![9], "{topic}");
    }
    gw.stop().await;
}

/// The dry run answers what produce would do with the same body. A rule that asks whether a
/// field was sent sees the record as the client sent it in both: a defaulted Avro field the
/// client left out is absent, not `null` (the wire-format bytes, once encoded, carry the
/// default, so the dry run must not judge those).
#[tokio::test]
async fn the_dry_run_agrees_with_produce_on_fields_left_to_their_defaults() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    validated_topic(c, "orders").await;
    let schema = json!({"type": "record", "name": "Order", "fields": [
        {"name": "id", "type": "string"},
        {"name": "discount", "type": ["null", "int"], "default": null}]})
    .to_string();
    let rule = json!({"domainRules": [{"name": "small-discount", "kind": "CONDITION",
        "type": "CEL", "mode": "WRITE", "expr": "!has(message.discount) || message.discount < 50"}]});
    register(
        c,
        "orders-value",
        json!({"schema": schema, "ruleSet": rule}),
    )
    .await;
    for (value, valid) in [
        (json!({"id": "a"}), true),
        (json!({"id": "b", "discount": 10}), true),
        (json!({"id": "c", "discount": 70}), false),
        // Present but null: `has` holds and `null < 50` is an error, which fails the rule.
        (json!({"id": "d", "discount": null}), false),
    ] {
        let body = json!({"records": [{"value": value}]});
        let dry = c.post("/v1/topics/orders/validate", &body).await;
        let produced = c.post("/v1/topics/orders/records", &body).await;
        assert_eq!(
            dry.status == StatusCode::OK,
            produced.status == StatusCode::OK,
            "{value}: dry run {:?}, produce {:?}",
            dry.json,
            produced.json
        );
        assert_eq!(
            produced.status == StatusCode::OK,
            valid,
            "{value}: {:?}",
            produced.json
        );
    }
    gw.stop().await;
}
