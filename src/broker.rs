//! The use cases every front end shares: topic admin, produce, fetch with long-poll,
//! consumer-group offsets and idempotent produce.
//!
//! The broker is the seam between front ends (HTTP today, WebSocket, REST Proxy later) and
//! storage. It owns request semantics — partitioning, all-or-nothing validation, limits —
//! and never speaks HTTP: callers get typed results and a typed [`Error`]. It must not
//! reach below the `log` API (no segment files, no paths).

mod admin;
mod definitions;
mod error;
mod fetch;
mod groups;
mod idempotency;
mod internal;
mod plugins;
mod produce;
mod transforms;

use std::sync::{Arc, atomic::AtomicU64};

pub use admin::{MAX_PARTITIONS, PartitionInfo, TopicDescription};
pub use definitions::{
    BatchPolicy, OnError, PluginDefinition, TransformDefinition, TransformEntry,
};
pub use error::{Error, Result};
pub use fetch::OffsetSpec;
pub use groups::{GroupOffset, GroupOffsetCommit};
pub use produce::{ProduceRecord, ProducedOffset};
pub use transforms::{
    BUILTIN_IDENTITY, CommittedState, TransformRequest, TransformState, TransformStatus,
    TransformView,
};

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
    plugins: crate::plugin::Host,
    definitions: definitions::Definitions,
    transform_state: transforms::StateStore,
    /// Round-robin cursor for unkeyed records without an explicit partition.
    round_robin: AtomicU64,
}

impl Broker {
    /// Builds the broker over an opened log and plugin host, creating and replaying the
    /// internal topics (`__consumer_offsets`, `__idempotency`, `__tidegate_config`,
    /// `__transform_state`).
    ///
    /// # Errors
    /// Storage errors while creating or replaying the internal topics.
    pub fn open(
        log: Arc<Log>,
        plugins: crate::plugin::Host,
        config: BrokerConfig,
        now_ms: i64,
    ) -> Result<Self> {
        let groups = groups::Groups::open(&log)?;
        let idempotency = idempotency::Cache::open(&log, now_ms, config.idempotency_window_ms)?;
        let definitions = definitions::Definitions::open(&log)?;
        let transform_state = transforms::StateStore::open(&log)?;
        let inner = Inner {
            log,
            config,
            groups,
            idempotency,
            plugins,
            definitions,
            transform_state,
            round_robin: AtomicU64::new(0),
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// The plugin host (for the pipeline, which runs the plugins).
    #[must_use]
    pub fn plugin_host(&self) -> &crate::plugin::Host {
        &self.inner.plugins
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
