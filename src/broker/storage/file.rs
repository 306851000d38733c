//! The file engine: the built-in durable log (`crate::log`) behind the storage seam.
//!
//! Owns the translation between the log's types and the seam's, and decides which log calls
//! leave the async workers: topic creation and deletion (directory and fsync work), maintenance
//! passes, timestamp lookups and catch-up reads run on the blocking pool; tail reads and appends,
//! which the page cache and group commit serve quickly, stay inline.

use std::sync::Arc;
use std::time::Duration;

use super::{
    CleanupPolicy, FetchResult, MaintenanceReport, PartitionOffsets, Storage, StorageError,
    StorageResult, TopicConfig, TopicMeta,
};
use crate::event::{Record, TopicName};
use crate::log::{self, Log};

/// Reads stay on the async worker only near the tail (within this many offsets of the end)
/// and when small: that data was just written and is in the page cache. Every other read —
/// a catch-up read of older data, which may miss the cache or load a closed segment's index —
/// runs on the blocking pool.
const INLINE_READ_OFFSETS: u64 = 4096;
/// See [`INLINE_READ_OFFSETS`].
const INLINE_READ_BYTES: usize = 1 << 20;

/// The built-in log as a storage engine. Cheap to clone.
#[derive(Clone)]
pub struct FileStorage {
    log: Arc<Log>,
}

impl FileStorage {
    /// Wraps an opened log.
    #[must_use]
    pub fn new(log: Arc<Log>) -> Self {
        Self { log }
    }

    fn partition(&self, name: &TopicName, partition: u32) -> StorageResult<Arc<log::Partition>> {
        Ok(self.log.topic(name)?.partition(partition)?)
    }

    /// Runs blocking log work on the blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Log) -> log::Result<T> + Send + 'static,
    ) -> StorageResult<T> {
        let log = Arc::clone(&self.log);
        match tokio::task::spawn_blocking(move || work(&log)).await {
            Ok(result) => Ok(result?),
            Err(e) => Err(StorageError::Internal(Box::new(e))),
        }
    }
}

impl Storage for FileStorage {
    async fn create_topic(
        &self,
        name: &TopicName,
        partitions: u32,
        config: TopicConfig,
    ) -> StorageResult<()> {
        let name = name.clone();
        self.blocking(move |log| {
            log.create_topic(&name, partitions, to_log(&config))
                .map(drop)
        })
        .await
    }

    async fn delete_topic(&self, name: &TopicName) -> StorageResult<()> {
        let name = name.clone();
        self.blocking(move |log| log.delete_topic(&name)).await
    }

    async fn alter_topic_config(&self, name: &TopicName, config: TopicConfig) -> StorageResult<()> {
        let name = name.clone();
        self.blocking(move |log| log.alter_topic_config(&name, to_log(&config)))
            .await
    }

    fn topic(&self, name: &TopicName) -> StorageResult<TopicMeta> {
        Ok(meta(&self.log.topic(name)?))
    }

    fn topics(&self) -> Vec<TopicMeta> {
        self.log.topics().iter().map(meta).collect()
    }

    fn offsets(&self, name: &TopicName, partition: u32) -> StorageResult<PartitionOffsets> {
        let p = self.partition(name, partition)?;
        Ok(PartitionOffsets {
            start: p.start_offset(),
            end: p.end_offset(),
        })
    }

    async fn append(
        &self,
        name: &TopicName,
        partition: u32,
        records: &[Record],
    ) -> StorageResult<u64> {
        let appended = self.partition(name, partition)?.append(records).await;
        appended.map_err(|e| match e {
            // The log cut the partial batch off; the client learns the disk is full (507).
            log::Error::Io { source, .. } if source.kind() == std::io::ErrorKind::StorageFull => {
                StorageError::NoSpace {
                    topic: name.clone(),
                    partition,
                }
            }
            e => e.into(),
        })
    }

