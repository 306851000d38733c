//! Consumer groups: committed offsets per (group, topic, partition), with lag.
//!
//! Commits are appended to the internal compacted topic `__consumer_offsets` (key
//! `group\0topic\0partition`, value `{"offset": N}`) before they are acknowledged, and the
//! in-memory table is rebuilt from it at start. One request's commits form one batch, so they
//! land all together or not at all.
//!
//! A group whose last commit is older than `offsets.retention.ms` expires (Kafka's rule for
//! groups without live members): its offsets are tombstoned and forgotten. Deleting a topic
//! tombstones every group's offsets for it, so a re-created topic starts with none.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::internal::InternalTopic;
use super::storage::{CleanupPolicy, Engine, Storage};
use super::{Broker, Error, Result, now_ms};
use crate::event::{Record, TopicName};

/// The internal topic holding committed offsets.
pub const TOPIC: &str = "__consumer_offsets";
/// Longest group id accepted.
pub const MAX_GROUP_LEN: usize = 255;

/// One offset to commit.
#[derive(Debug, Clone, Deserialize)]
pub struct GroupOffsetCommit {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: u32,
    /// The next offset the group will read.
    pub offset: u64,
}

/// One committed offset with the group's lag behind the partition's end.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct GroupOffset {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: u32,
    /// The committed offset.
    pub offset: u64,
    /// `end_offset - offset`, at least 0.
    pub lag: u64,
}

#[derive(Serialize, Deserialize)]
struct StoredCommit {
    offset: u64,
}

/// One group's committed offsets and when it last committed.
#[derive(Default)]
struct Group {
    offsets: BTreeMap<(String, u32), u64>,
    last_commit_ms: i64,
}

type Table = BTreeMap<String, Group>;

pub(super) struct Groups {
    topic: InternalTopic,
    table: Mutex<Table>,
    retention_ms: i64,
}

impl Groups {
    pub(super) async fn open(storage: &Arc<Engine>, now: i64, retention_ms: i64) -> Result<Self> {
        let topic = InternalTopic::open(storage, TOPIC, |c| {
            c.cleanup_policy = CleanupPolicy::Compact
        })
        .await?;
        let mut table = Table::new();
        topic
            .replay(|key, value: Option<StoredCommit>, ts| {
                let Some((group, topic, p)) = parse_key(&key) else {
                    return;
                };
                let exists = TopicName::new(&topic).is_ok_and(|t| storage.topic(&t).is_ok());
                match value {
                    Some(commit) if exists => {
                        let entry = table.entry(group).or_default();
                        entry.offsets.insert((topic, p), commit.offset);
                        entry.last_commit_ms = entry.last_commit_ms.max(ts);
                    }
                    _ => {
                        if let Some(entry) = table.get_mut(&group) {
                            entry.offsets.remove(&(topic, p));
                        }
                    }
                }
            })
            .await?;
        table.retain(|_, g| !g.offsets.is_empty());
        let groups = Self {
            topic,
            table: Mutex::new(table),
            retention_ms,
        };
        groups.expire(now).await?;
        Ok(groups)
    }

    /// Tombstones and forgets the offsets `select` picks, as one batch.
    async fn forget(&self, select: impl Fn(&str, &str, &Group) -> bool) -> Result<usize> {
        let now = now_ms();
        let doomed: Vec<(String, String, u32)> = {
            let table = self.table.lock();
            table
                .iter()
                .flat_map(|(group, g)| {
                    g.offsets
                        .keys()
                        .filter(|(topic, _)| select(group, topic, g))
                        .map(|(topic, p)| (group.clone(), topic.clone(), *p))
                })
                .collect()
        };
        if doomed.is_empty() {
            return Ok(0);
        }
        let tombstones: Vec<Record> = doomed
            .iter()
            .map(|(group, topic, p)| Record {
                key: Some(make_key(group, topic, *p)),
                value: None,
                timestamp: now,
                ..Record::default()
            })
            .collect();
        self.topic.append(&tombstones).await?;
        let mut table = self.table.lock();
        for (group, topic, p) in &doomed {
            if let Some(g) = table.get_mut(group) {
                g.offsets.remove(&(topic.clone(), *p));
            }
        }
        table.retain(|_, g| !g.offsets.is_empty());
        Ok(doomed.len())
    }

    /// Expires groups whose last commit is older than the retention.
    async fn expire(&self, now: i64) -> Result<()> {
        let oldest = now.saturating_sub(self.retention_ms);
        let expired = self.forget(|_, _, g| g.last_commit_ms < oldest).await?;
        if expired > 0 {
            tracing::info!(
                offsets = expired,
                "Expired offsets of idle consumer groups."
            );
        }
        Ok(())
    }
}

