//! Live subscriptions: a cursor over some partitions of a topic that hands out records as
//! they are appended, shared by every streaming front end (Server-Sent Events, WebSocket).
//!
//! Owns where a subscription starts (earliest, latest, an offset, a time, exact per-partition
//! positions) and how it advances: it reads at the pace its caller asks (the log is the
//! buffer, so a slow subscriber holds no more than one batch) and waits for new records on the
//! append path's wake-ups, never by polling. A subscription may join a consumer group
//! ([`group`]: its partitions come and go as members do) and may run an uploaded transform
//! plugin over what it delivers ([`reshape`]). It must not know any wire format.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;

use super::filter::Filter;
use super::storage::{Storage, StorageError};
use super::{Broker, Error, Result};
use crate::event::{StoredRecord, TopicName};

mod group;
mod reshape;
mod tail;

pub use group::GroupSpec;
pub use reshape::PluginFilter;

/// Read rounds one poll makes through records a filter drops before it gives back an empty
/// batch (the front end then sends a keep-alive and polls again).
const FILTERED_READS: usize = 64;

/// Where partitions without an explicit position start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartAt {
    /// The first offset still stored.
    Earliest,
    /// The end when subscribing: only records appended from then on.
    #[default]
    Latest,
    /// This offset in every partition (clamped to what is stored).
    Offset(u64),
    /// The first record at or after this time (ms since the epoch).
    Time(i64),
}

/// What to subscribe to (by default: every partition from the end, unfiltered).
#[derive(Debug, Clone, Default)]
pub struct SubscriptionSpec {
    /// Partitions to follow; `None` is all of them.
    pub partitions: Option<Vec<u32>>,
    /// Where partitions start that `positions` does not name.
    pub start: StartAt,
    /// Exact resume: the next offset to deliver, per partition (wins over `start`).
    pub positions: BTreeMap<u32, u64>,
    /// Only records that match leave the server (positions still move past the others).
    pub filter: Filter,
    /// Join this consumer group: the topic's partitions are balanced across its live members.
    pub group: Option<GroupSpec>,
    /// Run this uploaded transform plugin over every record that passed `filter`.
    pub transform: Option<PluginFilter>,
    /// Deliver Avro keys and values in Confluent wire format as JSON (before `filter`, so
    /// predicates see the fields).
    pub decode: bool,
}

/// One delivered record and its partition.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The partition it came from.
    pub partition: u32,
    /// The record and its offset.
    pub record: StoredRecord,
    /// The front end's encoding, made once for every subscriber of a shared tail read.
    encoding: Option<Arc<OnceLock<Bytes>>>,
}

impl Delivery {
    fn new(partition: u32, record: StoredRecord, shared: bool) -> Self {
        Self {
            partition,
            record,
            encoding: shared.then(Arc::default),
        }
    }

    /// `encode(self)`, computed once for all subscribers that share this record unchanged
    /// (the encoding must depend on nothing but the topic and the delivery).
    pub fn encoded(&self, encode: impl FnOnce(&Self) -> Bytes) -> Bytes {
        match &self.encoding {
            Some(slot) => slot.get_or_init(|| encode(self)).clone(),
            None => encode(self),
        }
    }
}

/// An open subscription. Not shared: each subscriber owns its cursor.
pub struct Subscription {
    broker: Broker,
    topic: TopicName,
    /// Next offset to deliver, per followed partition.
    positions: BTreeMap<u32, u64>,
    /// The partition the next poll starts with, so one busy partition cannot starve others.
    turn: usize,
    filter: Filter,
    decode: bool,
    /// The group this subscriber is a member of, if any.
    group: Option<group::GroupCursor>,
    /// The per-subscriber plugin, if any.
    reshape: Option<reshape::Reshaper>,
    /// The shared tail reads, while this subscriber is at the tail.
    tail: tail::Tail,
    /// The encoding slot of the shared batch the last poll returned whole and unchanged.
    whole_batch: Option<Arc<OnceLock<Bytes>>>,
}

impl Broker {
    /// Opens a subscription: checks the topic and partitions, resolves every start position.
    ///
    /// # Errors
    /// Invalid name, unknown topic or partition; storage errors resolving a time.
    pub async fn subscribe(&self, topic: &str, spec: SubscriptionSpec) -> Result<Subscription> {
        self.open_subscription(topic, spec, tail::Tail::Joinable)
            .await
    }

    /// A subscription that reads storage itself and never joins a shared tail read (the tail
    /// readers' own); its deliveries carry encoding slots, to be shared.
    pub(super) async fn subscribe_unshared(
        &self,
        topic: &str,
        spec: SubscriptionSpec,
    ) -> Result<Subscription> {
        self.open_subscription(topic, spec, tail::Tail::Reader)
            .await
    }

