//! STUB
#![allow(unused, missing_docs)]
// The public API of `crate::log` that the broker layer codes against.
// Names, signatures and semantics here are a contract: keep them exactly (you may ADD items).
// Everything is re-exported from `src/log.rs`; internals live in `src/log/*.rs`.

use std::{path::PathBuf, sync::Arc, time::Duration};
use crate::event::{Record, StoredRecord, TopicName};

/// When appends are made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// fdatasync before an append is acknowledged (group commit shares one fsync).
    Always,
    /// Never fsync explicitly (OS writeback only); appends are visible immediately.
    Never,
    /// A background task fsyncs dirty partitions every interval; appends are visible at once.
    Interval(Duration),
}

/// Whole-log settings, fixed at open.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// Root directory; topics live under `{dir}/topics/{topic}/{partition}/`.
    pub dir: PathBuf,
    pub fsync: FsyncPolicy,
    /// Default segment size before a roll (128 MiB). Topic config `segment.bytes` overrides.
    pub segment_bytes: u64,
    /// Default max segment age before a roll (7 days). Topic config `segment.ms` overrides.
    pub segment_ms: i64,
    /// One sparse index entry per this many bytes (4096).
    pub index_interval_bytes: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CleanupPolicy { Delete, Compact }

/// Per-topic settings, persisted with the topic (JSON, Kafka's dotted names).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TopicConfig {
    #[serde(rename = "retention.ms")]       pub retention_ms: i64,        // -1 = unlimited; default 604800000 (7 d)
    #[serde(rename = "retention.bytes")]    pub retention_bytes: i64,     // per partition, -1 = unlimited (default)
    #[serde(rename = "cleanup.policy")]     pub cleanup_policy: CleanupPolicy, // default Delete
    #[serde(rename = "max.message.bytes")]  pub max_message_bytes: u32,   // default 1048588 (Kafka's)
    #[serde(rename = "segment.bytes")]      pub segment_bytes: u64,       // default from LogConfig
    #[serde(rename = "segment.ms")]         pub segment_ms: i64,          // default from LogConfig
    #[serde(rename = "delete.retention.ms")] pub delete_retention_ms: i64, // tombstone grace, default 86400000
}
impl TopicConfig { pub fn defaults(log: &LogConfig) -> Self { todo!() } pub fn validate(&self) -> Result<(), String> { todo!() } }

/// What a read returns.
pub struct ReadResult {
    /// Records with offset >= the requested offset, ascending, at most max_records
    /// (at least one record if any exists, even if it alone exceeds max_bytes).
    pub records: Vec<StoredRecord>,
    /// Offset to ask for next (last returned offset + 1, or the requested offset if none;
    /// if the requested offset fell in a compacted gap, skips past it).
    pub next_offset: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("stub")]
