//! The storage seam: the one trait every storage engine implements, the broker-owned types
//! that cross it, and [`Engine`], the static-dispatch container the broker holds.
//!
//! The broker and everything above it speak only these types: a topic's [`TopicConfig`],
//! [`PartitionOffsets`], a [`FetchResult`] and a [`StorageError`]. An engine translates its own
//! vocabulary into them (the file engine adapts `log::…`; the memory engine needs no
//! translation; a Kafka-backed engine would map protocol errors). Engines are chosen by URL
//! scheme at start (`file://DIR`, `memory://`), as tansu does.
//!
//! This module must not know about HTTP or any front end, and no engine may reach above it.

mod error;
mod file;
mod memory;
mod types;

use std::time::Duration;

pub use error::{StorageError, StorageResult};
pub use file::FileStorage;
pub use memory::MemoryStorage;
pub use types::{
    CleanupPolicy, FetchResult, MaintenanceReport, PartitionOffsets, TopicConfig, TopicMeta,
};

use crate::event::{Record, TopicName};

/// The core storage abstraction: a set of partitioned, append-only topics. Every engine
/// implements it; the conformance suite (`broker::tests::conformance`) runs on each.
///
/// Contract every engine keeps:
/// - `append` is all or nothing: the whole batch gets consecutive offsets or nothing is
///   visible; it returns once the batch is as durable as the engine promises.
/// - Offsets are dense from the partition's start (compaction may leave gaps in reads only).
/// - `wait_for` is woken by `append`, not by polling.
/// - Reads never block an append of the same partition for longer than a copy.
pub trait Storage: Send + Sync + 'static {
    /// Creates a topic.
    ///
    /// # Errors
    /// `TopicExists`, `InvalidConfig`, `Io`.
    fn create_topic(
        &self,
        name: &TopicName,
        partitions: u32,
        config: TopicConfig,
    ) -> impl Future<Output = StorageResult<()>> + Send;

    /// Deletes a topic and all its data.
    ///
    /// # Errors
    /// `UnknownTopic`, `Io`.
    fn delete_topic(&self, name: &TopicName) -> impl Future<Output = StorageResult<()>> + Send;

    /// Replaces a topic's config.
    ///
    /// # Errors
    /// `UnknownTopic`, `InvalidConfig`, `Io`.
    fn alter_topic_config(
        &self,
        name: &TopicName,
        config: TopicConfig,
    ) -> impl Future<Output = StorageResult<()>> + Send;

    /// A topic's name, partition count and config.
    ///
    /// # Errors
    /// `UnknownTopic`.
    fn topic(&self, name: &TopicName) -> StorageResult<TopicMeta>;

    /// Every topic, sorted by name (internal ones included).
    fn topics(&self) -> Vec<TopicMeta>;

    /// A partition's start and end offsets.
    ///
    /// # Errors
    /// `UnknownTopic`, `UnknownPartition`.
    fn offsets(&self, name: &TopicName, partition: u32) -> StorageResult<PartitionOffsets>;

    /// Appends `records` as one batch and returns the base offset.
    ///
    /// # Cancel safety
    /// Dropping the future after the write started may still let the batch land, whole.
    ///
    /// # Errors
    /// `UnknownTopic`, `UnknownPartition`, `BatchTooLarge`, `NoSpace`, `Unavailable`, `Io`.
    fn append(
        &self,
        name: &TopicName,
        partition: u32,
        records: &[Record],
    ) -> impl Future<Output = StorageResult<u64>> + Send;

    /// Reads up to `max_records` / about `max_bytes` (at least one record if any) from
    /// `offset`.
    ///
    /// # Errors
    /// `OffsetOutOfRange` unless `start <= offset <= end`; `Io`, `Corrupt`.
    fn read(
        &self,
        name: &TopicName,
        partition: u32,
        offset: u64,
        max_records: usize,
        max_bytes: usize,
    ) -> impl Future<Output = StorageResult<FetchResult>> + Send;

    /// Waits until the partition's end offset is past `offset`, or `timeout` passes;
    /// returns whether data is there.
    ///
    /// # Errors
    /// `UnknownTopic`, `UnknownPartition`.
    fn wait_for(
        &self,
        name: &TopicName,
        partition: u32,
        offset: u64,
        timeout: Duration,
    ) -> impl Future<Output = StorageResult<bool>> + Send;

    /// The first offset whose timestamp is at or after `timestamp_ms`, if any.
    ///
    /// # Errors
    /// `UnknownTopic`, `UnknownPartition`, `Io`.
    fn offset_for_timestamp(
        &self,
        name: &TopicName,
        partition: u32,
        timestamp_ms: i64,
    ) -> impl Future<Output = StorageResult<Option<u64>>> + Send;

    /// The config a new topic gets when the caller names no keys.
    fn default_topic_config(&self) -> TopicConfig;

    /// One retention / compaction / roll-by-age pass at wall-clock `now_ms`.
    ///
    /// # Errors
    /// The first failure met; every partition is still visited.
    fn maintain(
        &self,
        now_ms: i64,
    ) -> impl Future<Output = StorageResult<MaintenanceReport>> + Send;

    /// Makes everything durable and refuses further appends. Idempotent.
    ///
    /// # Errors
    /// The first flush failure.
    fn close(&self) -> impl Future<Output = StorageResult<()>> + Send;
}

