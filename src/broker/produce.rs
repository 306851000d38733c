//! Produce: validate a whole request, pick partitions, append, report offsets.
//!
//! A request is all-or-nothing with respect to validation: every record is checked (size,
//! partition) before anything is appended, so a refused request leaves every end offset where
//! it was. Records are grouped per partition and each group is appended as one batch, so
//! per-partition order follows request order. With an `Idempotency-Key` the request follows
//! the protocol of [`super::idempotency`].

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use futures_util::future::join_all;
use serde::Serialize;

use super::idempotency::{BATCH_HEADER, Entry, Progress, Slot, fingerprint};
use super::storage::{Storage, TopicMeta};
use super::{Broker, Error, Prechecked, Result, now_ms};
use crate::event::{ATTR_KEY_JSON, ATTR_VALUE_JSON, Header, Record, TopicName, partition_for_key};

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
    /// The record failed a data-contract rule that sends failures to a dead-letter topic:
    /// partition and offset are in that topic.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dead_lettered: bool,
}

/// A validated request: one batch per partition, with the request index of each record.
pub(super) struct Plan {
    groups: BTreeMap<u32, (Vec<usize>, Vec<Record>)>,
    len: usize,
    /// The round-robin cursor unkeyed records were spread from.
    cursor: u64,
}

impl Plan {
    /// Offsets in request order, from each partition's base offset.
    pub(super) fn offsets(&self, bases: &BTreeMap<u32, u64>) -> Vec<ProducedOffset> {
        let mut offsets = vec![
            ProducedOffset {
                partition: 0,
                offset: 0,
                dead_lettered: false,
            };
            self.len
        ];
        for (partition, (indexes, _)) in &self.groups {
            let base = bases.get(partition).copied().unwrap_or_default();
            for (offset, index) in (base..).zip(indexes) {
                offsets[*index] = ProducedOffset {
                    partition: *partition,
                    offset,
                    dead_lettered: false,
                };
            }
        }
        offsets
    }
}

impl Broker {
    /// Appends `records` to `topic`, returning their offsets in request order.
    ///
    /// With an `idempotency_key` seen for this topic within the window, returns the offsets of
    /// the first request and appends nothing (or only what a crash kept from landing).
    ///
    /// # Errors
    /// Unknown or internal topic, empty request, a record too large or naming a missing
    /// partition (nothing appended); a reused key with a different request; storage failures.
    pub async fn produce(
        &self,
        topic: &str,
        records: Vec<ProduceRecord>,
        idempotency_key: Option<&str>,
    ) -> Result<Vec<ProducedOffset>> {
        self.produce_checked(topic, records, idempotency_key, &Prechecked::none())
            .await
    }

    /// [`Broker::produce`] of records whose values were checked while they were decoded
    /// ([`super::ValueCheck`]): those that passed are not checked again.
    ///
    /// # Errors
    /// As [`Broker::produce`].
    pub async fn produce_checked(
        &self,
        topic: &str,
        records: Vec<ProduceRecord>,
        idempotency_key: Option<&str>,
        prechecked: &Prechecked,
    ) -> Result<Vec<ProducedOffset>> {
        let name = self.check_request(topic, records.len())?;
        let mut records = records;
        let dead = self.check_schemas(&name, &mut records, prechecked)?;
        if !dead.is_empty() {
            return self
                .produce_with_dead_letters(&name, records, dead, idempotency_key)
                .await;
        }
        let Some(key) = idempotency_key else {
            let plan = self.plan(&name, records, None).await?;
            let bases = self.append_groups(&name, &plan, &BTreeMap::new()).await?;
            return Ok(plan.offsets(&bases));
        };
        let slot = self.inner.idempotency.lock(&name, key).await;
        self.produce_idempotent(&name, records, &slot).await
    }

    /// What every produce request must be, whatever its records hold: a non-internal topic
    /// name, 1 to `max_records_per_request` records.
    pub(super) fn check_request(&self, topic: &str, count: usize) -> Result<TopicName> {
        self.authorize(super::ResourceType::Topic, topic, super::Operation::Write)?;
        let name = TopicName::new(topic)?;
        if name.is_internal() {
            return Err(Error::InternalTopic(name));
        }
        if count == 0 {
            return Err(Error::EmptyProduce);
        }
        let limit = self.inner.config.max_records_per_request;
        if count > limit {
            return Err(Error::TooManyRecords { count, limit });
        }
        Ok(name)
    }

