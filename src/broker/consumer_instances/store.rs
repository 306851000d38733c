//! The durable table of consumer instances: one record per instance in the internal
//! compacted topic `__consumer_instances` (key `{group}\0{name}`, JSON value, tombstone on
//! delete or expiry), replayed at start, so an instance outlives the gateway that created it.
//!
//! Owns the table and its order of writes (one writer at a time, the topic first, then the
//! table). It keeps each instance's live cursor next to its definition but never reads
//! records; [`super::live`] does.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use super::live::Live;
use super::{Instance, InstanceKey};
use crate::broker::Result;
use crate::broker::internal::InternalTopic;
use crate::broker::storage::{CleanupPolicy, Engine};
use crate::event::Record;

/// The internal topic holding consumer instances.
pub const TOPIC: &str = "__consumer_instances";

/// One instance: its definition and its cursor in this process.
pub(super) struct Entry {
    pub(super) instance: Instance,
    /// `last_seen_ms` as last written to the topic (idle time is refreshed in memory, and
    /// written only when it drifted far enough to matter after a restart).
    pub(super) persisted_seen_ms: i64,
    pub(super) live: Arc<tokio::sync::Mutex<Live>>,
}

pub(in crate::broker) struct Store {
    topic: InternalTopic,
    pub(super) table: Mutex<BTreeMap<InstanceKey, Entry>>,
    /// Serializes writers, so the table and the topic change in the same order.
    write: tokio::sync::Mutex<()>,
}

fn key_bytes(key: &InstanceKey) -> Bytes {
    Bytes::from(format!("{}\0{}", key.0, key.1))
}

impl Store {
    pub(in crate::broker) async fn open(storage: &Arc<Engine>) -> Result<Self> {
        let topic = InternalTopic::open(storage, TOPIC, |c| {
            c.cleanup_policy = CleanupPolicy::Compact;
        })
        .await?;
        let mut table = BTreeMap::new();
        topic
            .replay(|key, value: Option<Instance>, _| {
                let text = String::from_utf8_lossy(&key);
                let Some((group, name)) = text.split_once('\0') else {
                    return;
                };
                let key = (group.to_owned(), name.to_owned());
                match value {
                    Some(instance) => {
                        let entry = Entry {
                            persisted_seen_ms: instance.last_seen_ms,
                            instance,
                            live: Arc::default(),
                        };
                        table.insert(key, entry);
                    }
                    None => {
                        table.remove(&key);
                    }
                }
            })
            .await?;
        Ok(Self {
            topic,
            table: Mutex::new(table),
            write: tokio::sync::Mutex::new(()),
        })
    }

    /// The cursor of an instance, if it exists.
    pub(super) fn live(&self, key: &InstanceKey) -> Option<Arc<tokio::sync::Mutex<Live>>> {
        self.table.lock().get(key).map(|e| Arc::clone(&e.live))
    }

    /// Takes the writer lock; hold it across check-then-write sequences.
    pub(super) async fn writer(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.write.lock().await
    }

    /// Writes `instance` (the caller holds the writer lock). A new instance gets a fresh
    /// cursor; an existing one keeps its cursor unless `reset_live`.
    pub(super) async fn put(&self, instance: Instance, reset_live: bool) -> Result<()> {
        let key = instance.key();
        let value = serde_json::to_vec(&instance).unwrap_or_default();
        self.append(&key, Some(Bytes::from(value))).await?;
        let mut table = self.table.lock();
        let live = match table.get(&key) {
            Some(e) if !reset_live => Arc::clone(&e.live),
            _ => Arc::default(),
        };
        let persisted_seen_ms = instance.last_seen_ms;
        table.insert(
            key,
            Entry {
                instance,
                persisted_seen_ms,
                live,
            },
        );
        Ok(())
    }

    /// Tombstones an instance (the caller holds the writer lock); returns its entry.
    pub(super) async fn remove(&self, key: &InstanceKey) -> Result<Option<Entry>> {
        self.append(key, None).await?;
        Ok(self.table.lock().remove(key))
    }

    /// Tombstones many instances as one batch (the caller holds the writer lock).
    pub(super) async fn remove_all(&self, keys: &[InstanceKey]) -> Result<Vec<Entry>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let now = crate::broker::now_ms();
        let records: Vec<Record> = keys
            .iter()
            .map(|k| Record {
                key: Some(key_bytes(k)),
                timestamp: now,
                ..Record::default()
            })
            .collect();
        self.topic.append(&records).await?;
        let mut table = self.table.lock();
        Ok(keys.iter().filter_map(|k| table.remove(k)).collect())
    }

    async fn append(&self, key: &InstanceKey, value: Option<Bytes>) -> Result<()> {
        let record = Record {
            key: Some(key_bytes(key)),
            value,
            timestamp: crate::broker::now_ms(),
            ..Record::default()
        };
        self.topic.append(std::slice::from_ref(&record)).await?;
        Ok(())
    }
}
