//! Broker tests over real storage engines: the conformance suite runs every scenario on the
//! file engine (a real log in a temp dir) and on the memory engine.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod conformance;
mod consumer_instances;
mod idempotency;
mod json_flags;
mod transform_state;
mod value_check;

use std::collections::BTreeMap;

use bytes::Bytes;

use super::storage::{Engine, FileStorage, MemoryStorage};
use super::{Broker, BrokerConfig, ProduceRecord};
use crate::event::Record;
use crate::log::{FsyncPolicy, Log, LogConfig};
use crate::plugin::{Host, PluginConfig};

/// Opens brokers over one engine's data, again and again (a restart keeps the data).
pub(super) trait Harness: Send {
    /// A broker over this harness's data, as after a (clean) restart.
    fn open(&mut self, config: BrokerConfig) -> impl Future<Output = Broker> + Send;
}

/// The file engine over a temp dir; each open is a fresh `Log::open` of the same directory.
pub(super) struct FileHarness {
    dir: tempfile::TempDir,
}

impl FileHarness {
    pub(super) fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }
}

impl Harness for FileHarness {
    async fn open(&mut self, config: BrokerConfig) -> Broker {
        let mut log_config = LogConfig::new(self.dir.path().join("data"));
        log_config.fsync = FsyncPolicy::Always;
        log_config.segment_bytes = 64 << 10;
        let log = Log::open(log_config).await.unwrap();
        let engine = Engine::File(FileStorage::new(log));
        open_broker(engine, self.dir.path(), config).await
    }
}

/// The memory engine; a restart reopens the broker over the same in-process storage.
pub(super) struct MemoryHarness {
    storage: MemoryStorage,
    dir: tempfile::TempDir,
}

impl MemoryHarness {
    pub(super) fn new() -> Self {
        Self {
            storage: MemoryStorage::new(),
            dir: tempfile::tempdir().unwrap(),
        }
    }
}

impl Harness for MemoryHarness {
    async fn open(&mut self, config: BrokerConfig) -> Broker {
        let engine = Engine::Memory(self.storage.reopened());
        open_broker(engine, self.dir.path(), config).await
    }
}

async fn open_broker(engine: Engine, dir: &std::path::Path, config: BrokerConfig) -> Broker {
    let plugins = Host::new(PluginConfig::new(dir.join("plugins"))).unwrap();
    Broker::open(engine, plugins, config, super::now_ms())
        .await
        .unwrap()
}

/// A record with this key and value.
pub(super) fn record(key: Option<&str>, value: &str) -> ProduceRecord {
    ProduceRecord {
        record: Record {
            key: key.map(|k| Bytes::from(k.to_owned())),
            value: Some(Bytes::from(value.to_owned())),
            ..Record::default()
        },
        partition: None,
    }
}

/// Every value of a partition, in offset order, with its offset.
pub(super) async fn values(broker: &Broker, topic: &str, partition: u32) -> Vec<(u64, String)> {
    let read = broker
        .fetch(
            topic,
            partition,
            super::OffsetSpec::Earliest,
            usize::MAX,
            64 << 20,
            std::time::Duration::ZERO,
        )
        .await
        .unwrap();
    read.records
        .into_iter()
        .map(|s| {
            let value = s.record.value.unwrap_or_default();
            (s.offset, String::from_utf8_lossy(&value).into_owned())
        })
        .collect()
}

/// Creates `topic` with `partitions` and config keys.
pub(super) async fn create(broker: &Broker, topic: &str, partitions: i64, config: &[(&str, &str)]) {
    let config: BTreeMap<String, String> = config
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    broker
        .create_topic(topic, partitions, &config)
        .await
        .unwrap();
}
