//! Consumer instances expire after their idle timeout (an auto-committing one commits what it
//! returned first), and the expiry is durable. (Surviving a restart: tests/all/rest_consumers.)

use std::time::Duration;

use super::{FileHarness, Harness, MemoryHarness, create, record};
use crate::broker::{BrokerConfig, Error, InstanceConfig, Interest, OffsetReset, now_ms};

fn config(auto_commit: bool) -> InstanceConfig {
    InstanceConfig {
        format: "json".into(),
        offset_reset: OffsetReset::Earliest,
        auto_commit,
        fetch_min_bytes: -1,
        request_wait_ms: Some(0),
    }
}

async fn expire_and_restart(mut h: impl Harness) {
    let broker = h.open(BrokerConfig::default()).await;
    create(&broker, "t", 1, &[]).await;
    broker
        .produce("t", vec![record(None, "1"), record(None, "2")], None)
        .await
        .unwrap();
    broker
        .create_instance("g", Some("keep"), config(false))
        .await
        .unwrap();
    broker
        .create_instance("g", Some("idle"), config(true))
        .await
        .unwrap();
    let topics = Interest::Topics {
        topics: vec!["t".into()],
    };
    broker
        .set_instance_interest("g", "idle", topics)
        .await
        .unwrap();
    let got = broker
        .instance_records("g", "idle", 1 << 20, Some(Duration::ZERO))
        .await
        .unwrap();
    assert_eq!(got.len(), 2);
    broker.expire_instances(now_ms()).await.unwrap();
    broker.instance("g", "keep").await.unwrap();
    let idle = broker.instance("g", "idle").await.unwrap();
    assert!(matches!(idle.interest, Interest::Topics { .. }), "{idle:?}");
    let later = idle.last_seen_ms + crate::broker::DEFAULT_INSTANCE_TIMEOUT_MS + 1;
    broker.expire_instances(later).await.unwrap();
    for name in ["keep", "idle"] {
        let gone = broker.instance("g", name).await;
        assert!(
            matches!(gone, Err(Error::UnknownInstance { .. })),
            "{gone:?}"
        );
    }
    // The auto-committing instance committed what it had returned before it went.
    let offsets = broker.group_offsets("g").unwrap();
    assert_eq!((offsets[0].topic.as_str(), offsets[0].offset), ("t", 2));
    broker.close().await.unwrap();

    let broker = h.open(BrokerConfig::default()).await;
    assert!(
        broker.instance("g", "idle").await.is_err(),
        "expiry is durable"
    );
    assert!(
        broker.instance("g", "keep").await.is_err(),
        "expiry is durable"
    );
    broker.close().await.unwrap();
}

#[tokio::test]
async fn instances_restart_and_expire_on_the_file_engine() {
    expire_and_restart(FileHarness::new()).await;
}

#[tokio::test]
async fn instances_restart_and_expire_on_the_memory_engine() {
    expire_and_restart(MemoryHarness::new()).await;
}
