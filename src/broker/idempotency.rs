//! Idempotent produce: remembers `Idempotency-Key` → offsets for a time window.
//!
//! Keys are scoped by topic and persisted in the internal topic `__idempotency` (one record
//! per accepted request), so a retry after a restart still finds the original offsets. A key
//! is locked while its first request runs, so two concurrent retries cannot both append.
//!
//! Known gap: the data append and the idempotency record are two appends; a crash between
//! them forgets the key, and a retry appends again (at-least-once in that window).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::OwnedMutexGuard;

use super::{ProducedOffset, Result, internal, now_ms};
use crate::event::{Record, TopicName};
use crate::log::{CleanupPolicy, Log, Partition};

/// The internal topic holding idempotency records.
pub const TOPIC: &str = "__idempotency";
const LOCK_SHARDS: usize = 64;

pub(super) struct Cache {
    window_ms: i64,
    partition: Arc<Partition>,
    state: Mutex<State>,
    locks: Vec<Arc<tokio::sync::Mutex<()>>>,
}

#[derive(Default)]
struct State {
    entries: HashMap<Bytes, Vec<ProducedOffset>>,
    /// Insertion order, for expiry.
    order: VecDeque<(i64, Bytes)>,
}

impl State {
    fn insert(&mut self, key: Bytes, offsets: Vec<ProducedOffset>, ts: i64) {
        self.order.push_back((ts, key.clone()));
        self.entries.insert(key, offsets);
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

/// A locked idempotency key: look it up, or remember the offsets of the request it guards.
pub(super) struct Slot<'a> {
    cache: &'a Cache,
    key: Bytes,
    _guard: OwnedMutexGuard<()>,
}

impl Cache {
    pub(super) fn open(log: &Arc<Log>, now: i64, window_ms: i64) -> Result<Self> {
        let partition = internal_partition(log, window_ms)?;
        let mut state = State::default();
        internal::replay(
            &partition,
            TOPIC,
            |key, value: Option<Vec<ProducedOffset>>, ts| {
                if let Some(offsets) = value.filter(|_| ts >= now - window_ms) {
                    state.insert(key, offsets, ts);
                }
            },
        )?;
        let locks = (0..LOCK_SHARDS)
            .map(|_| Arc::new(tokio::sync::Mutex::new(())))
            .collect();
        Ok(Self {
            window_ms,
            partition,
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
            _guard: guard,
        }
    }
}

impl Slot<'_> {
    /// The offsets remembered for this key, if it was seen within the window.
    pub(super) fn get(&self) -> Option<Vec<ProducedOffset>> {
        let mut state = self.cache.state.lock();
        state.expire(now_ms() - self.cache.window_ms);
        state.entries.get(&self.key).cloned()
    }

    /// Persists and remembers the offsets of the request this slot guarded.
    pub(super) async fn remember(&self, offsets: Vec<ProducedOffset>, now: i64) -> Result<()> {
        let value = serde_json::to_vec(&offsets).unwrap_or_default();
        let record = Record {
            key: Some(self.key.clone()),
            value: Some(Bytes::from(value)),
            timestamp: now,
            ..Record::default()
        };
        self.cache
            .partition
            .append(std::slice::from_ref(&record))
            .await?;
        self.cache
            .state
            .lock()
            .insert(self.key.clone(), offsets, now);
        Ok(())
    }
}

fn internal_partition(log: &Arc<Log>, window_ms: i64) -> Result<Arc<Partition>> {
    internal::open(log, TOPIC, |config| {
        config.cleanup_policy = CleanupPolicy::Delete;
        // Whole segments expire, so keep each one about a window long and drop it after two.
        config.segment_ms = window_ms.max(1);
        config.retention_ms = window_ms.saturating_mul(2);
    })
}