    /// Appends the records a rule sent to dead-letter topics there, the rest to `name`, and
    /// merges the offsets in request order.
    async fn produce_with_dead_letters(
        &self,
        name: &TopicName,
        records: Vec<ProduceRecord>,
        dead: Vec<super::topic_schemas::DeadLetter>,
        idempotency_key: Option<&str>,
    ) -> Result<Vec<ProducedOffset>> {
        let len = records.len();
        let mut offsets: Vec<Option<ProducedOffset>> = vec![None; len];
        let mut kept_indexes = Vec::new();
        let mut kept = Vec::new();
        for (index, record) in records.into_iter().enumerate() {
            if !dead.iter().any(|d| d.index == index) {
                kept_indexes.push(index);
                kept.push(record);
            }
        }
        for letter in dead {
            self.ensure_topic(&letter.topic, 1).await?;
            let produced = ProduceRecord {
                record: letter.record,
                partition: None,
            };
            let plan = self.plan(&letter.topic, vec![produced], None).await?;
            let bases = self
                .append_groups(&letter.topic, &plan, &BTreeMap::new())
                .await?;
            if let Some(mut at) = plan.offsets(&bases).into_iter().next() {
                at.dead_lettered = true;
                offsets[letter.index] = Some(at);
            }
        }
        if !kept.is_empty() {
            let landed = match idempotency_key {
                None => {
                    let plan = self.plan(name, kept, None).await?;
                    let bases = self.append_groups(name, &plan, &BTreeMap::new()).await?;
                    plan.offsets(&bases)
                }
                Some(key) => {
                    let slot = self.inner.idempotency.lock(name, key).await;
                    self.produce_idempotent(name, kept, &slot).await?
                }
            };
            for (index, at) in kept_indexes.into_iter().zip(landed) {
                offsets[index] = Some(at);
            }
        }
        Ok(offsets.into_iter().flatten().collect())
    }

    async fn produce_idempotent(
        &self,
        name: &TopicName,
        records: Vec<ProduceRecord>,
        slot: &Slot<'_>,
    ) -> Result<Vec<ProducedOffset>> {
        let fingerprint = fingerprint(&records);
        let existing = slot.get();
        if let Some(entry) = &existing
            && entry.fingerprint != fingerprint
        {
            return Err(Error::IdempotencyKeyReused(slot.client_key.clone()));
        }
        let cursor = existing.as_ref().map(|e| e.cursor);
        let mut plan = self.plan(name, records, cursor).await?;
        let cursor = plan.cursor;
        let landed = match existing.map(|e| e.progress) {
            Some(Progress::Done { ranges }) => {
                let bases = ranges.iter().map(|(p, base, _)| (*p, *base)).collect();
                return Ok(plan.offsets(&bases));
            }
            Some(Progress::Pending { ends }) => self.find_landed(name, &plan, &ends, slot).await?,
            None => {
                let mut ends = Vec::with_capacity(plan.groups.len());
                for partition in plan.groups.keys() {
                    ends.push((
                        *partition,
                        self.inner.storage.offsets(name, *partition)?.end,
                    ));
                }
                let progress = Progress::Pending { ends };
                slot.write(Entry {
                    fingerprint: fingerprint.clone(),
                    cursor,
                    progress,
                })
                .await?;
                BTreeMap::new()
            }
        };
        for (_, batch) in plan.groups.values_mut() {
            if let Some(first) = batch.first_mut() {
                first.headers.push(Header {
                    name: BATCH_HEADER.to_owned(),
                    value: bytes::Bytes::from(slot.client_key.clone()),
                });
            }
        }
        let bases = self.append_groups(name, &plan, &landed).await?;
        let ranges = plan
            .groups
            .iter()
            .map(|(p, (indexes, _))| {
                (
                    *p,
                    bases.get(p).copied().unwrap_or_default(),
                    indexes.len() as u64,
                )
            })
            .collect();
        slot.write(Entry {
            fingerprint,
            cursor,
            progress: Progress::Done { ranges },
        })
        .await?;
        Ok(plan.offsets(&bases))
    }

