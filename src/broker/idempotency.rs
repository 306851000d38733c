//! Idempotent produce: an `Idempotency-Key` makes a request all-or-nothing together with its
//! entry, whatever its size and wherever a crash falls.
//!
//! Keys are scoped by topic and persisted in the internal topic `__idempotency`; an entry is
//! compact (a request fingerprint, the round-robin cursor, one range per partition), never a
//! list of offsets per record. The protocol, per key, under the key's lock:
//!
//! 1. `pending` entry: the request's fingerprint, cursor, and each target partition's end
//!    offset before anything is appended; written before any data.
//! 2. One batch per partition; its first record carries the header
//!    [`BATCH_HEADER`] = key, so a batch that landed before a crash can be found again.
//! 3. `done` entry: `(partition, base, count)` ranges.
//!
//! A retry of a `done` key replays the answer (recomputed from the retry's own records, which
//! must have the same fingerprint, and the stored cursor). A retry of a `pending` key — a crash
//! or failure between 1 and 3 — scans each partition from its recorded end for the marked batch,
//! appends only the batches that are missing, then writes `done`: exactly once, never twice.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::OwnedMutexGuard;

use super::internal::InternalTopic;
use super::storage::{CleanupPolicy, Engine};
use super::{ProduceRecord, Result, now_ms};
use crate::event::{Record, TopicName};

/// The internal topic holding idempotency entries.
pub const TOPIC: &str = "__idempotency";
/// Header on the first record of each batch an idempotent request appends; its value is the
/// `Idempotency-Key`.
pub const BATCH_HEADER: &str = "tidegate.idempotency-key";
const LOCK_SHARDS: usize = 64;

/// What is remembered of one idempotent request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Entry {
    /// SHA-256 of the request's records (hex): a retry must send the same request.
    pub fingerprint: String,
    /// The round-robin cursor the request's unkeyed records were spread from.
    pub cursor: u64,
    /// How far the request got.
    #[serde(flatten)]
    pub progress: Progress,
}

/// How far an idempotent request got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub(super) enum Progress {
    /// Batches may have landed in part; `ends` = each target partition's end offset before.
    Pending { ends: Vec<(u32, u64)> },
    /// Every batch landed: `(partition, base offset, record count)`.
    Done { ranges: Vec<(u32, u64, u64)> },
}

pub(super) struct Cache {
    window_ms: i64,
    topic: InternalTopic,
    state: Mutex<State>,
    locks: Vec<Arc<tokio::sync::Mutex<()>>>,
}

#[derive(Default)]
struct State {
    entries: HashMap<Bytes, Entry>,
    /// First-write order, for expiry.
    order: VecDeque<(i64, Bytes)>,
}

impl State {
    fn insert(&mut self, key: Bytes, entry: Entry, ts: i64) {
        if self.entries.insert(key.clone(), entry).is_none() {
            self.order.push_back((ts, key));
        }
    }

    fn expire(&mut self, oldest: i64) {
        while let Some((ts, key)) = self.order.front() {
            if *ts >= oldest {
                break;
            }
            self.entries.remove(key);
            self.order.pop_front();
        }
    }
}

/// A locked idempotency key: look its entry up, or write it.
pub(super) struct Slot<'a> {
    cache: &'a Cache,
    key: Bytes,
    /// The key as the client sent it (the batch header's value).
    pub(super) client_key: String,
    _guard: OwnedMutexGuard<()>,
}

impl Cache {
    pub(super) async fn open(storage: &Arc<Engine>, now: i64, window_ms: i64) -> Result<Self> {
        let topic = InternalTopic::open(storage, TOPIC, |config| {
            config.cleanup_policy = CleanupPolicy::Delete;
            // Whole segments expire, so keep each one about a window long and drop it after two.
            config.segment_ms = window_ms.max(1);
            config.retention_ms = window_ms.saturating_mul(2);
        })
        .await?;
        let mut state = State::default();
        topic
            .replay(|key, value: Option<Entry>, ts| {
                if let Some(entry) = value.filter(|_| ts >= now - window_ms) {
                    state.insert(key, entry, ts);
                }
            })
            .await?;
        let locks = (0..LOCK_SHARDS)
            .map(|_| Arc::new(tokio::sync::Mutex::new(())))
            .collect();
        Ok(Self {
            window_ms,
            topic,
            state: Mutex::new(state),
            locks,
        })
    }

    /// Locks `key` of `topic` until the returned slot is dropped.
    pub(super) async fn lock(&self, topic: &TopicName, key: &str) -> Slot<'_> {
        let scoped = Bytes::from(format!("{topic}\0{key}"));
        let shard = crate::event::murmur2(&scoped).unsigned_abs() as usize % LOCK_SHARDS;
        let guard = Arc::clone(&self.locks[shard]).lock_owned().await;
        Slot {
            cache: self,
            key: scoped,
            client_key: key.to_owned(),
            _guard: guard,
        }
    }
}

impl Slot<'_> {
    /// The entry for this key, if it was written within the window.
    pub(super) fn get(&self) -> Option<Entry> {
        let mut state = self.cache.state.lock();
        state.expire(now_ms() - self.cache.window_ms);
        state.entries.get(&self.key).cloned()
    }

    /// Persists, then remembers, this key's entry.
    pub(super) async fn write(&self, entry: Entry) -> Result<()> {
        let now = now_ms();
        let value = serde_json::to_vec(&entry).unwrap_or_default();
        let record = Record {
            key: Some(self.key.clone()),
            value: Some(Bytes::from(value)),
            timestamp: now,
            ..Record::default()
        };
        self.cache
            .topic
            .append(std::slice::from_ref(&record))
            .await?;
        self.cache.state.lock().insert(self.key.clone(), entry, now);
        Ok(())
    }
}

/// SHA-256 over every field of every record (length-prefixed), hex.
pub(super) fn fingerprint(records: &[ProduceRecord]) -> String {
    let mut hash = Sha256::new();
    let mut field = |bytes: Option<&[u8]>| match bytes {
        None => hash.update([0u8]),
        Some(b) => {
            hash.update([1u8]);
            hash.update((b.len() as u64).to_le_bytes());
            hash.update(b);
        }
    };
    for r in records {
        field(r.partition.map(u32::to_le_bytes).as_ref().map(|b| &b[..]));
        field(r.record.key.as_deref());
        field(r.record.value.as_deref());
        field(Some(&r.record.timestamp.to_le_bytes()));
        field(Some(&[r.record.attributes]));
        field(Some(&(r.record.headers.len() as u64).to_le_bytes()));
        for h in &r.record.headers {
            field(Some(h.name.as_bytes()));
            field(Some(&h.value));
        }
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