    async fn open_subscription(
        &self,
        topic: &str,
        spec: SubscriptionSpec,
        tail: tail::Tail,
    ) -> Result<Subscription> {
        self.authorize(super::ResourceType::Topic, topic, super::Operation::Read)?;
        if let Some(g) = &spec.group {
            self.authorize(super::ResourceType::Group, &g.name, super::Operation::Read)?;
        }
        let name = TopicName::new(topic)?;
        let storage = &self.inner.storage;
        let count = storage.topic(&name)?.partitions;
        if spec.group.is_some() && spec.partitions.is_some() {
            return Err(Error::InvalidSubscription(
                "group= balances the topic's partitions across its members; \
                 it cannot be combined with partitions="
                    .to_owned(),
            ));
        }
        let reshape = match &spec.transform {
            Some(wanted) => Some(self.reshaper(wanted).await?),
            None => None,
        };
        let partitions = spec.partitions.unwrap_or_else(|| (0..count).collect());
        let unknown = partitions
            .iter()
            .chain(spec.positions.keys())
            .find(|p| **p >= count);
        if let Some(&partition) = unknown {
            return Err(StorageError::UnknownPartition {
                topic: name,
                partition,
                partitions: count,
            }
            .into());
        }
        // A group member's partitions come from the group (in `rebalance` below).
        let mut positions = BTreeMap::new();
        let group = match spec.group {
            Some(wanted) => {
                Some(self.join_group(&name, count, wanted, spec.start, spec.positions)?)
            }
            None => {
                for p in partitions {
                    let exact = spec.positions.get(&p).copied();
                    let at = self.start_position(&name, p, exact, spec.start).await?;
                    positions.insert(p, at);
                }
                None
            }
        };
        let mut subscription = Subscription {
            broker: self.clone(),
            topic: name,
            positions,
            turn: 0,
            filter: spec.filter,
            decode: spec.decode,
            group,
            reshape,
            tail,
            whole_batch: None,
        };
        subscription.rebalance().await?;
        Ok(subscription)
    }

    /// Where a partition starts: the exact position if there is one, else `start`; clamped
    /// to what is stored.
    async fn start_position(
        &self,
        topic: &TopicName,
        partition: u32,
        exact: Option<u64>,
        start: StartAt,
    ) -> Result<u64> {
        let offsets = self.inner.storage.offsets(topic, partition)?;
        let at = match (exact, start) {
            (Some(at), _) => at,
            (None, StartAt::Earliest) => offsets.start,
            (None, StartAt::Latest) => offsets.end,
            (None, StartAt::Offset(o)) => o,
            (None, StartAt::Time(ts)) => {
                self.offset_for_timestamp(topic.as_str(), partition, ts)
                    .await?
            }
        };
        Ok(at.clamp(offsets.start, offsets.end))
    }
}

impl Subscription {
    /// The topic.
    pub fn topic(&self) -> &str {
        self.topic.as_str()
    }

    /// The next offset to deliver, per partition: what a client needs to resume exactly.
    pub fn positions(&self) -> &BTreeMap<u32, u64> {
        &self.positions
    }

    /// Moves a followed partition's position (a client's seek): the next poll reads from
    /// `to`, clamped to what is stored.
    ///
    /// # Errors
    /// [`Error::InstanceState`] when this subscription does not follow `partition` now;
    /// storage errors resolving a time.
    pub async fn seek(&mut self, partition: u32, to: StartAt) -> Result<()> {
        if !self.positions.contains_key(&partition) {
            return Err(Error::InstanceState(format!(
                "no current assignment for partition {}-{partition}",
                self.topic
            )));
        }
        let at = self
            .broker
            .start_position(&self.topic, partition, None, to)
            .await?;
        self.positions.insert(partition, at);
        // Shared batches continue from the old position; read storage until the tail again.
        if self.joined_tail() {
            self.tail = tail::Tail::Joinable;
        }
        Ok(())
    }

    /// When the records the last poll returned are one whole batch of the topic's shared tail
    /// read, unchanged (no filter, decoding or plugin), the slot where a front end keeps their
    /// encoding as one message, made once for every subscriber that got the same batch. The
    /// encoding must depend on nothing but the topic and the records.
    pub fn batch_encoding(&self) -> Option<&OnceLock<Bytes>> {
        self.whole_batch.as_deref()
    }

