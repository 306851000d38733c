//! Confluent's Schema Registry API over HTTP against a real gateway: registration, ids,
//! lookups, deletes, config, mode, compatibility (a table of schema pairs per level), error
//! codes, and a restart that keeps everything.

use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Client, TestGateway};

const SR: &str = "application/vnd.schemaregistry.v1+json";

fn record(fields: Value) -> String {
    json!({"type": "record", "name": "R", "fields": fields}).to_string()
}

async fn register(c: &Client, subject: &str, schema: &str) -> crate::support::client::Reply {
    c.post(
        &format!("/subjects/{subject}/versions"),
        &json!({"schema": schema}),
    )
    .await
}

async fn register_typed(
    c: &Client,
    subject: &str,
    kind: &str,
    schema: &str,
) -> crate::support::client::Reply {
    c.post(
        &format!("/subjects/{subject}/versions"),
        &json!({"schema": schema, "schemaType": kind}),
    )
    .await
}

async fn put_json(c: &Client, path: &str, body: &Value) -> crate::support::client::Reply {
    c.send(Method::PUT, path, serde_json::to_vec(body).unwrap(), &[])
        .await
}

#[tokio::test]
async fn registration_lookup_and_reads_speak_confluents_api() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    let v1 = record(json!([{"name": "id", "type": "string"}]));
    let r = register(c, "payments-value", &v1).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    assert_eq!(r.json["id"], 1);
    assert_eq!(r.json["version"], 1);
    // Whitespace does not make a new schema; another subject shares the id.
    let spaced = v1.replace(':', " : ");
    assert_eq!(register(c, "payments-value", &spaced).await.json["id"], 1);
    assert_eq!(register(c, "audit-value", &v1).await.json["id"], 1);

    let r = c.get("/subjects/payments-value/versions/latest").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json["subject"], "payments-value");
    assert_eq!(r.json["version"], 1);
    assert_eq!(r.json["id"], 1);
    assert!(
        r.json.get("schemaType").is_none(),
        "AVRO is implied: {}",
        r.json
    );
    let stored: Value = serde_json::from_str(r.json["schema"].as_str().unwrap()).unwrap();
    assert_eq!(stored["name"], "R");

    let r = c
        .send(
            Method::GET,
            "/subjects/payments-value/versions/1/schema",
            Vec::new(),
            &[("accept", SR)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json, stored, "the raw text, unquoted");

    let r = c.get("/schemas/ids/1").await;
    let by_id: Value = serde_json::from_str(r.json["schema"].as_str().unwrap()).unwrap();
    assert_eq!(by_id, stored);
    assert!(r.json.get("id").is_none());
    assert_eq!(
        c.get("/schemas/ids/1/subjects").await.json,
        json!(["audit-value", "payments-value"])
    );
    assert_eq!(
        c.get("/schemas/ids/1/versions").await.json,
        json!([{"subject": "audit-value", "version": 1}, {"subject": "payments-value", "version": 1}])
    );
    assert_eq!(
        c.get("/subjects").await.json,
        json!(["audit-value", "payments-value"])
    );
    assert_eq!(
        c.get("/subjects?subjectPrefix=pay").await.json,
        json!(["payments-value"])
    );
    assert_eq!(
        c.get("/schemas/types").await.json,
        json!(["JSON", "PROTOBUF", "AVRO"])
    );

    let lookup = c
        .post(
            "/subjects/payments-value?normalize=False&deleted=False",
            &json!({"schema": spaced}),
        )
        .await;
    assert_eq!(lookup.status, StatusCode::OK, "{:?}", lookup.json);
    assert_eq!(
        (lookup.json["id"].clone(), lookup.json["version"].clone()),
        (json!(1), json!(1))
    );

    let r = c.get("/subjects/payments-value/versions").await;
    assert_eq!(r.json, json!([1]));

    // JSON Schema, with metadata and a rule set stored and returned verbatim.
    let schema = json!({"type": "object", "properties": {"n": {"type": "integer"}}}).to_string();
    let metadata = json!({"properties": {"owner": "team-a"}});
    let rule_set = json!({"domainRules": [{"name": "positive", "kind": "CONDITION", "type": "CEL", "mode": "WRITE", "expr": "message.n > 0"}]});
    let r = c
        .post(
            "/subjects/orders-value/versions",
            &json!({"schema": schema, "schemaType": "JSON", "metadata": metadata, "ruleSet": rule_set}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    let id = r.json["id"].as_u64().unwrap();
    assert_eq!(id, 2);
    let r = c.get(&format!("/schemas/ids/{id}")).await;
    assert_eq!(r.json["schemaType"], "JSON");
    assert_eq!(r.json["metadata"], metadata);
    assert_eq!(r.json["ruleSet"], rule_set);
    gw.stop().await;
}

#[tokio::test]
async fn errors_carry_confluents_codes_and_change_nothing() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    let v1 = record(json!([{"name": "a", "type": "int"}]));
    assert_eq!(register(c, "s", &v1).await.status, StatusCode::OK);

    let cases: Vec<(crate::support::client::Reply, StatusCode, u64)> = vec![
        (
            c.get("/subjects/nope/versions").await,
            StatusCode::NOT_FOUND,
            40401,
        ),
        (
            c.get("/subjects/s/versions/9").await,
            StatusCode::NOT_FOUND,
            40402,
        ),
        (c.get("/schemas/ids/99").await, StatusCode::NOT_FOUND, 40403),
        (
            c.get("/subjects/s/versions/0").await,
            StatusCode::UNPROCESSABLE_ENTITY,
            42202,
        ),
        (
            c.get("/subjects/s/versions/one").await,
            StatusCode::UNPROCESSABLE_ENTITY,
            42202,
        ),
        (
            register(c, "s", "{\"type\":").await,
            StatusCode::UNPROCESSABLE_ENTITY,
            42201,
        ),
        (
            register(c, "s", r#"{"type":"record","name":"1R","fields":[]}"#).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            42201,
        ),
        (
            register_typed(c, "s", "PROTOBUF", "syntax = \"proto3\";").await,
            StatusCode::UNPROCESSABLE_ENTITY,
            42201,
        ),
        (
            register_typed(c, "s", "XML", "<a/>").await,
            StatusCode::UNPROCESSABLE_ENTITY,
            42201,
        ),
        (
            register_typed(c, "j", "JSON", r#"{"type": 12}"#).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            42201,
        ),
        (
            register(
                c,
                "s",
                &record(json!([{"name": "a", "type": "int"}, {"name": "b", "type": "string"}])),
            )
            .await,
            StatusCode::CONFLICT,
            409,
        ),
        (
            put_json(c, "/config/s", &json!({"compatibility": "SIDEWAYS"})).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            42203,
        ),
        (
            put_json(c, "/mode", &json!({"mode": "WRITEONLY"})).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            42204,
        ),
        (c.get("/config/s").await, StatusCode::NOT_FOUND, 40408),
        (c.get("/mode/s").await, StatusCode::NOT_FOUND, 40409),
        (
            c.delete("/subjects/s/versions/1?permanent=true").await,
            StatusCode::NOT_FOUND,
            40407,
        ),
        (
            c.delete("/subjects/s?permanent=true").await,
            StatusCode::NOT_FOUND,
            40405,
        ),
        (
            c.send(
                Method::POST,
                "/subjects/s/versions",
                "schema",
                &[("content-type", "text/plain")],
            )
            .await,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            415,
        ),
        (
            c.send(
                Method::GET,
                "/subjects",
                Vec::new(),
                &[("accept", "text/html")],
            )
            .await,
            StatusCode::NOT_ACCEPTABLE,
            406,
        ),
        (
            c.send(Method::POST, "/subjects/s/versions", "{not json", &[])
                .await,
            StatusCode::BAD_REQUEST,
            40001,
        ),
    ];
    for (i, (reply, status, code)) in cases.into_iter().enumerate() {
        assert_eq!(reply.status, status, "case {i}: {:?}", reply.json);
        assert_eq!(reply.json["error_code"], code, "case {i}: {:?}", reply.json);
        assert!(
            reply.json["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "case {i}"
        );
    }
    let r = register(
        c,
        "s",
        &record(json!([{"name": "a", "type": "int"}, {"name": "b", "type": "string"}])),
    )
    .await;
    let message = r.json["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "Schema being registered is incompatible with an earlier schema for subject \"s\""
        ),
        "{message}"
    );
    assert!(
        message.contains("READER_FIELD_MISSING_DEFAULT_VALUE"),
        "{message}"
    );
    // None of the refused requests added a version or a subject.
    assert_eq!(c.get("/subjects/s/versions").await.json, json!([1]));
    assert_eq!(c.get("/subjects").await.json, json!(["s"]));

    put_json(c, "/mode/s", &json!({"mode": "READONLY"})).await;
    let r = register(c, "s", &record(json!([{"name": "a", "type": "long"}]))).await;
    assert_eq!(
        (r.status, r.json["error_code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!(42205))
    );
    // Python's client sends booleans capitalised.
    assert_eq!(
        c.delete("/subjects/s?permanent=False").await.json["error_code"],
        42205
    );
    gw.stop().await;
}

#[tokio::test]
async fn deletes_references_config_and_mode_survive_a_restart() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    let address = json!({"type": "record", "name": "Address", "namespace": "acme", "fields": [{"name": "city", "type": "string"}]}).to_string();
    let person = json!({"type": "record", "name": "Person", "namespace": "acme", "fields": [{"name": "home", "type": "acme.Address"}]}).to_string();
    assert_eq!(register(c, "address", &address).await.json["id"], 1);
    let r = c
        .post(
            "/subjects/person/versions",
            &json!({"schema": person, "references": [{"name": "acme.Address", "subject": "address", "version": 1}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    assert_eq!(
        c.get("/subjects/address/versions/1/referencedby")
            .await
            .json,
        json!([2])
    );
    let r = c.delete("/subjects/address").await;
    assert_eq!(r.json["error_code"], 42206, "{:?}", r.json);

    let v1 = record(json!([{"name": "a", "type": "int"}]));
    let v2 = record(
        json!([{"name": "a", "type": "int"}, {"name": "b", "type": "string", "default": ""}]),
    );
    register(c, "s", &v1).await;
    register(c, "s", &v2).await;
    assert_eq!(c.delete("/subjects/s/versions/1").await.json, json!(1));
    assert_eq!(c.get("/subjects/s/versions").await.json, json!([2]));
    assert_eq!(
        c.get("/subjects/s/versions?deleted=true").await.json,
        json!([1, 2])
    );
    assert_eq!(
        put_json(c, "/config/s", &json!({"compatibility": "FULL_TRANSITIVE"}))
            .await
            .json,
        json!({"compatibility": "FULL_TRANSITIVE"})
    );
    assert_eq!(
        put_json(
            c,
            "/config",
            &json!({"compatibility": "forward", "compatibilityPolicy": "LENIENT"})
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        put_json(c, "/mode/address", &json!({"mode": "READONLY"}))
            .await
            .json,
        json!({"mode": "READONLY"})
    );
    register(c, "gone", &v1).await;
    c.delete("/subjects/gone").await;
    assert_eq!(
        c.delete("/subjects/gone?permanent=true").await.json,
        json!([1])
    );

    let before: Vec<Value> = snapshot(c).await;
    let dir = gw.stop().await;
    let gw = TestGateway::start_in(dir, Default::default()).await;
    let c = &gw.client;
    assert_eq!(snapshot(c).await, before);
    assert_eq!(
        c.get("/config/s").await.json,
        json!({"compatibilityLevel": "FULL_TRANSITIVE"})
    );
    assert_eq!(
        c.get("/config").await.json,
        json!({"compatibilityLevel": "FORWARD", "compatibilityPolicy": "LENIENT"})
    );
    assert_eq!(
        c.get("/mode/address").await.json,
        json!({"mode": "READONLY"})
    );
    assert_eq!(register(c, "address", &v1).await.json["error_code"], 42205);
    // Ids continue after the highest ever handed out.
    let r = register(
        c,
        "fresh",
        &record(json!([{"name": "z", "type": "double"}])),
    )
    .await;
    assert_eq!(r.json["id"], 5, "{:?}", r.json);
    gw.stop().await;
}

/// Everything a client could read about subjects, versions and ids.
async fn snapshot(c: &Client) -> Vec<Value> {
    let mut out = vec![c.get("/subjects?deleted=true").await.json];
    for subject in ["address", "person", "s"] {
        out.push(
            c.get(&format!("/subjects/{subject}/versions?deleted=true"))
                .await
                .json,
        );
        out.push(
            c.get(&format!("/subjects/{subject}/versions/latest"))
                .await
                .json,
        );
    }
    for id in 1..=5 {
        out.push(c.get(&format!("/schemas/ids/{id}")).await.json);
    }
    out
}

/// One row of the compatibility table: old → new, and the verdict under each level.
struct Row {
    name: &'static str,
    kind: &'static str,
    old: Value,
    new: Value,
    backward: bool,
    forward: bool,
}

fn avro_rows() -> Vec<Row> {
    let r = |fields: Value| json!({"type": "record", "name": "R", "fields": fields});
    let a = json!({"name": "a", "type": "int"});
    let enum_of = |symbols: Value| json!({"type": "enum", "name": "E", "symbols": symbols});
    vec![
        Row {
            name: "field added with default",
            kind: "AVRO",
            old: r(json!([a])),
            new: r(json!([a, {"name": "b", "type": "string", "default": ""}])),
            backward: true,
            forward: true,
        },
        Row {
            name: "field added without default",
            kind: "AVRO",
            old: r(json!([a])),
            new: r(json!([a, {"name": "b", "type": "string"}])),
            backward: false,
            forward: true,
        },
        Row {
            name: "field removed (no default)",
            kind: "AVRO",
            old: r(json!([a, {"name": "b", "type": "string"}])),
            new: r(json!([a])),
            backward: true,
            forward: false,
        },
        Row {
            name: "defaulted field removed",
            kind: "AVRO",
            old: r(json!([a, {"name": "b", "type": "string", "default": "x"}])),
            new: r(json!([a])),
            backward: true,
            forward: true,
        },
        Row {
            name: "int promoted to long",
            kind: "AVRO",
            old: r(json!([{"name": "a", "type": "int"}])),
            new: r(json!([{"name": "a", "type": "long"}])),
            backward: true,
            forward: false,
        },
        Row {
            name: "long narrowed to int",
            kind: "AVRO",
            old: r(json!([{"name": "a", "type": "long"}])),
            new: r(json!([{"name": "a", "type": "int"}])),
            backward: false,
            forward: true,
        },
        Row {
            name: "string to bytes",
            kind: "AVRO",
            old: r(json!([{"name": "a", "type": "string"}])),
            new: r(json!([{"name": "a", "type": "bytes"}])),
            backward: true,
            forward: true,
        },
        Row {
            name: "enum symbol added",
            kind: "AVRO",
            old: enum_of(json!(["A", "B"])),
            new: enum_of(json!(["A", "B", "C"])),
            backward: true,
            forward: false,
        },
        Row {
            name: "enum symbol removed",
            kind: "AVRO",
            old: enum_of(json!(["A", "B", "C"])),
            new: enum_of(json!(["A", "B"])),
            backward: false,
            forward: true,
        },
        Row {
            name: "union widened",
            kind: "AVRO",
            old: json!(["null", "string"]),
            new: json!(["null", "string", "int"]),
            backward: true,
            forward: false,
        },
        Row {
            name: "type made nullable",
            kind: "AVRO",
            old: json!("string"),
            new: json!(["null", "string"]),
            backward: true,
            forward: false,
        },
    ]
}

fn json_rows() -> Vec<Row> {
    let obj = |props: Value, extra: Value| {
        let mut o = json!({"type": "object", "properties": props});
        if let (Value::Object(o), Value::Object(extra)) = (&mut o, extra) {
            o.extend(extra);
        }
        o
    };
    let closed = json!({"additionalProperties": false});
    vec![
        Row {
            name: "property added to an open model",
            kind: "JSON",
            old: obj(json!({"a": {"type": "string"}}), json!({})),
            new: obj(
                json!({"a": {"type": "string"}, "b": {"type": "string"}}),
                json!({}),
            ),
            backward: false,
            forward: true,
        },
        Row {
            name: "optional property added to a closed model",
            kind: "JSON",
            old: obj(json!({"a": {"type": "string"}}), closed.clone()),
            new: obj(
                json!({"a": {"type": "string"}, "b": {"type": "string"}}),
                closed.clone(),
            ),
            backward: true,
            forward: false,
        },
        Row {
            name: "property removed from an open model",
            kind: "JSON",
            old: obj(
                json!({"a": {"type": "string"}, "b": {"type": "string"}}),
                json!({}),
            ),
            new: obj(json!({"a": {"type": "string"}}), json!({})),
            backward: true,
            forward: false,
        },
        Row {
            name: "integer widened to number",
            kind: "JSON",
            old: json!({"type": "integer"}),
            new: json!({"type": "number"}),
            backward: true,
            forward: false,
        },
        Row {
            name: "enum value added",
            kind: "JSON",
            old: json!({"enum": ["r"]}),
            new: json!({"enum": ["r", "g"]}),
            backward: true,
            forward: false,
        },
        Row {
            name: "maxLength increased",
            kind: "JSON",
            old: json!({"type": "string", "maxLength": 10}),
            new: json!({"type": "string", "maxLength": 12}),
            backward: true,
            forward: false,
        },
        Row {
            name: "type changed",
            kind: "JSON",
            old: json!({"type": "string"}),
            new: json!({"type": "number"}),
            backward: false,
            forward: false,
        },
        Row {
            name: "description changed",
            kind: "JSON",
            old: json!({"type": "string", "description": "x"}),
            new: json!({"type": "string", "description": "y"}),
            backward: true,
            forward: true,
        },
    ]
}

#[tokio::test]
async fn the_compatibility_table_holds_for_every_level() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    let levels = [
        ("NONE", true, true),
        ("BACKWARD", true, false),
        ("BACKWARD_TRANSITIVE", true, false),
        ("FORWARD", false, true),
        ("FORWARD_TRANSITIVE", false, true),
        ("FULL", true, true),
        ("FULL_TRANSITIVE", true, true),
    ];
    let mut n = 0;
    for row in avro_rows().into_iter().chain(json_rows()) {
        for (level, needs_backward, needs_forward) in levels {
            let expected = level == "NONE"
                || ((!needs_backward || row.backward) && (!needs_forward || row.forward));
            n += 1;
            let subject = format!("table-{n}");
            put_json(
                c,
                &format!("/config/{subject}"),
                &json!({"compatibility": level}),
            )
            .await;
            let r = register_typed(c, &subject, row.kind, &row.old.to_string()).await;
            assert_eq!(r.status, StatusCode::OK, "{}: {:?}", row.name, r.json);
            let body = json!({"schema": row.new.to_string(), "schemaType": row.kind});
            let r = c
                .post(
                    &format!("/compatibility/subjects/{subject}/versions/latest?verbose=true"),
                    &body,
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}: {:?}", row.name, r.json);
            assert_eq!(
                r.json["is_compatible"], expected,
                "{} under {level}: {:?}",
                row.name, r.json["messages"]
            );
            let r = register_typed(c, &subject, row.kind, &row.new.to_string()).await;
            let status = if expected {
                StatusCode::OK
            } else {
                StatusCode::CONFLICT
            };
            assert_eq!(r.status, status, "{} under {level}: {:?}", row.name, r.json);
        }
    }
    // Avro and JSON never read each other (table-2 is under BACKWARD).
    let r = c
        .post(
            "/compatibility/subjects/table-2/versions/latest",
            &json!({"schema": "{\"type\":\"object\"}", "schemaType": "JSON"}),
        )
        .await;
    assert_eq!(r.json, json!({"is_compatible": false}));
    // An invalid schema is an error, or with verbose an incompatible answer with the reason.
    let r = c
        .post(
            "/compatibility/subjects/table-1/versions/latest",
            &json!({"schema": "{"}),
        )
        .await;
    assert_eq!(r.json["error_code"], 42201);
    let r = c
        .post(
            "/compatibility/subjects/table-1/versions/latest?verbose=true",
            &json!({"schema": "{"}),
        )
        .await;
    assert_eq!(r.json["is_compatible"], false);
    assert!(!r.json["messages"][0].as_str().unwrap().is_empty());
    gw.stop().await;
}

#[tokio::test]
async fn transitive_levels_check_every_live_version() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    let v1 = record(json!([{"name": "a", "type": "int"}]));
    let v2 = record(
        json!([{"name": "a", "type": "int"}, {"name": "b", "type": "string", "default": "x"}]),
    );
    let v3 = record(json!([{"name": "a", "type": "int"}, {"name": "b", "type": "string"}]));
    for level in ["BACKWARD", "BACKWARD_TRANSITIVE"] {
        let subject = format!("t-{level}");
        put_json(
            c,
            &format!("/config/{subject}"),
            &json!({"compatibility": level}),
        )
        .await;
        register(c, &subject, &v1).await;
        register(c, &subject, &v2).await;
        let r = register(c, &subject, &v3).await;
        let expected = if level == "BACKWARD" {
            StatusCode::OK
        } else {
            StatusCode::CONFLICT
        };
        assert_eq!(r.status, expected, "{level}: {:?}", r.json);
    }
    gw.stop().await;
}
