//! An instance's cursor in this process: one subscription per topic it reads, opened from the
//! stored interest on first use (so after a restart, or on another gateway, it resumes from
//! the group's committed offsets), and the records, seek and commit requests served over it.
//!
//! Owns reading across several topics within one request's wait and byte budget, and the
//! instance's commits (automatic ones at the start of the next request, explicit ones on the
//! client's word). Group balancing, positions and waiting are the subscriptions'; this module
//! must not duplicate them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::{DEFAULT_REQUEST_WAIT, Instance, Interest, OffsetReset, Seek, TopicPartition};
use crate::broker::groups::GroupOffsetCommit;
use crate::broker::storage::{Storage, StorageError};
use crate::broker::{Broker, Error, GroupSpec, Result, StartAt, Subscription, SubscriptionSpec};
use crate::event::{StoredRecord, TopicName};

/// Most records one records request returns from one poll of one topic.
const MAX_RECORDS: usize = 10_000;

/// One record a records request returns.
#[derive(Debug, Clone)]
pub struct InstanceRecord {
    /// Its topic.
    pub topic: String,
    /// Its partition.
    pub partition: u32,
    /// The record and its offset.
    pub record: StoredRecord,
}

/// The cursor: open subscriptions by topic, and what this cursor last committed.
#[derive(Default)]
pub(in crate::broker) struct Live {
    subs: BTreeMap<String, Subscription>,
    committed: BTreeMap<(String, u32), u64>,
    /// The topic the next request reads first, so one busy topic cannot starve the others.
    turn: usize,
}

impl Live {
    /// Refuses a partition this cursor does not follow now.
    fn check_holds(&self, tp: &TopicPartition) -> Result<()> {
        let held = self
            .subs
            .get(&tp.topic)
            .is_some_and(|s| s.positions().contains_key(&tp.partition));
        if held {
            Ok(())
        } else {
            Err(not_assigned(&tp.topic, tp.partition))
        }
    }
}

/// A topic pattern, matched against whole names (Kafka's `Pattern.matcher().matches()`).
pub(super) fn compile_pattern(pattern: &str) -> Result<regex::Regex> {
    regex::Regex::new(&format!("^(?:{pattern})$"))
        .map_err(|e| Error::InvalidSubscription(format!("invalid topic pattern: {e}")))
}

fn start_of(reset: OffsetReset) -> StartAt {
    match reset {
        OffsetReset::Earliest => StartAt::Earliest,
        OffsetReset::Latest => StartAt::Latest,
    }
}

fn not_assigned(topic: &str, partition: u32) -> Error {
    Error::InstanceState(format!(
        "partition {topic}-{partition} is not assigned to this consumer instance"
    ))
}

impl Broker {
    /// The instance (idle clock reset) and its cursor.
    async fn cursor(
        &self,
        group: &str,
        name: &str,
    ) -> Result<(Instance, Arc<tokio::sync::Mutex<Live>>)> {
        let instance = self.instance(group, name).await?;
        let live =
            self.inner
                .instances
                .live(&instance.key())
                .ok_or_else(|| Error::UnknownInstance {
                    group: group.to_owned(),
                    name: name.to_owned(),
                })?;
        Ok((instance, live))
    }

    /// Topics the instance should read now that exist (a pattern matches topics created
    /// since; a named topic may not exist yet).
    fn wanted_topics(&self, interest: &Interest) -> Result<Vec<String>> {
        let exists = |t: &str| {
            TopicName::new(t)
                .is_ok_and(|n| !n.is_internal() && self.inner.storage.topic(&n).is_ok())
        };
        Ok(match interest {
            Interest::None => Vec::new(),
            Interest::Topics { topics } => topics.iter().filter(|t| exists(t)).cloned().collect(),
            Interest::Pattern { pattern } => {
                let re = compile_pattern(pattern)?;
                self.list_topics()
                    .into_iter()
                    .filter(|t| !t.internal && re.is_match(&t.name))
                    .map(|t| t.name)
                    .collect()
            }
            Interest::Partitions { partitions } => {
                let mut topics: Vec<String> =
                    partitions.iter().map(|tp| tp.topic.clone()).collect();
                topics.sort();
                topics.dedup();
                topics
            }
        })
    }