    /// Records between the positions and the ends of the followed partitions (for metrics;
    /// a deleted topic counts 0).
    pub fn lag(&self) -> u64 {
        let storage = &self.broker.inner.storage;
        self.positions
            .iter()
            .filter_map(|(&p, &at)| {
                storage
                    .offsets(&self.topic, p)
                    .ok()
                    .map(|o| o.end.saturating_sub(at))
            })
            .sum()
    }

    /// Up to `max_records` and about `max_bytes` of records past the current positions, taken
    /// from the partitions in turn, and the positions advanced past them. When none is there,
    /// waits up to `wait` for an append to any followed partition; empty if none came.
    ///
    /// A position that retention has passed moves to the first stored offset (the records in
    /// between are gone for every reader).
    ///
    /// # Cancel safety
    /// Positions change only when the records are returned: a poll dropped part-way (a
    /// front end's `select!` serving a client message) loses nothing.
    ///
    /// # Errors
    /// The topic was deleted; storage errors.
    pub async fn poll(
        &mut self,
        max_records: usize,
        max_bytes: usize,
        wait: Duration,
    ) -> Result<Vec<Delivery>> {
        self.whole_batch = None;
        if self.assignment_pending() {
            // The assignment made when subscribing goes out before any wait.
            return Ok(Vec::new());
        }
        let deadline = tokio::time::Instant::now() + wait;
        // Reads that a filter emptied still moved the positions: read on (a bounded number of
        // times) rather than wait, since more records may be there already.
        for _ in 0..FILTERED_READS {
            // Revoking a key or an ACL reaches open streams: nothing more is delivered.
            self.broker.authorize(
                super::ResourceType::Topic,
                self.topic.as_str(),
                super::Operation::Read,
            )?;
            self.broker.credentials_hold()?;
            // A new assignment is reported at once (the front end announces it), records or not.
            let regrouped = self.rebalance().await?;
            self.auto_commit().await?;
            let (out, moved) = self.read(max_records, max_bytes).await?;
            if !out.is_empty() || regrouped {
                return Ok(out);
            }
            if moved {
                continue;
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                break;
            }
            // An idle member still commits what it delivered, a second later at most.
            let nap = self.commit_due_in().map_or(left, |due| due.min(left));
            self.wait(nap).await?;
        }
        Ok(Vec::new())
    }

    /// One read round over the partitions: what matched, and whether any position moved.
    async fn read(
        &mut self,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<(Vec<Delivery>, bool)> {
        if let Some(tail::Shared {
            deliveries,
            positions,
            whole,
        }) = self.take_shared(max_records, max_bytes)
        {
            let unchanged = self.filter.is_empty() && !self.decode && self.reshape.is_none();
            // Applied after the last await, so a cancelled read leaves the cursor as it was
            // (the batches it took are gone, so the next read sees a gap and reads storage).
            let out = self.refine(deliveries).await?;
            let progressed = positions != self.positions;
            self.positions = positions;
            self.whole_batch = whole.filter(|_| unchanged);
            return Ok((out, progressed));
        }
        if self.awaits_shared() {
            return Ok((Vec::new(), false));
        }
        let storage = &self.broker.inner.storage;
        let partitions: Vec<u32> = self.positions.keys().copied().collect();
        let n = partitions.len().max(1);
        let shares = self.tail.shares_encoding();
        let mut read_all = Vec::new();
        let mut bytes = 0usize;
        let mut moved = Vec::new();
        for i in 0..partitions.len() {
            if read_all.len() >= max_records || bytes >= max_bytes {
                break;
            }
            let p = partitions[(self.turn + i) % n];
            let at = self.positions[&p];
            let offsets = storage.offsets(&self.topic, p)?;
            let at = at.max(offsets.start);
            if at >= offsets.end {
                moved.push((p, at));
                continue;
            }
            let left = max_records - read_all.len();
            let room = max_bytes.saturating_sub(bytes).max(1);
            let read = storage.read(&self.topic, p, at, left, room).await?;
            bytes += read
                .records
                .iter()
                .map(|r| r.record.payload_len())
                .sum::<usize>();
            moved.push((p, read.next_offset.max(at)));
            read_all.extend(
                read.records
                    .into_iter()
                    .map(|record| Delivery::new(p, record, shares)),
            );
        }
        let read_any = !read_all.is_empty();
        let out = self.refine(read_all).await?;
        let progressed = moved
            .iter()
            .any(|(p, at)| self.positions.get(p) != Some(at));
        self.positions.extend(moved);
        self.turn = (self.turn + 1) % n;
        if !read_any && !progressed {
            // At the tail: new records come from the topic's shared reader from now on.
            self.join_tail();
        }
        Ok((out, progressed))
    }
}
