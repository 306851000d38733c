//! Consumer groups: committed offsets per (group, topic, partition), with lag.
//!
//! Commits are appended to the internal compacted topic `__consumer_offsets` (key
//! `group\0topic\0partition`, value `{"offset": N}`) before they are acknowledged, and the
//! in-memory table is rebuilt from it at start. One request's commits form one batch, so they
//! land all together or not at all.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::{Broker, Error, Result, internal, now_ms};
use crate::event::{Record, TopicName};
use crate::log::{CleanupPolicy, Log, Partition};

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

type Table = BTreeMap<String, BTreeMap<(String, u32), u64>>;

pub(super) struct Groups {
    partition: Arc<Partition>,
    table: Mutex<Table>,
}

impl Groups {
    pub(super) fn open(log: &Arc<Log>) -> Result<Self> {
        let partition = internal::open(log, TOPIC, |c| c.cleanup_policy = CleanupPolicy::Compact)?;
        let mut table = Table::new();
        internal::replay(&partition, TOPIC, |key, value: Option<StoredCommit>, _| {
            let Some((group, topic, p)) = parse_key(&key) else {
                return;
            };
            let exists = TopicName::new(&topic).is_ok_and(|t| log.topic(&t).is_ok());
            match value {
                Some(commit) if exists => {
                    table
                        .entry(group)
                        .or_default()
                        .insert((topic, p), commit.offset);
                }
                _ => {
                    if let Some(offsets) = table.get_mut(&group) {
                        offsets.remove(&(topic, p));
                    }
                }
            }
        })?;
        table.retain(|_, offsets| !offsets.is_empty());
        Ok(Self {
            partition,
            table: Mutex::new(table),
        })
    }

    /// Drops a deleted topic's offsets from memory (replay skips them for missing topics).
    pub(super) fn forget_topic(&self, topic: &TopicName) {
        let mut table = self.table.lock();
        for offsets in table.values_mut() {
            offsets.retain(|(t, _), _| t != topic.as_str());
        }
        table.retain(|_, offsets| !offsets.is_empty());
    }
}

impl Broker {
    /// Commits offsets for `group`, all or nothing.
    ///
    /// # Errors
    /// Invalid group id, unknown topic or partition, an offset past the partition's end.
    pub async fn commit_offsets(&self, group: &str, commits: &[GroupOffsetCommit]) -> Result<()> {
        validate_group(group)?;
        let now = now_ms();
        let mut records = Vec::with_capacity(commits.len());
        for (index, commit) in commits.iter().enumerate() {
            let topic = self.inner.log.topic(&TopicName::new(&commit.topic)?)?;
            let end = topic.partition(commit.partition)?.end_offset();
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
        groups.partition.append(&records).await?;
        let mut table = groups.table.lock();
        let offsets = table.entry(group.to_owned()).or_default();
        for commit in commits {
            offsets.insert((commit.topic.clone(), commit.partition), commit.offset);
        }
        Ok(())
    }

    /// A group's committed offsets with lag.
    ///
    /// # Errors
    /// [`Error::UnknownGroup`] when the group never committed.
    pub fn group_offsets(&self, group: &str) -> Result<Vec<GroupOffset>> {
        let table = self.inner.groups.table.lock();
        let offsets = table
            .get(group)
            .ok_or_else(|| Error::UnknownGroup(group.to_owned()))?;
        Ok(offsets
            .iter()
            .map(|((topic, partition), offset)| {
                let end = TopicName::new(topic)
                    .ok()
                    .and_then(|t| self.inner.log.topic(&t).ok())
                    .and_then(|t| t.partition(*partition).ok())
                    .map_or(*offset, |p| p.end_offset());
                GroupOffset {
                    topic: topic.clone(),
                    partition: *partition,
                    offset: *offset,
                    lag: end.saturating_sub(*offset),
                }
            })
            .collect())
    }

    /// Every group with committed offsets, sorted.
    #[must_use]
    pub fn list_groups(&self) -> Vec<String> {
        self.inner.groups.table.lock().keys().cloned().collect()
    }
}

fn validate_group(group: &str) -> Result<()> {
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
