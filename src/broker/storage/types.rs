//! The plain data that crosses the storage seam: topic settings, partition offsets, fetch
//! results and maintenance counts. No behaviour beyond defaults.

use serde::{Deserialize, Serialize};

use crate::event::StoredRecord;

/// What happens to old data of a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CleanupPolicy {
    /// Whole old segments are deleted by `retention.ms` / `retention.bytes`.
    Delete,
    /// Only the latest record per key is kept.
    Compact,
}

/// Per-topic settings with Kafka's dotted names, as every front end shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicConfig {
    /// -1 = unlimited; default 604800000 (7 d).
    #[serde(rename = "retention.ms")]
    pub retention_ms: i64,
    /// Per partition, -1 = unlimited (default).
    #[serde(rename = "retention.bytes")]
    pub retention_bytes: i64,
    /// Default `delete`.
    #[serde(rename = "cleanup.policy")]
    pub cleanup_policy: CleanupPolicy,
    /// Largest record (key + value + headers), default 1048588 (Kafka's).
    #[serde(rename = "max.message.bytes")]
    pub max_message_bytes: u32,
    /// Segment size before a roll.
    #[serde(rename = "segment.bytes")]
    pub segment_bytes: u64,
    /// Segment age before a roll.
    #[serde(rename = "segment.ms")]
    pub segment_ms: i64,
    /// Tombstone grace on compacted topics, default 86400000.
    #[serde(rename = "delete.retention.ms")]
    pub delete_retention_ms: i64,
}

impl TopicConfig {
    /// Kafka's defaults with an engine's segment size and age.
    #[must_use]
    pub fn defaults(segment_bytes: u64, segment_ms: i64) -> Self {
        Self {
            retention_ms: 604_800_000,
            retention_bytes: -1,
            cleanup_policy: CleanupPolicy::Delete,
            max_message_bytes: 1_048_588,
            segment_bytes,
            segment_ms,
            delete_retention_ms: 86_400_000,
        }
    }
}

/// A topic as storage knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMeta {
    /// Its name.
    pub name: crate::event::TopicName,
    /// How many partitions (numbered from 0).
    pub partitions: u32,
    /// Its settings.
    pub config: TopicConfig,
}

/// One partition's offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PartitionOffsets {
    /// First offset still stored.
    pub start: u64,
    /// One past the last readable offset (the high watermark).
    pub end: u64,
}

/// What a read returns.
#[derive(Debug, Clone, Default)]
pub struct FetchResult {
    /// Records at or after the requested offset, ascending.
    pub records: Vec<StoredRecord>,
    /// Offset to ask for next (past a compacted gap when the read fell in one).
    pub next_offset: u64,
}

/// Counts from one maintenance pass, for logging.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MaintenanceReport {
    /// Active segments closed by age.
    pub segments_rolled: usize,
    /// Segments removed by retention.
    pub segments_deleted: usize,
    /// Segments rewritten by compaction.
    pub segments_compacted: usize,
    /// Records dropped by compaction.
    pub records_removed: u64,
}

impl MaintenanceReport {
    /// Whether the pass changed anything.
    #[must_use]
    pub fn changed_anything(&self) -> bool {
        self.segments_rolled + self.segments_deleted + self.segments_compacted > 0
    }
}
