//! The use cases every front end shares: topic admin, produce, fetch with long-poll,
//! consumer-group offsets and idempotent produce.
//!
//! The broker is the seam between front ends (HTTP today, WebSocket, REST Proxy later) and
//! storage. It owns request semantics — partitioning, all-or-nothing validation, limits —
//! and never speaks HTTP: callers get typed results and a typed [`Error`]. It must not
//! reach below the `log` API (no segment files, no paths).

mod admin;
mod error;
mod fetch;
mod groups;
mod idempotency;
mod internal;
mod produce;

use std::sync::{Arc, atomic::AtomicU64};

pub use admin::{MAX_PARTITIONS, PartitionInfo, TopicDescription};
pub use error::{Error, Result};
pub use fetch::OffsetSpec;
pub use groups::{GroupOffset, GroupOffsetCommit};
pub use produce::{ProduceRecord, ProducedOffset};

use crate::log::Log;

/// Broker settings fixed at start.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Create unknown topics on first produce (with `default_partitions`).
    pub auto_create_topics: bool,
    /// Partitions of auto-created topics.
    pub default_partitions: u32,
    /// How long an `Idempotency-Key` is remembered, in milliseconds.
    pub idempotency_window_ms: i64,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            auto_create_topics: false,
            default_partitions: 1,
            idempotency_window_ms: 600_000,
        }
    }
}

/// Cheap-to-clone handle to the broker.
#[derive(Clone)]
pub struct Broker {
    inner: Arc<Inner>,
}

struct Inner {
    log: Arc<Log>,
    config: BrokerConfig,
    groups: groups::Groups,
    idempotency: idempotency::Cache,
    /// Round-robin cursor for unkeyed records without an explicit partition.
    round_robin: AtomicU64,
}

impl Broker {
    /// Builds the broker over an opened log, creating and replaying the internal topics
    /// (`__consumer_offsets`, `__idempotency`).
    ///
    /// # Errors
    /// Storage errors while creating or replaying the internal topics.
    pub fn open(log: Arc<Log>, config: BrokerConfig, now_ms: i64) -> Result<Self> {
        let groups = groups::Groups::open(&log)?;
        let idempotency = idempotency::Cache::open(&log, now_ms, config.idempotency_window_ms)?;
        Ok(Self {
            inner: Arc::new(Inner {
                log,
                config,
                groups,
                idempotency,
                round_robin: AtomicU64::new(0),
            }),
        })
    }

    /// The underlying log (for maintenance and shutdown by the composition root).
    #[must_use]
    pub fn log(&self) -> &Arc<Log> {
        &self.inner.log
    }
}

/// Wall-clock milliseconds since the Unix epoch; the one place the broker reads the clock.
pub(crate) fn now_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}
