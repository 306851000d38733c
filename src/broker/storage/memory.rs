//! The memory engine (`memory://`): topics held in process memory, for tests and
//! `--ephemeral` demos. Same contract as the file engine — dense offsets, all-or-nothing
//! appends, long-poll wake-ups, retention and compaction — but nothing survives the process
//! and memory grows with the data kept (retention bounds it).
//!
//! Owns its maps only; it must not know about files or any front end.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use tokio::sync::watch;

use super::{
    CleanupPolicy, FetchResult, MaintenanceReport, PartitionOffsets, Storage, StorageError,
    StorageResult, TopicConfig, TopicMeta,
};
use crate::event::{Record, StoredRecord, TopicName};

/// Default segment size reported to new topics (there are no segments here).
const SEGMENT_BYTES: u64 = 128 << 20;
/// Default segment age reported to new topics.
const SEGMENT_MS: i64 = 7 * 24 * 3_600_000;

/// The in-memory engine. Cheap to clone; clones share the same topics.
#[derive(Clone, Default)]
pub struct MemoryStorage {
    topics: Arc<RwLock<BTreeMap<TopicName, Arc<Topic>>>>,
    closed: Arc<AtomicBool>,
}

struct Topic {
    config: RwLock<TopicConfig>,
    partitions: Vec<Partition>,
}

struct Partition {
    log: Mutex<Log>,
    /// The high watermark, watched by long polls.
    end: watch::Sender<u64>,
}

#[derive(Default)]
struct Log {
    /// Stored records, ascending by offset (gaps after compaction).
    records: VecDeque<StoredRecord>,
    start: u64,
    bytes: usize,
    closed: bool,
    /// End offset at the last compaction: unchanged partitions are skipped.
    compacted_at: u64,
}

impl MemoryStorage {
    /// An empty engine.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The same topics behind a fresh handle that is not closed: what a process restart would
    /// see if memory survived it (tests use it to reopen a broker).
    #[must_use]
    pub fn reopened(&self) -> Self {
        Self {
            topics: Arc::clone(&self.topics),
            closed: Arc::new(AtomicBool::new(false)),
        }
    }

    fn get(&self, name: &TopicName) -> StorageResult<Arc<Topic>> {
        self.topics
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| StorageError::UnknownTopic {
                topic: name.clone(),
            })
    }

    fn with_partition<T>(
        &self,
        name: &TopicName,
        partition: u32,
        f: impl FnOnce(&Topic, &Partition) -> StorageResult<T>,
    ) -> StorageResult<T> {
        let topic = self.get(name)?;
        let p = usize::try_from(partition)
            .ok()
            .and_then(|i| topic.partitions.get(i))
            .ok_or_else(|| StorageError::UnknownPartition {
                topic: name.clone(),
                partition,
                partitions: topic.count(),
            })?;
        f(&topic, p)
    }
}

impl Topic {
    fn count(&self) -> u32 {
        u32::try_from(self.partitions.len()).unwrap_or(u32::MAX)
    }
}

impl Storage for MemoryStorage {
    async fn create_topic(
        &self,
        name: &TopicName,
        partitions: u32,
        config: TopicConfig,
    ) -> StorageResult<()> {
        validate(&config)?;
        if partitions == 0 {
            return Err(StorageError::InvalidConfig {
                field: "partitions".into(),
                problem: "must be at least 1".into(),
            });
        }
        let mut topics = self.topics.write();
        if topics.contains_key(name) {
            return Err(StorageError::TopicExists {
                topic: name.clone(),
            });
        }
        let partitions = (0..partitions)
            .map(|_| Partition {
                log: Mutex::new(Log::default()),
                end: watch::Sender::new(0),
            })
            .collect();
        let topic = Topic {
            config: RwLock::new(config),
            partitions,
        };
        topics.insert(name.clone(), Arc::new(topic));
        Ok(())
    }

