//! Fetch: read a partition from an offset, waiting for new records at the end (long poll).

use std::time::Duration;

use super::{Broker, Result};
use crate::event::TopicName;
use crate::log::{Partition, ReadResult};

/// Where a fetch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    /// The first offset still stored.
    Earliest,
    /// The current end (only records appended from now on).
    Latest,
    /// An exact offset.
    At(u64),
}

impl Broker {
    /// Reads up to `max_records` / about `max_bytes` from `offset`; at the end of the partition,
    /// waits up to `wait` for new records (woken by the append path, not by polling).
    ///
    /// # Errors
    /// Unknown topic or partition; an offset outside `[start, end]`.
    pub async fn fetch(
        &self,
        topic: &str,
        partition: u32,
        offset: OffsetSpec,
        max_records: usize,
        max_bytes: usize,
        wait: Duration,
    ) -> Result<ReadResult> {
        let partition = self.partition(topic, partition)?;
        let offset = match offset {
            OffsetSpec::Earliest => partition.start_offset(),
            OffsetSpec::Latest => partition.end_offset(),
            OffsetSpec::At(n) => n,
        };
        let read = partition.read(offset, max_records, max_bytes)?;
        if !read.records.is_empty() || wait.is_zero() {
            return Ok(read);
        }
        if partition.wait_for(read.next_offset, wait).await {
            return Ok(partition.read(read.next_offset, max_records, max_bytes)?);
        }
        Ok(read)
    }

    /// The first offset whose timestamp is at or after `timestamp_ms`; the end offset when
    /// every record is older.
    ///
    /// # Errors
    /// Unknown topic or partition; storage errors.
    pub fn offset_for_timestamp(
        &self,
        topic: &str,
        partition: u32,
        timestamp_ms: i64,
    ) -> Result<u64> {
        let partition = self.partition(topic, partition)?;
        Ok(partition
            .offset_for_timestamp(timestamp_ms)?
            .unwrap_or_else(|| partition.end_offset()))
    }

    /// A partition handle, for front ends that stream (WebSocket, SSE).
    ///
    /// # Errors
    /// Invalid name, unknown topic or partition.
    pub fn partition(&self, topic: &str, partition: u32) -> Result<std::sync::Arc<Partition>> {
        let topic = self.inner.log.topic(&TopicName::new(topic)?)?;
        Ok(topic.partition(partition)?)
    }
}

impl Broker {
    /// Waits until any partition of `topic` has data at or after its position in `positions`
    /// (partitions not named count from their start), or `wait` passes. Returns whether data
    /// arrived.
    ///
    /// # Errors
    /// Invalid name, unknown topic.
    pub async fn wait_any(
        &self,
        topic: &str,
        positions: &std::collections::BTreeMap<u32, u64>,
        wait: Duration,
    ) -> Result<bool> {
        let topic = self.inner.log.topic(&TopicName::new(topic)?)?;
        let partitions = topic.partitions();
        let waits = partitions.iter().map(|p| {
            let from = positions
                .get(&p.id())
                .copied()
                .unwrap_or_else(|| p.start_offset());
            Box::pin(p.wait_for(from, wait))
        });
        let (arrived, _, _) = futures_util::future::select_all(waits).await;
        Ok(arrived)
    }

    /// Number of partitions of a topic.
    ///
    /// # Errors
    /// Invalid name, unknown topic.
    pub fn partition_count(&self, topic: &str) -> Result<u32> {
        Ok(self
            .inner
            .log
            .topic(&TopicName::new(topic)?)?
            .partition_count())
    }
}
