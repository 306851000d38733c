//! Durable transform state in the internal compacted topic `__transform_state`: for each
//! transform one position record (`{name}\0pos`, JSON: input positions and output ends) and one
//! record per plugin key (`{name}\0kvb\0{key}`, the value's raw bytes). A batch's position and
//! key-value changes are one append, so they commit together.
//!
//! Values are stored raw: a 1 MiB value, which the WIT allows, is a 1 MiB record, and the topic's
//! `max.message.bytes` leaves room for it and its key. Records of the first format
//! (`{name}\0kv\0{key}` with a JSON/base64 value) are still read; deletions tombstone both forms.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::internal::InternalTopic;
use super::storage::{CleanupPolicy, Engine};
use super::transforms::CommittedState;
use super::{Error, Result};
use crate::event::Record;

/// The internal topic holding transform positions and plugin state.
pub const STATE_TOPIC: &str = "__transform_state";
/// Room for the largest plugin value (1 MiB) plus its key and the transform's name.
const STATE_MAX_MESSAGE_BYTES: u32 = 2 << 20;

#[derive(Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "lowercase")]
enum StateValue {
    Pos {
        // Pairs, not a map: JSON object keys are strings, and an internally tagged enum cannot
        // turn them back into integers.
        positions: Vec<(u32, u64)>,
        output_ends: BTreeMap<String, u64>,
    },
    /// The first format's key-value record (base64 inside JSON); read, never written.
    Kv { value: String },
}

pub(super) struct StateStore {
    topic: InternalTopic,
    pub(super) table: Mutex<HashMap<String, CommittedState>>,
}

impl StateStore {
    pub(super) async fn open(storage: &Arc<Engine>) -> Result<Self> {
        let topic = InternalTopic::open(storage, STATE_TOPIC, |c| {
            c.cleanup_policy = CleanupPolicy::Compact;
            c.max_message_bytes = STATE_MAX_MESSAGE_BYTES;
        })
        .await?;
        let mut table: HashMap<String, CommittedState> = HashMap::new();
        topic
            .replay_raw(|key, value, _, offset| {
                let mut parts = key.splitn(3, |b| *b == 0);
                let (Some(name), Some(kind)) = (parts.next(), parts.next()) else {
                    return Ok(());
                };
                let state = table
                    .entry(String::from_utf8_lossy(name).into_owned())
                    .or_default();
                apply(state, kind, parts.next(), value, offset)
            })
            .await?;
        Ok(Self {
            topic,
            table: Mutex::new(table),
        })
    }

    pub(super) async fn commit(
        &self,
        name: &str,
        state: &CommittedState,
        kv_changes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    ) -> Result<()> {
        let now = super::now_ms();
        let mut records = Vec::with_capacity(kv_changes.len() + 1);
        for (k, v) in &kv_changes {
            if v.is_none() {
                records.push(record(kv_key(name, "kv", k), None, now));
            }
            records.push(record(
                kv_key(name, "kvb", k),
                v.clone().map(Bytes::from),
                now,
            ));
        }
        let pos = StateValue::Pos {
            positions: state.positions.iter().map(|(p, o)| (*p, *o)).collect(),
            output_ends: state.output_ends.clone(),
        };
        records.push(record(pos_key(name), Some(json(&pos)), now));
        self.topic.append(&records).await?;
        let mut table = self.table.lock();
        let stored = table.entry(name.to_owned()).or_default();
        stored.positions.clone_from(&state.positions);
        stored.output_ends.clone_from(&state.output_ends);
        for (k, v) in kv_changes {
            match v {
                Some(v) => stored.kv.insert(k, v),
                None => stored.kv.remove(&k),
            };
        }
        Ok(())
    }

    pub(super) async fn forget(&self, name: &str) -> Result<()> {
        let Some(state) = self.table.lock().remove(name) else {
            return Ok(());
        };
        let now = super::now_ms();
        let mut records: Vec<Record> = state
            .kv
            .into_keys()
            .flat_map(|k| {
                [
                    record(kv_key(name, "kv", &k), None, now),
                    record(kv_key(name, "kvb", &k), None, now),
                ]
            })
            .collect();
        records.push(record(pos_key(name), None, now));
        self.topic.append(&records).await?;
        Ok(())
    }
}

/// Applies one replayed record to a transform's state.
fn apply(
    state: &mut CommittedState,
    kind: &[u8],
    key: Option<&[u8]>,
    value: Option<Bytes>,
    offset: u64,
) -> Result<()> {
    let decode = |v: &Bytes| {
        serde_json::from_slice::<StateValue>(v).map_err(|e| Error::InternalState {
            topic: STATE_TOPIC,
            offset,
            problem: e.to_string(),
        })
    };
    match (kind, key, value) {
        (b"pos", _, Some(v)) => {
            if let StateValue::Pos {
                positions,
                output_ends,
            } = decode(&v)?
            {
                state.positions = positions.into_iter().collect();
                state.output_ends = output_ends;
            }
        }
        (b"pos", _, None) => {
            state.positions.clear();
            state.output_ends.clear();
        }
        (b"kvb", Some(k), Some(v)) => {
            state.kv.insert(k.to_vec(), v.to_vec());
        }
        (b"kv", Some(k), Some(v)) => {
            if let StateValue::Kv { value } = decode(&v)?
                && let Ok(v) = BASE64.decode(value)
            {
                state.kv.insert(k.to_vec(), v);
            }
        }
        (b"kv" | b"kvb", Some(k), None) => {
            state.kv.remove(k);
        }
        _ => {}
    }
    Ok(())
}

fn pos_key(name: &str) -> Vec<u8> {
    format!("{name}\0pos").into_bytes()
}

pub(super) fn kv_key(name: &str, kind: &str, key: &[u8]) -> Vec<u8> {
    let mut full = format!("{name}\0{kind}\0").into_bytes();
    full.extend_from_slice(key);
    full
}

fn json(value: &StateValue) -> Bytes {
    Bytes::from(serde_json::to_vec(value).unwrap_or_default())
}

pub(super) fn record(key: Vec<u8>, value: Option<Bytes>, now: i64) -> Record {
    Record {
        key: Some(Bytes::from(key)),
        value,
        timestamp: now,
        ..Record::default()
    }
}
