//! Generic scenarios every storage engine must pass, run through the broker (tansu's
//! engine × scenario matrix): produce/fetch order, offsets by time, groups, idempotency,
//! long-poll wake-up, retention, topic admin and restart.

use std::time::Duration;

use super::{FileHarness, Harness, MemoryHarness, create, record, values};
use crate::broker::{
    BrokerConfig, Error, GroupOffsetCommit, OffsetSpec, ProduceRecord, StorageError,
};
use crate::event::{Record, partition_for_key};

pub(super) async fn produce_fetch_order(mut h: impl Harness) {
    let broker = h.open(BrokerConfig::default()).await;
    create(&broker, "orders", 3, &[]).await;
    let records: Vec<ProduceRecord> = (0..30)
        .map(|i| record(Some(&format!("k{}", i % 5)), &format!("v{i}")))
        .collect();
    let offsets = broker.produce("orders", records, None).await.unwrap();
    for (i, o) in offsets.iter().enumerate() {
        let key = format!("k{}", i % 5);
        assert_eq!(
            o.partition,
            partition_for_key(key.as_bytes(), 3),
            "murmur2 placement"
        );
    }
    let mut seen = 0;
    for p in 0..3 {
        let got = values(&broker, "orders", p).await;
        let offsets: Vec<u64> = got.iter().map(|(o, _)| *o).collect();
        assert_eq!(
            offsets,
            (0..got.len() as u64).collect::<Vec<_>>(),
            "dense offsets"
        );
        let order: Vec<usize> = got.iter().map(|(_, v)| v[1..].parse().unwrap()).collect();
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "request order kept per partition"
        );
        seen += got.len();
    }
    assert_eq!(seen, 30);
    let err = broker
        .fetch(
            "orders",
            0,
            OffsetSpec::At(1_000),
            10,
            1 << 20,
            Duration::ZERO,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Storage(StorageError::OffsetOutOfRange { .. })),
        "{err}"
    );
    let err = broker
        .produce("missing", vec![record(None, "x")], None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Storage(StorageError::UnknownTopic { .. })),
        "{err}"
    );
}

pub(super) async fn offsets_by_time(mut h: impl Harness) {
    let broker = h.open(BrokerConfig::default()).await;
    create(&broker, "t", 1, &[]).await;
    let records = [1_000, 2_000, 3_000]
        .into_iter()
        .map(|timestamp| ProduceRecord {
            record: Record {
                timestamp,
                ..record(None, "x").record
            },
            partition: Some(0),
        })
        .collect();
    broker.produce("t", records, None).await.unwrap();
    assert_eq!(broker.offset_for_timestamp("t", 0, 0).await.unwrap(), 0);
    assert_eq!(broker.offset_for_timestamp("t", 0, 1_500).await.unwrap(), 1);
    assert_eq!(broker.offset_for_timestamp("t", 0, 3_000).await.unwrap(), 2);
    assert_eq!(
        broker.offset_for_timestamp("t", 0, 9_000).await.unwrap(),
        3,
        "end when all older"
    );
}

pub(super) async fn groups_commit_lag_and_forget(mut h: impl Harness) {
    let broker = h.open(BrokerConfig::default()).await;
    create(&broker, "g", 2, &[]).await;
    let records = (0..4).map(|i| ProduceRecord {
        partition: Some(0),
        ..record(None, &i.to_string())
    });
    broker.produce("g", records.collect(), None).await.unwrap();
    let commit = |offset| GroupOffsetCommit {
        topic: "g".into(),
        partition: 0,
        offset,
    };
    broker.commit_offsets("app", &[commit(1)]).await.unwrap();
    let offsets = broker.group_offsets("app").unwrap();
    assert_eq!((offsets[0].offset, offsets[0].lag), (1, 3));
    let err = broker
        .commit_offsets("app", &[commit(99)])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidCommit { .. }), "{err}");
    // Deleting the topic forgets its offsets, also for a re-created topic of the same name.
    broker.delete_topic("g").await.unwrap();
    create(&broker, "g", 2, &[]).await;
    assert!(matches!(
        broker.group_offsets("app"),
        Err(Error::UnknownGroup(_))
    ));
    drop(broker);
    let broker = h.open(BrokerConfig::default()).await;
    assert!(
        matches!(broker.group_offsets("app"), Err(Error::UnknownGroup(_))),
        "after restart"
    );
}