    async fn delete_topic(&self, name: &TopicName) -> StorageResult<()> {
        let topic = self
            .topics
            .write()
            .remove(name)
            .ok_or_else(|| StorageError::UnknownTopic {
                topic: name.clone(),
            })?;
        for p in &topic.partitions {
            p.log.lock().closed = true;
        }
        Ok(())
    }

    async fn alter_topic_config(&self, name: &TopicName, config: TopicConfig) -> StorageResult<()> {
        validate(&config)?;
        *self.get(name)?.config.write() = config;
        Ok(())
    }

    fn topic(&self, name: &TopicName) -> StorageResult<TopicMeta> {
        let topic = self.get(name)?;
        Ok(TopicMeta {
            name: name.clone(),
            partitions: topic.count(),
            config: topic.config.read().clone(),
        })
    }

    fn topics(&self) -> Vec<TopicMeta> {
        let names: Vec<TopicName> = self.topics.read().keys().cloned().collect();
        names.iter().filter_map(|n| self.topic(n).ok()).collect()
    }

    fn offsets(&self, name: &TopicName, partition: u32) -> StorageResult<PartitionOffsets> {
        self.with_partition(name, partition, |_, p| {
            let log = p.log.lock();
            Ok(PartitionOffsets {
                start: log.start,
                end: *p.end.borrow(),
            })
        })
    }

