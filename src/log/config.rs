//! Settings: the whole-log [`LogConfig`] and the per-topic, persisted [`TopicConfig`].
//!
//! Owns defaults and validation only; it must not touch the disk or read the environment.

use std::{path::PathBuf, time::Duration};

use crate::durable::fs::{FsRef, OsFs};

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
    /// Where files live: the real disk, or a simulated one in crash tests.
    pub fs: FsRef,
    /// Root directory; topics live under `{dir}/topics/{topic}/{partition}/`.
    pub dir: PathBuf,
    /// When appends are made durable.
    pub fsync: FsyncPolicy,
    /// Default segment size before a roll (128 MiB). Topic config `segment.bytes` overrides.
    pub segment_bytes: u64,
    /// Default max segment age before a roll (7 days). Topic config `segment.ms` overrides.
    pub segment_ms: i64,
    /// One sparse index entry per this many bytes (4096).
    pub index_interval_bytes: u32,
    /// Most distinct keys one compaction pass maps (1,048,576; about 40 MiB). Kafka's
    /// `log.cleaner.dedupe.buffer.size` in entries: more keys take several passes.
    pub compaction_map_entries: usize,
}

impl LogConfig {
    /// The documented defaults for everything but the directory.
    #[must_use]
    pub fn new(dir: PathBuf) -> Self {
        Self {
            fs: std::sync::Arc::new(OsFs),
            dir,
            fsync: FsyncPolicy::Always,
            segment_bytes: 128 * 1024 * 1024,
            segment_ms: 7 * 24 * 3600 * 1000,
            index_interval_bytes: 4096,
            compaction_map_entries: 1 << 20,
        }
    }
}

/// What happens to old data of a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CleanupPolicy {
    /// Whole old segments are deleted by `retention.ms` / `retention.bytes`.
    Delete,
    /// Only the latest record per key is kept.
    Compact,
}

/// Per-topic settings, persisted with the topic (JSON, Kafka's dotted names).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TopicConfig {
    /// -1 = unlimited; default 604800000 (7 d).
    #[serde(rename = "retention.ms")]
    pub retention_ms: i64,
    /// Per partition, -1 = unlimited (default).
    #[serde(rename = "retention.bytes")]
    pub retention_bytes: i64,
    /// Default Delete.
    #[serde(rename = "cleanup.policy")]
    pub cleanup_policy: CleanupPolicy,
    /// Default 1048588 (Kafka's).
    #[serde(rename = "max.message.bytes")]
    pub max_message_bytes: u32,
    /// Default from LogConfig.
    #[serde(rename = "segment.bytes")]
    pub segment_bytes: u64,
    /// Default from LogConfig.
    #[serde(rename = "segment.ms")]
    pub segment_ms: i64,
    /// Tombstone grace, default 86400000.
    #[serde(rename = "delete.retention.ms")]
    pub delete_retention_ms: i64,
}

/// Index positions are u32, so a segment (plus the batch that overflows it) must stay < 4 GiB.
pub(crate) const MAX_SEGMENT_BYTES: u64 = 1 << 30;
/// Bounds a single record so that a batch of them still frames in a u32 and fits a segment.
pub(crate) const MAX_MESSAGE_BYTES: u32 = 256 << 20;

impl TopicConfig {
    /// Kafka's defaults, with segment size and age taken from the log.
    #[must_use]
    pub fn defaults(log: &LogConfig) -> Self {
        Self {
            retention_ms: 604_800_000,
            retention_bytes: -1,
            cleanup_policy: CleanupPolicy::Delete,
            max_message_bytes: 1_048_588,
            segment_bytes: log.segment_bytes,
            segment_ms: log.segment_ms,
            delete_retention_ms: 86_400_000,
        }
    }

    /// Checks every field; the error is `(field, problem)`.
    ///
    /// # Errors
    /// Names the first field that is out of range.
    pub fn validate(&self) -> Result<(), String> {
        let bad = |field: &str, problem: String| Err(format!("{field}: {problem}"));
        if self.retention_ms < -1 {
            return bad(
                "retention.ms",
                format!("must be -1 or >= 0, got {}", self.retention_ms),
            );
        }
        if self.retention_bytes < -1 {
            return bad(
                "retention.bytes",
                format!("must be -1 or >= 0, got {}", self.retention_bytes),
            );
        }
        if self.max_message_bytes == 0 || self.max_message_bytes > MAX_MESSAGE_BYTES {
            return bad(
                "max.message.bytes",
                format!(
                    "must be 1..={MAX_MESSAGE_BYTES}, got {}",
                    self.max_message_bytes
                ),
            );
        }
        if self.segment_bytes == 0 || self.segment_bytes > MAX_SEGMENT_BYTES {
            return bad(
                "segment.bytes",
                format!(
                    "must be 1..={MAX_SEGMENT_BYTES}, got {}",
                    self.segment_bytes
                ),
            );
        }
        if self.segment_ms <= 0 {
            return bad(
                "segment.ms",
                format!("must be > 0, got {}", self.segment_ms),
            );
        }
        if self.delete_retention_ms < 0 {
            return bad(
                "delete.retention.ms",
                format!("must be >= 0, got {}", self.delete_retention_ms),
            );
        }
        Ok(())
    }
}
