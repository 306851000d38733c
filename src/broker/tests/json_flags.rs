//! A trusted writer (a plugin's output through the pipeline) that marks non-JSON bytes as JSON
//! gets the flag cleared, so fetch answers, which embed JSON payloads verbatim, stay valid.

use bytes::Bytes;

use super::{FileHarness, Harness, create};
use crate::broker::{BrokerConfig, OffsetSpec};
use crate::event::{ATTR_KEY_JSON, ATTR_VALUE_JSON, Record};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_flags_on_non_json_bytes_are_cleared() {
    let mut h = FileHarness::new();
    let broker = h.open(BrokerConfig::default()).await;
    create(&broker, "out", 1, &[]).await;
    let lying = Record {
        key: Some(Bytes::from_static(b"{\"ok\":1}")),
        value: Some(Bytes::from_static(b"not json\",\"x")),
        attributes: ATTR_KEY_JSON | ATTR_VALUE_JSON,
        ..Record::default()
    };
    broker.append_to("out", 0, &[lying]).await.unwrap();
    let read = broker
        .fetch(
            "out",
            0,
            OffsetSpec::At(0),
            1,
            1 << 20,
            std::time::Duration::ZERO,
        )
        .await
        .unwrap();
    let stored = &read.records[0].record;
    assert_eq!(
        stored.attributes, ATTR_KEY_JSON,
        "the honest key flag stays"
    );
    assert_eq!(
        stored.value.as_deref(),
        Some(&b"not json\",\"x"[..]),
        "bytes kept as they are"
    );
}
