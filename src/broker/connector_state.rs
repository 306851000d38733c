//! Durable connector state in the internal compacted topic `__connect_offsets`: for each
//! connector one offsets record (`{name}\0off`, JSON: a sink's next offset per input partition;
//! a source's offset per source partition, its batch sequence and the end offsets of its
//! target partitions at that commit) and one record per plugin key (`{name}\0kvb\0{key}`, raw
//! bytes). A commit is ONE append of the key-value changes and the offsets record, so a
//! connector's state and its position land together or not at all.
//!
//! Offsets live here, not in `__consumer_offsets`: a connector's position must not expire with
//! idle consumer groups, and it commits together with the plugin's state.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::internal::InternalTopic;
use super::storage::{CleanupPolicy, Engine};
use super::transform_state::{kv_key, record};
use super::{Error, Result};

/// The internal topic holding connector offsets and plugin state.
pub const OFFSETS_TOPIC: &str = "__connect_offsets";
/// Room for the largest plugin value (1 MiB) plus its key and the connector's name.
const MAX_MESSAGE_BYTES: u32 = 2 << 20;

/// A connector's position as of its last commit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectorOffsets {
    /// Sink: the next offset to deliver per (topic, partition).
    pub sink: BTreeMap<(String, u32), u64>,
    /// Source: the committed offset (JSON text) per source partition (JSON text).
    pub source: BTreeMap<String, String>,
    /// Source: sequence number of the last committed poll batch.
    pub seq: u64,
    /// Source: end offset of every target partition (`topic/partition`) right after the last
    /// commit; recovery scans only past these.
    pub ends: BTreeMap<String, u64>,
}

/// Offsets plus the plugin's key-value state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectorCommitted {
    /// Where the connector is.
    pub offsets: ConnectorOffsets,
    /// The plugin's `kv` state.
    pub kv: HashMap<Vec<u8>, Vec<u8>>,
}

#[derive(Serialize, Deserialize, Default)]
struct StoredOffsets {
    #[serde(default)]
    sink: Vec<(String, u32, u64)>,
    #[serde(default)]
    source: Vec<(String, String)>,
    #[serde(default)]
    seq: u64,
    #[serde(default)]
    ends: BTreeMap<String, u64>,
}

impl From<&ConnectorOffsets> for StoredOffsets {
    fn from(o: &ConnectorOffsets) -> Self {
        Self {
            sink: o
                .sink
                .iter()
                .map(|((t, p), off)| (t.clone(), *p, *off))
                .collect(),
            source: o
                .source
                .iter()
                .map(|(p, off)| (p.clone(), off.clone()))
                .collect(),
            seq: o.seq,
            ends: o.ends.clone(),
        }
    }
}

impl From<StoredOffsets> for ConnectorOffsets {
    fn from(s: StoredOffsets) -> Self {
        Self {
            sink: s.sink.into_iter().map(|(t, p, o)| ((t, p), o)).collect(),
            source: s.source.into_iter().collect(),
            seq: s.seq,
            ends: s.ends,
        }
    }
}

pub(super) struct ConnectorState {
    topic: InternalTopic,
    pub(super) table: Mutex<HashMap<String, ConnectorCommitted>>,
}

impl ConnectorState {
    pub(super) async fn open(storage: &Arc<Engine>) -> Result<Self> {
        let topic = InternalTopic::open(storage, OFFSETS_TOPIC, |c| {
            c.cleanup_policy = CleanupPolicy::Compact;
            c.max_message_bytes = MAX_MESSAGE_BYTES;
        })
        .await?;
        let mut table: HashMap<String, ConnectorCommitted> = HashMap::new();
        topic
            .replay_raw(|key, value, _, offset| {
                let mut parts = key.splitn(3, |b| *b == 0);
                let (Some(name), Some(kind)) = (parts.next(), parts.next()) else {
                    return Ok(());
                };
                let name = String::from_utf8_lossy(name).into_owned();
                match (kind, parts.next(), value) {
                    (b"off", _, Some(v)) => {
                        let stored: StoredOffsets =
                            serde_json::from_slice(&v).map_err(|e| Error::InternalState {
                                topic: OFFSETS_TOPIC,
                                offset,
                                problem: e.to_string(),
                            })?;
                        table.entry(name).or_default().offsets = stored.into();
                    }
                    (b"off", _, None) => {
                        table.remove(&name);
                    }
                    (b"kvb", Some(k), Some(v)) => {
                        table
                            .entry(name)
                            .or_default()
                            .kv
                            .insert(k.to_vec(), v.to_vec());
                    }
                    (b"kvb", Some(k), None) => {
                        if let Some(state) = table.get_mut(&name) {
                            state.kv.remove(k);
                        }
                    }
                    _ => {}
                }
                Ok(())
            })
            .await?;
        Ok(Self {
            topic,
            table: Mutex::new(table),
        })
    }

    /// The committed state of `name` (empty for a new connector).
    pub(super) fn get(&self, name: &str) -> ConnectorCommitted {
        self.table.lock().get(name).cloned().unwrap_or_default()
    }

    /// Commits new offsets with the plugin's key-value changes, in one append.
    pub(super) async fn commit(
        &self,
        name: &str,
        offsets: &ConnectorOffsets,
        kv_changes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    ) -> Result<()> {
        let now = super::now_ms();
        let mut records = Vec::with_capacity(kv_changes.len() + 1);
        for (k, v) in &kv_changes {
            records.push(record(
                kv_key(name, "kvb", k),
                v.clone().map(Bytes::from),
                now,
            ));
        }
        let value = serde_json::to_vec(&StoredOffsets::from(offsets)).unwrap_or_default();
        records.push(record(off_key(name), Some(Bytes::from(value)), now));
        self.topic.append(&records).await?;
        let mut table = self.table.lock();
        let state = table.entry(name.to_owned()).or_default();
        state.offsets.clone_from(offsets);
        for (k, v) in kv_changes {
            match v {
                Some(v) => state.kv.insert(k, v),
                None => state.kv.remove(&k),
            };
        }
        Ok(())
    }

    /// Forgets a connector's offsets and state (delete).
    pub(super) async fn forget(&self, name: &str) -> Result<()> {
        let Some(state) = self.table.lock().remove(name) else {
            return Ok(());
        };
        let now = super::now_ms();
        let mut records: Vec<_> = state
            .kv
            .keys()
            .map(|k| record(kv_key(name, "kvb", k), None, now))
            .collect();
        records.push(record(off_key(name), None, now));
        self.topic.append(&records).await?;
        Ok(())
    }
}

fn off_key(name: &str) -> Vec<u8> {
    format!("{name}\0off").into_bytes()
}
