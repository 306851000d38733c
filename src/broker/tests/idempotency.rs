//! Idempotency that cannot lie: a request interrupted anywhere between its `pending` entry and
//! its `done` entry is completed exactly once by a retry, even across a restart; large requests
//! keep a compact entry.

use bytes::Bytes;

use super::{FileHarness, Harness, MemoryHarness, create, record, values};
use crate::broker::idempotency::{BATCH_HEADER, Entry, Progress, fingerprint};
use crate::broker::{BrokerConfig, ProduceRecord};
use crate::event::{Header, TopicName};

fn to(partition: u32, value: &str) -> ProduceRecord {
    ProduceRecord {
        partition: Some(partition),
        ..record(None, value)
    }
}

/// Leaves the state a crash after the `pending` entry and the first partition's batch leaves.
async fn interrupt_after_first_batch(h: &mut impl Harness, request: &[ProduceRecord]) {
    let broker = h.open(BrokerConfig::default()).await;
    create(&broker, "x", 2, &[]).await;
    broker
        .produce("x", vec![to(0, "someone else")], None)
        .await
        .unwrap();
    let topic = TopicName::new("x").unwrap();
    let slot = broker.inner.idempotency.lock(&topic, "k1").await;
    slot.write(Entry {
        fingerprint: fingerprint(request),
        cursor: 7,
        progress: Progress::Pending {
            ends: vec![(0, 1), (1, 0)],
        },
    })
    .await
    .unwrap();
    let mut batch: Vec<_> = request
        .iter()
        .filter(|r| r.partition == Some(0))
        .map(|r| r.record.clone())
        .collect();
    batch[0].headers.push(Header {
        name: BATCH_HEADER.into(),
        value: Bytes::from_static(b"k1"),
    });
    broker.append_to("x", 0, &batch).await.unwrap();
    // Another producer appends after the interrupted batch: the scan must not be fooled.
    broker
        .produce("x", vec![to(0, "later")], None)
        .await
        .unwrap();
    drop(slot);
    broker.close().await.unwrap();
}

async fn retry_completes_exactly_once(mut h: impl Harness) {
    let request = vec![to(0, "a"), to(1, "b"), to(0, "c"), to(1, "d")];
    interrupt_after_first_batch(&mut h, &request).await;
    let broker = h.open(BrokerConfig::default()).await;
    let offsets = broker
        .produce("x", request.clone(), Some("k1"))
        .await
        .unwrap();
    let got: Vec<(u32, u64)> = offsets.iter().map(|o| (o.partition, o.offset)).collect();
    assert_eq!(
        got,
        [(0, 1), (1, 0), (0, 2), (1, 1)],
        "the landed batch is reused"
    );
    let p0: Vec<String> = values(&broker, "x", 0)
        .await
        .into_iter()
        .map(|v| v.1)
        .collect();
    let p1: Vec<String> = values(&broker, "x", 1)
        .await
        .into_iter()
        .map(|v| v.1)
        .collect();
    assert_eq!(
        p0,
        ["someone else", "a", "c", "later"],
        "partition 0 not appended twice"
    );
    assert_eq!(p1, ["b", "d"], "the missing batch appended once");
    let again = broker.produce("x", request, Some("k1")).await.unwrap();
    assert_eq!(again, offsets);
    assert_eq!(values(&broker, "x", 1).await.len(), 2);
}

async fn large_request_keeps_a_compact_entry(mut h: impl Harness) {
    // The reproduction: 40,000 keyed records (over the default request limit).
    let config = BrokerConfig {
        max_records_per_request: 40_000,
        ..BrokerConfig::default()
    };
    let broker = h.open(config).await;
    create(&broker, "big", 8, &[]).await;
    let request: Vec<ProduceRecord> = (0..40_000)
        .map(|i| record(Some(&format!("key-{i}")), "v"))
        .collect();
    let first = broker
        .produce("big", request.clone(), Some("bulk"))
        .await
        .unwrap();
    let total = |b: &crate::broker::Broker| -> u64 {
        let d = b.describe_topic("big").unwrap();
        d.partitions.iter().map(|p| p.end_offset).sum()
    };
    assert_eq!(total(&broker), 40_000);
    let stored = broker.describe_topic("__idempotency").unwrap();
    assert!(
        stored.partitions[0].end_offset <= 2,
        "two small entries, not one per record"
    );
    assert_eq!(
        broker.produce("big", request, Some("bulk")).await.unwrap(),
        first
    );
    assert_eq!(total(&broker), 40_000, "the retry appended nothing");
}

macro_rules! engines {
    ($($scenario:ident),*) => {
        mod file {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() { super::$scenario(super::FileHarness::new()).await; })*
        }
        mod memory {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() { super::$scenario(super::MemoryHarness::new()).await; })*
        }
    };
}

engines!(
    retry_completes_exactly_once,
    large_request_keeps_a_compact_entry
);