pub(super) async fn idle_groups_expire(mut h: impl Harness) {
    let config = BrokerConfig {
        offsets_retention_ms: 60_000,
        ..BrokerConfig::default()
    };
    let broker = h.open(config.clone()).await;
    create(&broker, "e", 1, &[]).await;
    broker
        .produce("e", vec![record(None, "x")], None)
        .await
        .unwrap();
    let commit = GroupOffsetCommit {
        topic: "e".into(),
        partition: 0,
        offset: 1,
    };
    broker
        .commit_offsets("idle", std::slice::from_ref(&commit))
        .await
        .unwrap();
    let now = crate::broker::now_ms();
    broker.maintain(now).await.unwrap();
    assert_eq!(
        broker.list_groups(),
        ["idle"],
        "within offsets.retention.ms"
    );
    broker.maintain(now + 61_000).await.unwrap();
    assert!(
        broker.list_groups().is_empty(),
        "expired after offsets.retention.ms"
    );
    broker.close().await.unwrap();
    drop(broker);
    let broker = h.open(config).await;
    assert!(broker.list_groups().is_empty(), "the expiry is durable");
}

pub(super) async fn idempotent_produce(mut h: impl Harness) {
    let broker = h.open(BrokerConfig::default()).await;
    create(&broker, "i", 4, &[]).await;
    let request: Vec<ProduceRecord> = (0..200)
        .map(|i| {
            if i % 3 == 0 {
                record(None, &format!("u{i}"))
            } else {
                record(Some(&format!("k{i}")), "v")
            }
        })
        .collect();
    let first = broker
        .produce("i", request.clone(), Some("req-1"))
        .await
        .unwrap();
    let ends = |b: &crate::broker::Broker| {
        let d = b.describe_topic("i").unwrap();
        d.partitions
            .iter()
            .map(|p| p.end_offset)
            .collect::<Vec<_>>()
    };
    let before = ends(&broker);
    assert_eq!(before.iter().sum::<u64>(), 200);
    let retry = broker
        .produce("i", request.clone(), Some("req-1"))
        .await
        .unwrap();
    assert_eq!(retry, first, "a retry replays the answer");
    assert_eq!(ends(&broker), before, "and appends nothing");
    let err = broker
        .produce("i", vec![record(None, "other")], Some("req-1"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::IdempotencyKeyReused(_)), "{err}");
    broker.close().await.unwrap();
    drop(broker);
    let broker = h.open(BrokerConfig::default()).await;
    let retry = broker.produce("i", request, Some("req-1")).await.unwrap();
    assert_eq!(retry, first, "after a restart too");
    assert_eq!(ends(&broker), before);
}

pub(super) async fn long_poll_wakes_on_append(mut h: impl Harness) {
    let broker = h.open(BrokerConfig::default()).await;
    create(&broker, "w", 1, &[]).await;
    let waiter = {
        let broker = broker.clone();
        tokio::spawn(async move {
            broker
                .fetch(
                    "w",
                    0,
                    OffsetSpec::At(0),
                    10,
                    1 << 20,
                    Duration::from_secs(60),
                )
                .await
        })
    };
    broker
        .produce("w", vec![record(None, "hello")], None)
        .await
        .unwrap();
    let read = tokio::time::timeout(Duration::from_secs(30), waiter)
        .await
        .expect("the append wakes the long poll")
        .unwrap()
        .unwrap();
    assert_eq!(read.records.len(), 1);
    assert_eq!(read.next_offset, 1);
}

