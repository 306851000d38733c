//! Internal topics (`__consumer_offsets`, `__idempotency`, `__tidegate_config`,
//! `__transform_state`): single-partition topics of the same storage that hold the broker's own
//! state as JSON values under byte keys, replayed at start.

use std::sync::Arc;

use bytes::Bytes;
use serde::de::DeserializeOwned;

use super::storage::{Engine, Storage, StorageError, TopicConfig};
use super::{Error, Result};
use crate::event::{Record, TopicName};

/// Largest read while replaying an internal topic.
const REPLAY_CHUNK_BYTES: usize = 8 << 20;

/// The single partition of one internal topic.
pub(super) struct InternalTopic {
    storage: Arc<Engine>,
    name: TopicName,
    label: &'static str,
}

impl InternalTopic {
    /// Opens (creating on first start) the internal topic `name`, its config tuned by `tune`.
    pub(super) async fn open(
        storage: &Arc<Engine>,
        name: &'static str,
        tune: impl Fn(&mut TopicConfig),
    ) -> Result<Self> {
        let topic = TopicName::new(name)?;
        match storage.topic(&topic) {
            // Settings tuned by a later version (e.g. a larger max.message.bytes) apply to
            // topics created by an earlier one.
            Ok(meta) => {
                let mut config = meta.config.clone();
                tune(&mut config);
                if config != meta.config {
                    storage.alter_topic_config(&topic, config).await?;
                }
            }
            Err(StorageError::UnknownTopic { .. }) => {
                let mut config = storage.default_topic_config();
                tune(&mut config);
                match storage.create_topic(&topic, 1, config).await {
                    Ok(()) | Err(StorageError::TopicExists { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Err(e) => return Err(e.into()),
        }
        Ok(Self {
            storage: Arc::clone(storage),
            name: topic,
            label: name,
        })
    }

    /// Appends `records` as one batch (all or nothing); returns the base offset.
    pub(super) async fn append(&self, records: &[Record]) -> Result<u64> {
        Ok(self.storage.append(&self.name, 0, records).await?)
    }

    /// Feeds every keyed record to `apply` in offset order: `Some(value)` decoded from JSON,
    /// `None` for a tombstone.
    pub(super) async fn replay<T: DeserializeOwned>(
        &self,
        mut apply: impl FnMut(Bytes, Option<T>, i64),
    ) -> Result<()> {
        self.replay_raw(|key, value, ts, offset| {
            let value = match value {
                None => None,
                Some(v) => Some(
                    serde_json::from_slice(&v).map_err(|e| Error::InternalState {
                        topic: self.label,
                        offset,
                        problem: e.to_string(),
                    })?,
                ),
            };
            apply(key, value, ts);
            Ok(())
        })
        .await
    }

    /// Feeds every keyed record's raw value (`None` for a tombstone) to `apply`.
    pub(super) async fn replay_raw(
        &self,
        mut apply: impl FnMut(Bytes, Option<Bytes>, i64, u64) -> Result<()>,
    ) -> Result<()> {
        let storage = &self.storage;
        let mut offset = storage.offsets(&self.name, 0)?.start;
        while offset < storage.offsets(&self.name, 0)?.end {
            let read = storage
                .read(&self.name, 0, offset, usize::MAX, REPLAY_CHUNK_BYTES)
                .await?;
            for stored in read.records {
                let Some(key) = stored.record.key else {
                    continue;
                };
                apply(
                    key,
                    stored.record.value,
                    stored.record.timestamp,
                    stored.offset,
                )?;
            }
            if read.next_offset <= offset {
                break;
            }
            offset = read.next_offset;
        }
        Ok(())
    }
}
