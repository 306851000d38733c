//! Transform state stores plugin values as raw bytes: the largest value the WIT allows
//! (1 MiB) commits and survives a restart, and records of the first (base64-in-JSON) format
//! still load and can be deleted.

use bytes::Bytes;

use super::{FileHarness, Harness};
use crate::broker::{BrokerConfig, CommittedState};
use crate::event::Record;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_mib_value_commits_raw_and_survives_a_restart() {
    let mut h = FileHarness::new();
    let broker = h.open(BrokerConfig::default()).await;
    let value: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
    let state = CommittedState {
        positions: [(0, 10)].into(),
        ..CommittedState::default()
    };
    let changes = vec![(b"big".to_vec(), Some(value.clone()))];
    broker.commit_transform("t", &state, changes).await.unwrap();
    broker.close().await.unwrap();
    drop(broker);
    let broker = h.open(BrokerConfig::default()).await;
    let loaded = broker.committed_state("t");
    assert_eq!(loaded.kv.get(&b"big"[..]), Some(&value));
    assert_eq!(loaded.positions, state.positions);
    let stored = broker.describe_topic("__transform_state").unwrap();
    let written: u64 = stored.partitions[0].end_offset;
    assert_eq!(written, 2, "one raw value record and one position record");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_format_records_still_load_and_delete() {
    let mut h = FileHarness::new();
    let broker = h.open(BrokerConfig::default()).await;
    let legacy = Record {
        key: Some(Bytes::from_static(b"t\0kv\0old")),
        value: Some(Bytes::from_static(br#"{"t":"kv","value":"aGk="}"#)),
        ..Record::default()
    };
    broker
        .append_to("__transform_state", 0, &[legacy])
        .await
        .unwrap();
    broker.close().await.unwrap();
    drop(broker);
    let broker = h.open(BrokerConfig::default()).await;
    assert_eq!(
        broker.committed_state("t").kv.get(&b"old"[..]),
        Some(&b"hi".to_vec())
    );
    let changes = vec![(b"old".to_vec(), None)];
    let state = broker.committed_state("t");
    broker.commit_transform("t", &state, changes).await.unwrap();
    broker.close().await.unwrap();
    drop(broker);
    let broker = h.open(BrokerConfig::default()).await;
    assert!(
        broker.committed_state("t").kv.is_empty(),
        "both forms tombstoned"
    );
}
