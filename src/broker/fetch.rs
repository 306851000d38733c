//! Fetch: read a partition from an offset, waiting for new records at the end (long poll).

use std::collections::BTreeMap;
use std::time::Duration;

use super::storage::{FetchResult, Storage};
use super::{Broker, Result};
use crate::event::TopicName;

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
    ) -> Result<FetchResult> {
        self.authorize(super::ResourceType::Topic, topic, super::Operation::Read)?;
        let name = TopicName::new(topic)?;
        let storage = &self.inner.storage;
        let offset = match offset {
            OffsetSpec::Earliest => storage.offsets(&name, partition)?.start,
            OffsetSpec::Latest => storage.offsets(&name, partition)?.end,
            OffsetSpec::At(n) => n,
        };
        let read = storage
            .read(&name, partition, offset, max_records, max_bytes)
            .await?;
        if !read.records.is_empty() || wait.is_zero() {
            return Ok(read);
        }
        if storage
            .wait_for(&name, partition, read.next_offset, wait)
            .await?
        {
            let next = read.next_offset;
            return Ok(storage
                .read(&name, partition, next, max_records, max_bytes)
                .await?);
        }
        Ok(read)
    }

    /// Waits until the partition has data at `offset` or `wait` passes; returns whether it has.
    /// Front ends that hold resources while reading (a memory budget) wait with this between
    /// zero-wait fetches instead of long-polling inside [`Broker::fetch`].
    ///
    /// # Errors
    /// Invalid name, unknown topic or partition.
    pub async fn wait_for_data(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        wait: Duration,
    ) -> Result<bool> {
        self.authorize(super::ResourceType::Topic, topic, super::Operation::Read)?;
        let name = TopicName::new(topic)?;
        Ok(self
            .inner
            .storage
            .wait_for(&name, partition, offset, wait)
            .await?)
    }

    /// The first offset whose timestamp is at or after `timestamp_ms`; the end offset when
    /// every record is older.
    ///
    /// # Errors
    /// Unknown topic or partition; storage errors.
    pub async fn offset_for_timestamp(
        &self,
        topic: &str,
        partition: u32,
        timestamp_ms: i64,
    ) -> Result<u64> {
        self.authorize(super::ResourceType::Topic, topic, super::Operation::Read)?;
        let name = TopicName::new(topic)?;
        let storage = &self.inner.storage;
        match storage
            .offset_for_timestamp(&name, partition, timestamp_ms)
            .await?
        {
            Some(offset) => Ok(offset),
            None => Ok(storage.offsets(&name, partition)?.end),
        }
    }

    /// Waits until any partition of `topic` has data at or after its position in `positions`
    /// (partitions not named count from their start), or `wait` passes. Returns whether data
    /// arrived.
    ///
    /// # Errors
    /// Invalid name, unknown topic.
    pub async fn wait_any(
        &self,
        topic: &str,
        positions: &BTreeMap<u32, u64>,
        wait: Duration,
    ) -> Result<bool> {
        let name = TopicName::new(topic)?;
        let storage = &self.inner.storage;
        let count = storage.topic(&name)?.partitions;
        let mut waits = Vec::with_capacity(count as usize);
        for p in 0..count {
            let from = match positions.get(&p) {
                Some(at) => *at,
                None => storage.offsets(&name, p)?.start,
            };
            let name = &name;
            waits.push(Box::pin(async move {
                storage.wait_for(name, p, from, wait).await
            }));
        }
        let (arrived, _, _) = futures_util::future::select_all(waits).await;
        Ok(arrived?)
    }

    /// Number of partitions of a topic.
    ///
    /// # Errors
    /// Invalid name, unknown topic.
    pub fn partition_count(&self, topic: &str) -> Result<u32> {
        Ok(self
            .inner
            .storage
            .topic(&TopicName::new(topic)?)?
            .partitions)
    }
}