impl Broker {
    /// Tombstones every group's offsets of a deleted topic.
    pub(super) async fn forget_topic_offsets(&self, topic: &TopicName) -> Result<()> {
        let name = topic.as_str();
        self.inner.groups.forget(|_, t, _| t == name).await?;
        Ok(())
    }

    /// Expires idle consumer groups (part of the maintenance pass).
    pub(super) async fn expire_groups(&self, now: i64) -> Result<()> {
        self.inner.groups.expire(now).await
    }
}

impl Broker {
    /// Commits offsets for `group`, all or nothing.
    ///
    /// # Errors
    /// Invalid group id, unknown topic or partition, an offset past the partition's end.
    pub async fn commit_offsets(&self, group: &str, commits: &[GroupOffsetCommit]) -> Result<()> {
        self.authorize(super::ResourceType::Group, group, super::Operation::Read)?;
        for c in commits {
            self.authorize(super::ResourceType::Topic, &c.topic, super::Operation::Read)?;
        }
        validate_group(group)?;
        let now = now_ms();
        let mut records = Vec::with_capacity(commits.len());
        for (index, commit) in commits.iter().enumerate() {
            let topic = TopicName::new(&commit.topic)?;
            let end = self.inner.storage.offsets(&topic, commit.partition)?.end;
            if commit.offset > end {
                let problem = format!("offset {} is past the end offset {end}", commit.offset);
                return Err(Error::InvalidCommit { index, problem });
            }
            let value = serde_json::to_vec(&StoredCommit {
                offset: commit.offset,
            })
            .unwrap_or_default();
            records.push(Record {
                key: Some(make_key(group, &commit.topic, commit.partition)),
                value: Some(Bytes::from(value)),
                timestamp: now,
                ..Record::default()
            });
        }
        let groups = &self.inner.groups;
        groups.topic.append(&records).await?;
        let mut table = groups.table.lock();
        let entry = table.entry(group.to_owned()).or_default();
        entry.last_commit_ms = now;
        for commit in commits {
            entry
                .offsets
                .insert((commit.topic.clone(), commit.partition), commit.offset);
        }
        Ok(())
    }

    /// A group's committed offsets with lag.
    ///
    /// # Errors
    /// [`Error::UnknownGroup`] when the group never committed.
    pub fn group_offsets(&self, group: &str) -> Result<Vec<GroupOffset>> {
        self.authorize(
            super::ResourceType::Group,
            group,
            super::Operation::Describe,
        )?;
        let table = self.inner.groups.table.lock();
        let entry = table
            .get(group)
            .ok_or_else(|| Error::UnknownGroup(group.to_owned()))?;
        Ok(entry
            .offsets
            .iter()
            .map(|((topic, partition), offset)| {
                let end = TopicName::new(topic)
                    .ok()
                    .and_then(|t| self.inner.storage.offsets(&t, *partition).ok())
                    .map_or(*offset, |o| o.end);
                GroupOffset {
                    topic: topic.clone(),
                    partition: *partition,
                    offset: *offset,
                    lag: end.saturating_sub(*offset),
                }
            })
            .collect())
    }

    /// The offset `group` committed for one partition, if any.
    pub(super) fn committed_offset(
        &self,
        group: &str,
        topic: &TopicName,
        partition: u32,
    ) -> Option<u64> {
        let table = self.inner.groups.table.lock();
        let key = (topic.as_str().to_owned(), partition);
        table.get(group)?.offsets.get(&key).copied()
    }

    /// Every group with committed offsets, sorted.
    #[must_use]
    pub fn list_groups(&self) -> Vec<String> {
        let groups: Vec<String> = self.inner.groups.table.lock().keys().cloned().collect();
        groups
            .into_iter()
            .filter(|g| self.may(super::ResourceType::Group, g, super::Operation::Describe))
            .collect()
    }
}

pub(super) fn validate_group(group: &str) -> Result<()> {
    if group.is_empty() || group.len() > MAX_GROUP_LEN || group.chars().any(char::is_control) {
        let problem =
            format!("group id must be 1 to {MAX_GROUP_LEN} bytes without control characters");
        return Err(Error::InvalidCommit { index: 0, problem });
    }
    Ok(())
}

fn make_key(group: &str, topic: &str, partition: u32) -> Bytes {
    Bytes::from(format!("{group}\0{topic}\0{partition}"))
}

fn parse_key(key: &[u8]) -> Option<(String, String, u32)> {
    let text = std::str::from_utf8(key).ok()?;
    let mut parts = text.split('\0');
    let (group, topic, partition) = (parts.next()?, parts.next()?, parts.next()?);
    Some((group.to_owned(), topic.to_owned(), partition.parse().ok()?))
}