    async fn append(
        &self,
        name: &TopicName,
        partition: u32,
        records: &[Record],
    ) -> StorageResult<u64> {
        self.with_partition(name, partition, |topic, p| {
            let limit = topic.config.read().max_message_bytes as usize;
            if let Some(r) = records.iter().find(|r| r.payload_len() > limit) {
                return Err(StorageError::BatchTooLarge {
                    size: r.payload_len(),
                    limit,
                });
            }
            let mut log = p.log.lock();
            let base = *p.end.borrow();
            if log.closed || self.closed.load(Ordering::Acquire) {
                return Err(StorageError::Closed {
                    topic: name.clone(),
                    partition,
                });
            }
            let now = crate::broker::now_ms();
            for (offset, record) in (base..).zip(records) {
                let mut record = record.clone();
                if record.timestamp == 0 {
                    record.timestamp = now;
                }
                log.bytes += record.payload_len();
                log.records.push_back(StoredRecord { offset, record });
            }
            // Published under the partition lock so wake-ups see offsets in order.
            p.end.send_replace(base + records.len() as u64);
            Ok(base)
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
        self.with_partition(name, partition, |_, p| {
            let log = p.log.lock();
            let end = *p.end.borrow();
            if offset < log.start || offset > end {
                return Err(StorageError::OffsetOutOfRange {
                    topic: name.clone(),
                    partition,
                    requested: offset,
                    start: log.start,
                    end,
                });
            }
            let first = log.records.partition_point(|r| r.offset < offset);
            let mut records = Vec::new();
            let mut bytes = 0;
            for stored in log.records.range(first..) {
                let size = stored.record.payload_len();
                if records.len() >= max_records || (!records.is_empty() && bytes + size > max_bytes)
                {
                    break;
                }
                bytes += size;
                records.push(stored.clone());
            }
            let next_offset = records.last().map_or(end, |r| r.offset + 1);
            let next_offset = if max_records == 0 {
                offset
            } else {
                next_offset
            };
            Ok(FetchResult {
                records,
                next_offset,
            })
        })
    }

    async fn wait_for(
        &self,
        name: &TopicName,
        partition: u32,
        offset: u64,
        timeout: Duration,
    ) -> StorageResult<bool> {
        let mut rx = self.with_partition(name, partition, |_, p| Ok(p.end.subscribe()))?;
        let arrived = tokio::time::timeout(timeout, rx.wait_for(|end| *end > offset)).await;
        Ok(matches!(arrived, Ok(Ok(_))))
    }

    async fn offset_for_timestamp(
        &self,
        name: &TopicName,
        partition: u32,
        timestamp_ms: i64,
    ) -> StorageResult<Option<u64>> {
        self.with_partition(name, partition, |_, p| {
            let log = p.log.lock();
            Ok(log
                .records
                .iter()
                .find(|r| r.record.timestamp >= timestamp_ms)
                .map(|r| r.offset))
        })
    }

    fn default_topic_config(&self) -> TopicConfig {
        TopicConfig::defaults(SEGMENT_BYTES, SEGMENT_MS)
    }

    async fn maintain(&self, now_ms: i64) -> StorageResult<MaintenanceReport> {
        let mut report = MaintenanceReport::default();
        let topics: Vec<Arc<Topic>> = self.topics.read().values().cloned().collect();
        for topic in topics {
            let config = topic.config.read().clone();
            for p in &topic.partitions {
                let end = *p.end.borrow();
                let mut log = p.log.lock();
                match config.cleanup_policy {
                    CleanupPolicy::Delete => log.expire(&config, now_ms, end, &mut report),
                    CleanupPolicy::Compact => log.compact(&config, now_ms, end, &mut report),
                }
            }
        }
        Ok(report)
    }

    async fn close(&self) -> StorageResult<()> {
        self.closed.store(true, Ordering::Release);
        Ok(())
    }
}

impl Log {
    /// Retention: drops the oldest records past `retention.ms` or `retention.bytes`; the
    /// last record always stays, as the file engine's active segment does.
    fn expire(
        &mut self,
        config: &TopicConfig,
        now_ms: i64,
        end: u64,
        report: &mut MaintenanceReport,
    ) {
        let too_old = |r: &StoredRecord| {
            config.retention_ms >= 0
                && now_ms.saturating_sub(r.record.timestamp) > config.retention_ms
        };
        let budget = usize::try_from(config.retention_bytes).ok();
        while self.records.len() > 1 {
            let Some(first) = self.records.front() else {
                break;
            };
            let over_bytes = budget.is_some_and(|b| self.bytes > b);
            if !too_old(first) && !over_bytes {
                break;
            }
            self.bytes -= first.record.payload_len();
            self.records.pop_front();
            report.segments_deleted += 1;
        }
        self.start = self.records.front().map_or(end, |r| r.offset);
    }

    /// Compaction: keeps the latest record per key (and the last record); tombstones older
    /// than `delete.retention.ms` go too. Skipped when nothing was appended since.
    fn compact(
        &mut self,
        config: &TopicConfig,
        now_ms: i64,
        end: u64,
        report: &mut MaintenanceReport,
    ) {
        if self.compacted_at == end {
            return;
        }
        self.compacted_at = end;
        let mut latest: HashMap<Bytes, u64> = HashMap::new();
        for r in &self.records {
            if let Some(key) = &r.record.key {
                latest.insert(key.clone(), r.offset);
            }
        }
        let last = self.records.back().map(|r| r.offset);
        let before = self.records.len();
        self.records.retain(|r| {
            if Some(r.offset) == last {
                return true;
            }
            let Some(key) = &r.record.key else {
                return true;
            };
            let newest = latest.get(key) == Some(&r.offset);
            let expired_tombstone = r.record.value.is_none()
                && now_ms.saturating_sub(r.record.timestamp) > config.delete_retention_ms;
            newest && !expired_tombstone
        });
        let removed = before - self.records.len();
        if removed > 0 {
            self.bytes = self.records.iter().map(|r| r.record.payload_len()).sum();
            report.segments_compacted += 1;
            report.records_removed += removed as u64;
        }
    }
}

fn validate(config: &TopicConfig) -> StorageResult<()> {
    let bad = |field: &str, problem: &str| {
        Err(StorageError::InvalidConfig {
            field: field.into(),
            problem: problem.into(),
        })
    };
    if config.max_message_bytes == 0 {
        return bad("max.message.bytes", "must be at least 1");
    }
    if config.segment_bytes == 0 || config.segment_ms <= 0 {
        return bad(
            "segment.bytes",
            "segment.bytes and segment.ms must be positive",
        );
    }
    Ok(())
}