    /// For a request interrupted before its `done` entry: the base offset of each batch that
    /// landed, found by its header at or after the partition's recorded end.
    async fn find_landed(
        &self,
        name: &TopicName,
        plan: &Plan,
        ends: &[(u32, u64)],
        slot: &Slot<'_>,
    ) -> Result<BTreeMap<u32, u64>> {
        let storage = &self.inner.storage;
        let mut landed = BTreeMap::new();
        for (partition, from) in ends {
            if !plan.groups.contains_key(partition) {
                continue;
            }
            let offsets = storage.offsets(name, *partition)?;
            let mut at = (*from).max(offsets.start);
            'scan: while at < offsets.end {
                let read = storage
                    .read(name, *partition, at, usize::MAX, SCAN_BYTES)
                    .await?;
                for stored in &read.records {
                    let marked =
                        stored.record.headers.iter().any(|h| {
                            h.name == BATCH_HEADER && h.value == slot.client_key.as_bytes()
                        });
                    if marked {
                        landed.insert(*partition, stored.offset);
                        break 'scan;
                    }
                }
                if read.next_offset <= at {
                    break;
                }
                at = read.next_offset;
            }
        }
        Ok(landed)
    }

    /// Appends every group not in `landed`, concurrently; returns every group's base offset.
    pub(super) async fn append_groups(
        &self,
        name: &TopicName,
        plan: &Plan,
        landed: &BTreeMap<u32, u64>,
    ) -> Result<BTreeMap<u32, u64>> {
        let storage = &self.inner.storage;
        let appends = plan
            .groups
            .iter()
            .filter(|(p, _)| !landed.contains_key(p))
            .map(|(partition, (_, batch))| async move {
                let base = storage.append(name, *partition, batch).await?;
                Ok::<_, Error>((*partition, base))
            });
        let mut bases = landed.clone();
        for appended in join_all(appends).await {
            let (partition, base) = appended?;
            bases.insert(partition, base);
        }
        Ok(bases)
    }

    /// Validates every record and groups them per partition, before anything is appended.
    /// Unkeyed records are spread round-robin from `cursor` (a fresh one when `None`).
    pub(super) async fn plan(
        &self,
        name: &TopicName,
        mut records: Vec<ProduceRecord>,
        cursor: Option<u64>,
    ) -> Result<Plan> {
        let topic = self.topic_for_produce(name).await?;
        let cursor =
            cursor.unwrap_or_else(|| self.inner.round_robin.fetch_add(1, Ordering::Relaxed));
        let partitions = assign_partitions(&topic, &records, cursor)?;
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
        Ok(Plan {
            groups,
            len: records.len(),
            cursor,
        })
    }

    async fn topic_for_produce(&self, name: &TopicName) -> Result<TopicMeta> {
        if self.inner.config.auto_create_topics {
            self.ensure_topic(name, self.inner.config.default_partitions)
                .await?;
        }
        Ok(self.inner.storage.topic(name)?)
    }
}

/// Largest read while looking for an interrupted request's batch.
const SCAN_BYTES: usize = 4 << 20;

/// Checks every record and picks its partition: explicit, by key (murmur2), or round-robin
/// from `cursor` for unkeyed records.
fn assign_partitions(
    topic: &TopicMeta,
    records: &[ProduceRecord],
    cursor: u64,
) -> Result<Vec<u32>> {
    let count = topic.partitions;
    let limit = topic.config.max_message_bytes;
    let mut next_unkeyed = cursor;
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
                    topic: topic.name.clone(),
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

impl Broker {
    /// Appends one batch to an explicit partition of any topic, for trusted in-process writers
    /// (the pipeline): no partitioner and no internal-topic guard; storage's own limits apply.
    ///
    /// # Errors
    /// Unknown topic or partition; storage errors.
    pub async fn append_to(&self, topic: &str, partition: u32, records: &[Record]) -> Result<u64> {
        self.authorize(super::ResourceType::Topic, topic, super::Operation::Write)?;
        let topic = TopicName::new(topic)?;
        let checked = checked_json_flags(records);
        if self.topic_schema(topic.as_str()).is_some() {
            let mut owned = checked.unwrap_or_else(|| records.to_vec());
            let dead = self.check_schemas(&topic, &mut owned, &Prechecked::none())?;
            // Partition-exact appends cannot drop records from their batch: a rule's
            // dead-letter routing is for produce requests; here it refuses the batch.
            if let Some(first) = dead.into_iter().next() {
                return Err(Error::InvalidRecord {
                    index: first.index,
                    field: "value",
                    violation: Box::new(first.violation),
                });
            }
            return Ok(self.inner.storage.append(&topic, partition, &owned).await?);
        }
        let records = checked.as_deref().unwrap_or(records);
        Ok(self
            .inner
            .storage
            .append(&topic, partition, records)
            .await?)
    }
}

/// A plugin may mark any bytes as JSON; front ends embed JSON-marked payloads verbatim, so a
/// flag on bytes that are not JSON text is cleared here (the bytes are then served as
/// base64). `None` when every flag is honest, the common case, which costs one parse.
fn checked_json_flags(records: &[Record]) -> Option<Vec<Record>> {
    let is_json = |b: Option<&bytes::Bytes>| {
        b.is_some_and(|b| serde_json::from_slice::<serde::de::IgnoredAny>(b).is_ok())
    };
    let honest = |r: &Record| {
        (r.attributes & ATTR_KEY_JSON == 0 || is_json(r.key.as_ref()))
            && (r.attributes & ATTR_VALUE_JSON == 0 || is_json(r.value.as_ref()))
    };
    if records.iter().all(honest) {
        return None;
    }
    let fixed = records
        .iter()
        .map(|r| {
            let mut r = r.clone();
            if r.attributes & ATTR_KEY_JSON != 0 && !is_json(r.key.as_ref()) {
                r.attributes &= !ATTR_KEY_JSON;
            }
            if r.attributes & ATTR_VALUE_JSON != 0 && !is_json(r.value.as_ref()) {
                r.attributes &= !ATTR_VALUE_JSON;
            }
            r
        })
        .collect();
    Some(fixed)
}