#[non_exhaustive]
pub enum Error {
    UnknownTopic { topic: TopicName },
    TopicExists { topic: TopicName },
    UnknownPartition { topic: TopicName, partition: u32, partitions: u32 },
    OffsetOutOfRange { topic: TopicName, partition: u32, requested: u64, start: u64, end: u64 },
    InvalidConfig { field: String, problem: String },
    /// Append refused because it is empty or a record exceeds limits (e.g. > u32 framing).
    BatchTooLarge { size: usize, limit: usize },
    /// An fsync or write failed earlier: the partition refuses writes until restart.
    Poisoned { topic: TopicName, partition: u32 },
    Io { path: PathBuf, #[source] source: std::io::Error },
    Corrupt { path: PathBuf, position: u64, kind: String },
}
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The whole log: a set of topics. Cheap to share via Arc; all methods take &self.
pub struct Log;
impl Log {
    /// Opens (creating if missing) the log at config.dir and recovers every topic: loads topic
    /// metadata, lists segments, and scans ONLY each partition's active (last) segment, truncating
    /// a torn/corrupt tail. Closed segments' indexes are loaded lazily on first read.
    pub async fn open(config: LogConfig) -> Result<Arc<Log>> { todo!() }
    /// Creates a topic (metadata file written durably: temp + fsync + rename + fsync dir).
    pub fn create_topic(&self, name: &TopicName, partitions: u32, config: TopicConfig) -> Result<Arc<Topic>> { todo!() }
    pub fn delete_topic(&self, name: &TopicName) -> Result<()> { todo!() }
    /// Replaces a topic's config (persisted durably). Partition count cannot change here.
    pub fn alter_topic_config(&self, name: &TopicName, config: TopicConfig) -> Result<()> { todo!() }
    pub fn topic(&self, name: &TopicName) -> Result<Arc<Topic>> { todo!() } // Error::UnknownTopic
    /// All topics, sorted by name (internal ones included).
    pub fn topics(&self) -> Vec<Arc<Topic>> { todo!() }
    /// One maintenance pass at wall-clock `now_ms`: roll active segments older than segment.ms,
    /// delete whole closed segments past retention.ms / retention.bytes, compact compact-topics.
    /// Returns counts for logging. Safe to run concurrently with appends and reads.
    pub fn maintain(&self, now_ms: i64) -> Result<MaintenanceReport> { todo!() }
    /// Flushes and fsyncs everything; afterwards appends fail. Idempotent.
    pub async fn close(&self) -> Result<()> { todo!() }
    pub fn config(&self) -> &LogConfig { todo!() }
}
#[derive(Debug, Default, Clone)]
pub struct MaintenanceReport { pub segments_rolled: usize, pub segments_deleted: usize, pub segments_compacted: usize, pub records_removed: u64 }

pub struct Topic;
impl Topic {
    pub fn name(&self) -> &TopicName { todo!() }
    pub fn config(&self) -> TopicConfig { todo!() }
    pub fn partition_count(&self) -> u32 { todo!() }
    pub fn partition(&self, p: u32) -> Result<Arc<Partition>> { todo!() } // Error::UnknownPartition
    pub fn partitions(&self) -> Vec<Arc<Partition>> { todo!() }
}

pub struct Partition;
impl Partition {
    pub fn id(&self) -> u32 { todo!() }
    /// Appends `records` as ONE batch (all or nothing) and returns the base offset; the records
    /// get base, base+1, …. Returns only once the batch is durable per the FsyncPolicy
    /// (Always: after an fdatasync covering it; concurrent appenders share fsyncs = group commit).
    /// A record with timestamp 0 gets now(). Empty slice → Error::BatchTooLarge{size:0,..}? no:
    /// empty slice → Ok(end_offset) and nothing written.
    /// # Cancel safety: if the future is dropped after the write started, the batch may still
    /// land (like a network timeout); it never lands partially.
    pub async fn append(&self, records: &[Record]) -> Result<u64> { todo!() }
    /// Reads from `offset`. Error::OffsetOutOfRange unless start_offset() <= offset <= end_offset().
    /// offset == end_offset() → empty result. Only records below end_offset() are returned.
    pub fn read(&self, offset: u64, max_records: usize, max_bytes: usize) -> Result<ReadResult> { todo!() }
    /// Waits until end_offset() > offset or the timeout passes; returns whether data is there.
    /// Woken by the append path (no polling). Cancel safe.
    pub async fn wait_for(&self, offset: u64, timeout: Duration) -> bool { todo!() }
    /// First offset still in the log (after retention).
    pub fn start_offset(&self) -> u64 { todo!() }
    /// High watermark: one past the last record visible to readers. With Always, only
    /// fsynced records are visible; with Never/Interval, written ones.
    pub fn end_offset(&self) -> u64 { todo!() }
    /// First offset whose record timestamp >= ts (uses the time index), or None if none.
    pub fn offset_for_timestamp(&self, ts: i64) -> Result<Option<u64>> { todo!() }
    /// Bytes on disk for this partition (sum of segment sizes).
    pub fn size_bytes(&self) -> u64 { todo!() }
}