pub(super) async fn retention_drops_old_data(mut h: impl Harness) {
    let broker = h.open(BrokerConfig::default()).await;
    create(
        &broker,
        "r",
        1,
        &[("retention.ms", "1000"), ("segment.bytes", "1024")],
    )
    .await;
    let old = crate::broker::now_ms() - 3_600_000;
    for i in 0..20 {
        let r = ProduceRecord {
            record: Record {
                timestamp: old,
                ..record(None, &format!("{i:0>200}")).record
            },
            partition: Some(0),
        };
        broker.produce("r", vec![r], None).await.unwrap();
    }
    broker.maintain(crate::broker::now_ms()).await.unwrap();
    let info = &broker.describe_topic("r").unwrap().partitions[0];
    assert!(info.start_offset > 0, "old data deleted: {info:?}");
    assert_eq!(info.end_offset, 20, "the end offset never moves back");
    let err = broker
        .fetch("r", 0, OffsetSpec::At(0), 10, 1 << 20, Duration::ZERO)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Storage(StorageError::OffsetOutOfRange { .. })),
        "{err}"
    );
    let rest = values(&broker, "r", 0).await;
    let expected = (info.start_offset < 20).then_some(info.start_offset);
    assert_eq!(
        rest.first().map(|r| r.0),
        expected,
        "reads start at the start offset"
    );
}

pub(super) async fn topic_admin(mut h: impl Harness) {
    let broker = h.open(BrokerConfig::default()).await;
    create(&broker, "a", 2, &[("cleanup.policy", "compact")]).await;
    let err = broker
        .create_topic("a", 1, &Default::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Storage(StorageError::TopicExists { .. })),
        "{err}"
    );
    let changes = [("retention.ms".to_owned(), "5000".to_owned())].into();
    let d = broker.alter_topic_config("a", &changes).await.unwrap();
    assert_eq!(d.config.retention_ms, 5000);
    assert_eq!(d.partitions.len(), 2);
    assert!(broker.list_topics().iter().any(|t| t.name == "a"));
    broker.delete_topic("a").await.unwrap();
    assert!(broker.describe_topic("a").is_err());
    assert!(matches!(
        broker.delete_topic("__consumer_offsets").await,
        Err(Error::InternalTopic(_))
    ));
}

pub(super) async fn restart_keeps_everything(mut h: impl Harness) {
    let broker = h.open(BrokerConfig::default()).await;
    create(&broker, "s", 2, &[("retention.ms", "86400000")]).await;
    let records = (0..50)
        .map(|i| record(Some(&format!("k{i}")), &format!("v{i}")))
        .collect();
    broker.produce("s", records, None).await.unwrap();
    let commit = GroupOffsetCommit {
        topic: "s".into(),
        partition: 1,
        offset: 3,
    };
    broker.commit_offsets("c", &[commit]).await.unwrap();
    let before = (values(&broker, "s", 0).await, values(&broker, "s", 1).await);
    broker.close().await.unwrap();
    let err = broker
        .produce("s", vec![record(None, "late")], None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Storage(StorageError::Closed { .. })),
        "closed refuses: {err}"
    );
    drop(broker);
    let broker = h.open(BrokerConfig::default()).await;
    assert_eq!(
        (values(&broker, "s", 0).await, values(&broker, "s", 1).await),
        before
    );
    assert_eq!(broker.group_offsets("c").unwrap()[0].offset, 3);
    assert_eq!(
        broker.describe_topic("s").unwrap().config.retention_ms,
        86_400_000
    );
}

/// Instantiates every scenario for one engine.
macro_rules! engine {
    ($engine:ident, $harness:expr) => {
        mod $engine {
            #[allow(unused_imports, reason = "each scenario names the harness type")]
            use super::*;
            engine!(@tests $harness; produce_fetch_order, offsets_by_time,
                groups_commit_lag_and_forget, idle_groups_expire, idempotent_produce,
                long_poll_wakes_on_append, retention_drops_old_data, topic_admin,
                restart_keeps_everything);
        }
    };
    (@tests $harness:expr; $($scenario:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() {
                super::$scenario($harness).await;
            }
        )*
    };
}

engine!(file, FileHarness::new());
engine!(memory, MemoryHarness::new());
