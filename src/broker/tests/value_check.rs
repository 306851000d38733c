//! Values a front end checked while decoding ([`crate::broker::ValueCheck`]) are trusted by
//! produce only for the topic and the schema they were checked against: once a newer schema
//! is the subject's latest, produce checks them again.

use bytes::Bytes;

use super::{FileHarness, Harness, create, values};
use crate::broker::{BrokerConfig, Error, Prechecked, ProduceRecord};
use crate::event::{ATTR_VALUE_JSON, Record};
use crate::json_text::Reader;
use crate::schema::{Config, Level, SchemaKind, SchemaRequest};

fn json_value(text: &str) -> ProduceRecord {
    ProduceRecord {
        record: Record {
            value: Some(Bytes::from(text.to_owned())),
            attributes: ATTR_VALUE_JSON,
            ..Record::default()
        },
        partition: None,
    }
}

fn json_schema(text: &str) -> SchemaRequest {
    SchemaRequest {
        schema: text.to_owned(),
        kind: SchemaKind::Json,
        ..SchemaRequest::default()
    }
}

/// Runs `topic`'s value check on `text` as record 0.
fn precheck(broker: &crate::broker::Broker, topic: &str, text: &str) -> Option<Prechecked> {
    let mut check = broker.value_check(topic)?;
    check.read(0, &mut Reader::new(text))?;
    Some(check.finish())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prechecked_values_are_trusted_only_for_their_topic_and_schema() {
    let mut h = FileHarness::new();
    let broker = h.open(BrokerConfig::default()).await;
    let validated = [("value.schema.validation", "true")];
    create(&broker, "orders", 1, &validated).await;
    create(&broker, "other", 1, &validated).await;
    assert!(broker.value_check("orders").is_none(), "no schema yet");
    let registry = broker.schemas();
    let none = Config {
        compatibility: Some(Level::None),
        policy: None,
    };
    registry.set_config(None, none).await.unwrap();
    for subject in ["orders-value", "other-value"] {
        registry
            .register(subject, json_schema(r#"{"type":"object"}"#))
            .await
            .unwrap();
    }

    // Checked against the latest schema: produce does not read the value again, so a
    // record swapped in after the check is not caught — the front end owns that hand-over.
    let passed = precheck(&broker, "orders", r#"{"a":"x"}"#).unwrap();
    broker
        .produce_checked("orders", vec![json_value("[]")], None, &passed)
        .await
        .unwrap();
    assert_eq!(values(&broker, "orders", 0).await.len(), 1);

    // The same outcome is not trusted on another topic.
    let refused = broker
        .produce_checked("other", vec![json_value("[]")], None, &passed)
        .await;
    assert!(
        matches!(refused, Err(Error::InvalidRecord { index: 0, .. })),
        "{refused:?}"
    );

    // A newer schema that refuses the value: the earlier check no longer counts.
    let passed = precheck(&broker, "orders", r#"{"a":"x"}"#).unwrap();
    registry
        .register(
            "orders-value",
            json_schema(r#"{"type":"object","properties":{"a":{"type":"integer"}}}"#),
        )
        .await
        .unwrap();
    let refused = broker
        .produce_checked("orders", vec![json_value(r#"{"a":"x"}"#)], None, &passed)
        .await;
    assert!(
        matches!(refused, Err(Error::InvalidRecord { index: 0, .. })),
        "{refused:?}"
    );
    assert!(
        precheck(&broker, "orders", r#"{"a":"x"}"#).is_none(),
        "the new latest refuses it"
    );
    assert_eq!(
        values(&broker, "orders", 0).await.len(),
        1,
        "nothing more appended"
    );
}