    /// Opens the subscriptions the interest asks for and this cursor lacks.
    async fn open_cursor(&self, instance: &Instance, live: &mut Live) -> Result<()> {
        if instance.interest == Interest::None {
            return Err(Error::InstanceState(
                "Consumer is not subscribed to any topics or assigned any partitions".into(),
            ));
        }
        let start = start_of(instance.config.offset_reset);
        for topic in self.wanted_topics(&instance.interest)? {
            if live.subs.contains_key(&topic) {
                continue;
            }
            let spec = match &instance.interest {
                Interest::Partitions { partitions } => {
                    let name = TopicName::new(&topic)?;
                    let mine: Vec<u32> = partitions
                        .iter()
                        .filter(|tp| tp.topic == topic)
                        .map(|tp| tp.partition)
                        .collect();
                    // An assigned partition starts where the group committed, like Kafka's.
                    let positions = mine
                        .iter()
                        .filter_map(|&p| {
                            self.committed_offset(&instance.group, &name, p)
                                .map(|at| (p, at))
                        })
                        .collect();
                    SubscriptionSpec {
                        partitions: Some(mine),
                        positions,
                        start,
                        ..SubscriptionSpec::default()
                    }
                }
                _ => SubscriptionSpec {
                    start,
                    group: Some(GroupSpec {
                        name: instance.group.clone(),
                        auto_commit: instance.config.auto_commit,
                    }),
                    ..SubscriptionSpec::default()
                },
            };
            // Each records request authenticates anew; the cursor keeps no request's key.
            match self.lasting().subscribe(&topic, spec).await {
                Ok(sub) => {
                    live.subs.insert(topic, sub);
                }
                // Deleted since it was listed: read it when it is back.
                Err(Error::Storage(StorageError::UnknownTopic { .. })) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Opens the instance's cursor now (joining its group) rather than on its first request.
    pub(super) async fn open_instance_cursor(&self, instance: &Instance) -> Result<()> {
        let (instance, live) = self.cursor(&instance.group, &instance.name).await?;
        let mut live = live.lock().await;
        self.open_cursor(&instance, &mut live).await
    }

    /// Commits every position of the cursor that moved since it last committed.
    async fn commit_cursor(&self, instance: &Instance, live: &mut Live) -> Result<()> {
        let commits: Vec<GroupOffsetCommit> = live
            .subs
            .iter()
            .flat_map(|(topic, sub)| {
                sub.positions()
                    .iter()
                    .map(|(&partition, &offset)| GroupOffsetCommit {
                        topic: topic.clone(),
                        partition,
                        offset,
                    })
            })
            .filter(|c| live.committed.get(&(c.topic.clone(), c.partition)) != Some(&c.offset))
            .collect();
        if commits.is_empty() {
            return Ok(());
        }
        self.commit_offsets(&instance.group, &commits).await?;
        for c in commits {
            live.committed.insert((c.topic, c.partition), c.offset);
        }
        Ok(())
    }

    /// What an auto-committing instance owes before its cursor closes (delete, expiry, a new
    /// subscription). Failures are logged: the instance goes either way.
    pub(super) async fn commit_on_leave(&self, instance: &Instance) {
        if !instance.config.auto_commit {
            return;
        }
        let live = self.inner.instances.live(&instance.key());
        let Some(live) = live else {
            return;
        };
        let mut live = live.lock().await;
        if let Err(e) = self.commit_cursor(instance, &mut live).await {
            tracing::warn!(group = %instance.group, instance = %instance.name, error = %e,
                "Committing a closing consumer instance failed.");
        }
    }

    /// Records past the instance's positions: up to about `max_bytes`, waiting up to the
    /// instance's wait (or `timeout`, if shorter) for the first ones — or, with
    /// `fetch.min.bytes`, for that many bytes.
    ///
    /// # Errors
    /// Unknown instance; [`Error::InstanceState`] when it neither subscribed nor assigned;
    /// storage errors.
    pub async fn instance_records(
        &self,
        group: &str,
        name: &str,
        max_bytes: usize,
        timeout: Option<Duration>,
    ) -> Result<Vec<InstanceRecord>> {
        let (instance, live) = self.cursor(group, name).await?;
        let mut live = live.lock().await;
        self.open_cursor(&instance, &mut live).await?;
        if instance.config.auto_commit {
            self.commit_cursor(&instance, &mut live).await?;
        }
        let wait = instance
            .config
            .request_wait_ms
            .map_or(DEFAULT_REQUEST_WAIT, Duration::from_millis);
        let wait = timeout.map_or(wait, |t| t.min(wait));
        let min_bytes = usize::try_from(instance.config.fetch_min_bytes).unwrap_or(0);
        let deadline = tokio::time::Instant::now() + wait;
        let mut out = Vec::new();
        let mut bytes = 0usize;
        loop {
            let topics: Vec<String> = live.subs.keys().cloned().collect();
            for i in 0..topics.len() {
                if bytes >= max_bytes {
                    break;
                }
                let topic = &topics[(live.turn + i) % topics.len()];
                let room = max_bytes - bytes;
                let got = match live.subs.get_mut(topic) {
                    Some(sub) => poll_one(sub, room, Duration::ZERO).await,
                    None => continue,
                };
                take(&mut live, topic, got, &mut out, &mut bytes)?;
            }
            live.turn = live.turn.wrapping_add(1);
            let enough = (!out.is_empty() && bytes >= min_bytes) || bytes >= max_bytes;
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if enough || left.is_zero() {
                return Ok(out);
            }
            if live.subs.is_empty() {
                // Nothing to wait on yet (named topics that do not exist): answer at the
                // deadline, as a consumer with nothing assigned does.
                tokio::time::sleep(left).await;
                return Ok(out);
            }
            // Every subscription waits for its own data; the first to deliver wins (a poll
            // is cancel-safe, so the others lose nothing).
            let room = max_bytes - bytes;
            let waits: Vec<_> = live
                .subs
                .iter_mut()
                .map(|(topic, sub)| {
                    Box::pin(async move { (topic.clone(), poll_one(sub, room, left).await) })
                })
                .collect();
            let ((topic, got), _, _) = futures_util::future::select_all(waits).await;
            take(&mut live, &topic, got, &mut out, &mut bytes)?;
        }
    }

    /// Moves positions of partitions the instance holds now (all checked before any moves).
    ///
    /// # Errors
    /// Unknown instance; [`Error::InstanceState`] for a partition it does not hold.
    pub async fn seek_instance(
        &self,
        group: &str,
        name: &str,
        seeks: &[(TopicPartition, Seek)],
    ) -> Result<()> {
        let (instance, live) = self.cursor(group, name).await?;
        let mut live = live.lock().await;
        self.open_cursor(&instance, &mut live).await?;
        for (tp, _) in seeks {
            live.check_holds(tp)?;
        }
        for (tp, seek) in seeks {
            let to = match *seek {
                Seek::To(offset) => StartAt::Offset(offset),
                Seek::Beginning => StartAt::Earliest,
                Seek::End => StartAt::Latest,
                Seek::Time(ms) => StartAt::Time(ms),
            };
            if let Some(sub) = live.subs.get_mut(&tp.topic) {
                sub.seek(tp.partition, to).await?;
            }
        }
        Ok(())
    }

    /// Commits `offsets` (the next offset to read, per partition) for the instance's group,
    /// or with `None` every position it returned records up to.
    ///
    /// # Errors
    /// Unknown instance; a subscribed instance committing a partition it does not hold;
    /// offsets past the end; storage errors.
    pub async fn commit_instance(
        &self,
        group: &str,
        name: &str,
        offsets: Option<Vec<(TopicPartition, u64)>>,
    ) -> Result<()> {
        let (instance, live) = self.cursor(group, name).await?;
        let mut live = live.lock().await;
        let Some(offsets) = offsets else {
            self.open_cursor(&instance, &mut live).await?;
            return self.commit_cursor(&instance, &mut live).await;
        };
        if matches!(
            instance.interest,
            Interest::Topics { .. } | Interest::Pattern { .. }
        ) {
            // A member that lost a partition must not move the new owner's offset.
            self.open_cursor(&instance, &mut live).await?;
            for (tp, _) in &offsets {
                live.check_holds(tp)?;
            }
        }
        let commits: Vec<GroupOffsetCommit> = offsets
            .into_iter()
            .map(|(tp, offset)| GroupOffsetCommit {
                topic: tp.topic,
                partition: tp.partition,
                offset,
            })
            .collect();
        self.commit_offsets(&instance.group, &commits).await?;
        for c in commits {
            live.committed.insert((c.topic, c.partition), c.offset);
        }
        Ok(())
    }

    /// The group's committed offsets of `partitions` (those without one are left out).
    ///
    /// # Errors
    /// Unknown instance; invalid topic names.
    pub async fn instance_committed(
        &self,
        group: &str,
        name: &str,
        partitions: &[TopicPartition],
    ) -> Result<Vec<(TopicPartition, u64)>> {
        let instance = self.instance(group, name).await?;
        let mut out = Vec::new();
        for tp in partitions {
            let topic = TopicName::new(&tp.topic)?;
            if let Some(at) = self.committed_offset(&instance.group, &topic, tp.partition) {
                out.push((tp.clone(), at));
            }
        }
        Ok(out)
    }

    /// The partitions the instance reads now: its assignment, or what the group gave it.
    ///
    /// # Errors
    /// Unknown instance; storage errors opening the cursor.
    pub async fn instance_assignment(
        &self,
        group: &str,
        name: &str,
    ) -> Result<Vec<TopicPartition>> {
        let (instance, live) = self.cursor(group, name).await?;
        match &instance.interest {
            Interest::None => Ok(Vec::new()),
            Interest::Partitions { partitions } => Ok(partitions.clone()),
            Interest::Topics { .. } | Interest::Pattern { .. } => {
                let mut live = live.lock().await;
                self.open_cursor(&instance, &mut live).await?;
                Ok(live
                    .subs
                    .iter()
                    .flat_map(|(topic, sub)| {
                        sub.positions().keys().map(|&partition| TopicPartition {
                            topic: topic.clone(),
                            partition,
                        })
                    })
                    .collect())
            }
        }
    }

    /// The topics a subscribed instance reads (a pattern's current matches); empty for an
    /// assignment.
    ///
    /// # Errors
    /// Unknown instance.
    pub async fn instance_subscription(&self, group: &str, name: &str) -> Result<Vec<String>> {
        let instance = self.instance(group, name).await?;
        match &instance.interest {
            Interest::Topics { topics } => Ok(topics.clone()),
            Interest::Pattern { .. } => self.wanted_topics(&instance.interest),
            Interest::None | Interest::Partitions { .. } => Ok(Vec::new()),
        }
    }
}

/// One poll of one subscription, the assignment it may announce taken (the proxy has no
/// message for it) and read past.
async fn poll_one(
    sub: &mut Subscription,
    max_bytes: usize,
    wait: Duration,
) -> Result<Vec<crate::broker::Delivery>> {
    let got = sub.poll(MAX_RECORDS, max_bytes.max(1), wait).await?;
    if sub.take_assignment().is_some() && got.is_empty() {
        // The poll stopped to announce a new assignment: read what it brought.
        let again = sub.poll(MAX_RECORDS, max_bytes.max(1), wait).await;
        sub.take_assignment();
        return again;
    }
    Ok(got)
}

/// Adds one poll's records to the answer; a topic deleted under the cursor is dropped from it.
fn take(
    live: &mut Live,
    topic: &str,
    got: Result<Vec<crate::broker::Delivery>>,
    out: &mut Vec<InstanceRecord>,
    bytes: &mut usize,
) -> Result<()> {
    match got {
        Ok(deliveries) => {
            for d in deliveries {
                *bytes += d.record.record.payload_len();
                out.push(InstanceRecord {
                    topic: topic.to_owned(),
                    partition: d.partition,
                    record: d.record,
                });
            }
            Ok(())
        }
        Err(Error::Storage(StorageError::UnknownTopic { .. })) => {
            live.subs.remove(topic);
            Ok(())
        }
        Err(e) => Err(e),
    }
}
