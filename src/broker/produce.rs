//! Produce: validate a whole request, pick partitions, append, report offsets.
//!
//! A request is all-or-nothing with respect to validation: every record is checked (size,
//! partition) before anything is appended, so a refused request leaves every end offset where
//! it was. Records are grouped per partition and each group is appended as one batch, so
//! per-partition order follows request order.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use futures_util::future::join_all;
use serde::Serialize;

use super::{Broker, Error, Result, now_ms};
use crate::event::{Record, TopicName, partition_for_key};
use crate::log::{self, Topic};

/// A record as a producer hands it over, with an optional explicit partition.
#[derive(Debug, Clone)]
pub struct ProduceRecord {
    /// The record; a zero timestamp means "now".
    pub record: Record,
    /// Explicit partition, overriding the partitioner.
    pub partition: Option<u32>,
}

/// Where one produced record landed.
#[derive(Debug, Clone, Copy, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct ProducedOffset {
    /// Partition number.
    pub partition: u32,
    /// Offset within it.
    pub offset: u64,
}

impl Broker {
    /// Appends `records` to `topic`, returning their offsets in request order.
    ///
    /// With an `idempotency_key` seen for this topic within the window, returns the offsets of
    /// the first request and appends nothing.
    ///
    /// # Errors
    /// Unknown or internal topic, empty request, a record too large or naming a missing
    /// partition (nothing appended); storage failures.
    pub async fn produce(
        &self,
        topic: &str,
        records: Vec<ProduceRecord>,
        idempotency_key: Option<&str>,
    ) -> Result<Vec<ProducedOffset>> {
        let name = TopicName::new(topic)?;
        if name.is_internal() {
            return Err(Error::InternalTopic(name));
        }
        let Some(key) = idempotency_key else {
            return self.produce_unchecked(&name, records).await;
        };
        let slot = self.inner.idempotency.lock(&name, key).await;
        if let Some(offsets) = slot.get() {
            return Ok(offsets);
        }
        let offsets = self.produce_unchecked(&name, records).await?;
        slot.remember(offsets.clone(), now_ms()).await?;
        Ok(offsets)
    }

    async fn produce_unchecked(
        &self,
        name: &TopicName,
        mut records: Vec<ProduceRecord>,
    ) -> Result<Vec<ProducedOffset>> {
        if records.is_empty() {
            return Err(Error::EmptyProduce);
        }
        let topic = self.topic_for_produce(name)?;
        let partitions = self.assign_partitions(&topic, &records)?;
        let now = now_ms();
        let mut groups: BTreeMap<u32, (Vec<usize>, Vec<Record>)> = BTreeMap::new();
        for (index, (produced, partition)) in records.iter_mut().zip(&partitions).enumerate() {
            let mut record = std::mem::take(&mut produced.record);
            if record.timestamp == 0 {
                record.timestamp = now;
            }
            let group = groups.entry(*partition).or_default();
            group.0.push(index);
            group.1.push(record);
        }
        let appends = groups.into_iter().map(|(partition, (indexes, batch))| {
            let topic = &topic;
            async move {
                let base = topic.partition(partition)?.append(&batch).await?;
                Ok::<_, log::Error>((partition, base, indexes))
            }
        });
        let mut offsets = vec![
            ProducedOffset {
                partition: 0,
                offset: 0
            };
            partitions.len()
        ];
        for appended in join_all(appends).await {
            let (partition, base, indexes) = appended?;
            for (offset, index) in (base..).zip(indexes) {
                offsets[index] = ProducedOffset { partition, offset };
            }
        }
        Ok(offsets)
    }

    fn topic_for_produce(&self, name: &TopicName) -> Result<std::sync::Arc<Topic>> {
        match self.inner.log.topic(name) {
            Err(log::Error::UnknownTopic { .. }) if self.inner.config.auto_create_topics => {
                let config = log::TopicConfig::defaults(self.inner.log.config());
                let created =
                    self.inner
                        .log
                        .create_topic(name, self.inner.config.default_partitions, config);
                match created {
                    // Two producers may race to create it; either way it exists now.
                    Err(log::Error::TopicExists { .. }) => Ok(self.inner.log.topic(name)?),
                    other => Ok(other?),
                }
            }
            other => Ok(other?),
        }
    }

    /// Validates every record and picks its partition, before anything is appended.
    fn assign_partitions(&self, topic: &Topic, records: &[ProduceRecord]) -> Result<Vec<u32>> {
        let count = topic.partition_count();
        let limit = topic.config().max_message_bytes;
        let mut next_unkeyed = self.inner.round_robin.fetch_add(1, Ordering::Relaxed);
        let mut partitions = Vec::with_capacity(records.len());
        for (index, produced) in records.iter().enumerate() {
            let size = produced.record.payload_len();
            if size > limit as usize {
                return Err(Error::RecordTooLarge { index, size, limit });
            }
            let partition = match (produced.partition, &produced.record.key) {
                (Some(p), _) if p >= count => {
                    return Err(Error::RecordPartition {
                        index,
                        topic: topic.name().clone(),
                        partition: p,
                        partitions: count,
                    });
                }
                (Some(p), _) => p,
                (None, Some(key)) => partition_for_key(key, count),
                (None, None) => {
                    next_unkeyed = next_unkeyed.wrapping_add(1);
                    u32::try_from(next_unkeyed % u64::from(count)).unwrap_or(0)
                }
            };
            partitions.push(partition);
        }
        Ok(partitions)
    }
}

impl Broker {
    /// Appends one batch to an explicit partition of any topic, for trusted in-process writers
    /// (the pipeline): no partitioner and no internal-topic guard; the log's own limits apply.
    ///
    /// # Errors
    /// Unknown topic or partition; storage errors.
    pub async fn append_to(&self, topic: &str, partition: u32, records: &[Record]) -> Result<u64> {
        let topic = self.inner.log.topic(&TopicName::new(topic)?)?;
        Ok(topic.partition(partition)?.append(records).await?)
    }
}