/// The engines this build has, chosen by URL scheme. An enum rather than `dyn Storage`:
/// static dispatch, and the trait's `impl Future` methods need no boxing.
pub enum Engine {
    /// `file://DIR`: the built-in durable log.
    File(FileStorage),
    /// `memory://`: an in-process engine for tests and `--ephemeral` demos; nothing survives
    /// the process.
    Memory(MemoryStorage),
}

/// Forwards one trait method to the selected engine.
macro_rules! dispatch {
    ($self:ident, $engine:ident => $call:expr) => {
        match $self {
            Engine::File($engine) => $call,
            Engine::Memory($engine) => $call,
        }
    };
}

impl Storage for Engine {
    async fn create_topic(
        &self,
        name: &TopicName,
        partitions: u32,
        config: TopicConfig,
    ) -> StorageResult<()> {
        dispatch!(self, e => e.create_topic(name, partitions, config).await)
    }

    async fn delete_topic(&self, name: &TopicName) -> StorageResult<()> {
        dispatch!(self, e => e.delete_topic(name).await)
    }

    async fn alter_topic_config(&self, name: &TopicName, config: TopicConfig) -> StorageResult<()> {
        dispatch!(self, e => e.alter_topic_config(name, config).await)
    }

    fn topic(&self, name: &TopicName) -> StorageResult<TopicMeta> {
        dispatch!(self, e => e.topic(name))
    }

    fn topics(&self) -> Vec<TopicMeta> {
        dispatch!(self, e => e.topics())
    }

    fn offsets(&self, name: &TopicName, partition: u32) -> StorageResult<PartitionOffsets> {
        dispatch!(self, e => e.offsets(name, partition))
    }

    async fn append(
        &self,
        name: &TopicName,
        partition: u32,
        records: &[Record],
    ) -> StorageResult<u64> {
        dispatch!(self, e => e.append(name, partition, records).await)
    }

    async fn read(
        &self,
        name: &TopicName,
        partition: u32,
        offset: u64,
        max_records: usize,
        max_bytes: usize,
    ) -> StorageResult<FetchResult> {
        dispatch!(self, e => e.read(name, partition, offset, max_records, max_bytes).await)
    }

    async fn wait_for(
        &self,
        name: &TopicName,
        partition: u32,
        offset: u64,
        timeout: Duration,
    ) -> StorageResult<bool> {
        dispatch!(self, e => e.wait_for(name, partition, offset, timeout).await)
    }

    async fn offset_for_timestamp(
        &self,
        name: &TopicName,
        partition: u32,
        timestamp_ms: i64,
    ) -> StorageResult<Option<u64>> {
        dispatch!(self, e => e.offset_for_timestamp(name, partition, timestamp_ms).await)
    }

    fn default_topic_config(&self) -> TopicConfig {
        dispatch!(self, e => e.default_topic_config())
    }

    async fn maintain(&self, now_ms: i64) -> StorageResult<MaintenanceReport> {
        dispatch!(self, e => e.maintain(now_ms).await)
    }

    async fn close(&self) -> StorageResult<()> {
        dispatch!(self, e => e.close().await)
    }
}