    async fn read(
        &self,
        name: &TopicName,
        partition: u32,
        offset: u64,
        max_records: usize,
        max_bytes: usize,
    ) -> StorageResult<FetchResult> {
        let p = self.partition(name, partition)?;
        let near_tail = offset.saturating_add(INLINE_READ_OFFSETS) >= p.end_offset();
        let read = if near_tail && max_bytes <= INLINE_READ_BYTES && p.index_ready_for(offset) {
            p.read(offset, max_records, max_bytes)?
        } else {
            let task = tokio::task::spawn_blocking(move || p.read(offset, max_records, max_bytes));
            task.await
                .map_err(|e| StorageError::Internal(Box::new(e)))??
        };
        Ok(FetchResult {
            records: read.records,
            next_offset: read.next_offset,
        })
    }

    async fn wait_for(
        &self,
        name: &TopicName,
        partition: u32,
        offset: u64,
        timeout: Duration,
    ) -> StorageResult<bool> {
        Ok(self
            .partition(name, partition)?
            .wait_for(offset, timeout)
            .await)
    }

    async fn offset_for_timestamp(
        &self,
        name: &TopicName,
        partition: u32,
        timestamp_ms: i64,
    ) -> StorageResult<Option<u64>> {
        let p = self.partition(name, partition)?;
        let task = tokio::task::spawn_blocking(move || p.offset_for_timestamp(timestamp_ms));
        Ok(task
            .await
            .map_err(|e| StorageError::Internal(Box::new(e)))??)
    }

    fn default_topic_config(&self) -> TopicConfig {
        from_log(&log::TopicConfig::defaults(self.log.config()))
    }

    async fn maintain(&self, now_ms: i64) -> StorageResult<MaintenanceReport> {
        let report = self.blocking(move |log| log.maintain(now_ms)).await?;
        Ok(MaintenanceReport {
            segments_rolled: report.segments_rolled,
            segments_deleted: report.segments_deleted,
            segments_compacted: report.segments_compacted,
            records_removed: report.records_removed,
        })
    }

    async fn close(&self) -> StorageResult<()> {
        Ok(self.log.close().await?)
    }
}

fn meta(topic: &Arc<log::Topic>) -> TopicMeta {
    TopicMeta {
        name: topic.name().clone(),
        partitions: topic.partition_count(),
        config: from_log(&topic.config()),
    }
}

fn to_log(c: &TopicConfig) -> log::TopicConfig {
    log::TopicConfig {
        retention_ms: c.retention_ms,
        retention_bytes: c.retention_bytes,
        cleanup_policy: match c.cleanup_policy {
            CleanupPolicy::Delete => log::CleanupPolicy::Delete,
            CleanupPolicy::Compact => log::CleanupPolicy::Compact,
        },
        max_message_bytes: c.max_message_bytes,
        segment_bytes: c.segment_bytes,
        segment_ms: c.segment_ms,
        delete_retention_ms: c.delete_retention_ms,
    }
}

fn from_log(c: &log::TopicConfig) -> TopicConfig {
    TopicConfig {
        retention_ms: c.retention_ms,
        retention_bytes: c.retention_bytes,
        cleanup_policy: match c.cleanup_policy {
            log::CleanupPolicy::Delete => CleanupPolicy::Delete,
            log::CleanupPolicy::Compact => CleanupPolicy::Compact,
        },
        max_message_bytes: c.max_message_bytes,
        segment_bytes: c.segment_bytes,
        segment_ms: c.segment_ms,
        delete_retention_ms: c.delete_retention_ms,
    }
}

impl From<log::Error> for StorageError {
    fn from(e: log::Error) -> Self {
        use log::Error as L;
        match e {
            L::UnknownTopic { topic } => Self::UnknownTopic { topic },
            L::TopicExists { topic } => Self::TopicExists { topic },
            L::UnknownPartition {
                topic,
                partition,
                partitions,
            } => Self::UnknownPartition {
                topic,
                partition,
                partitions,
            },
            L::OffsetOutOfRange {
                topic,
                partition,
                requested,
                start,
                end,
            } => Self::OffsetOutOfRange {
                topic,
                partition,
                requested,
                start,
                end,
            },
            L::InvalidConfig { field, problem } => Self::InvalidConfig { field, problem },
            L::BatchTooLarge { size, limit } => Self::BatchTooLarge { size, limit },
            L::Poisoned { topic, partition } => Self::Poisoned { topic, partition },
            L::Closed { topic, partition } => Self::Closed { topic, partition },
            e @ (L::Io { .. } | L::Corrupt { .. }) => Self::Internal(Box::new(e)),
        }
    }
}
