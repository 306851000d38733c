//! A subscription's consumer-group side: which partitions it holds, where newly assigned ones
//! start, and committing positions (by the client, automatically, on a rebalance, on leaving).
//!
//! Owns the order that makes a rebalance lose nothing: commit a partition's position, then
//! release it; the new owner starts from the committed offset (or from an exact position the
//! client gave, or from `from` when the group has none). It must not decide the assignment:
//! that is [`super::super::membership`].

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::{StartAt, Subscription};
use crate::broker::groups::{GroupOffsetCommit, validate_group};
use crate::broker::membership::Membership;
use crate::broker::{Broker, Error, Result};
use crate::event::TopicName;

/// How often an auto-committing member commits positions that moved.
const AUTO_COMMIT_EVERY: Duration = Duration::from_secs(1);

/// Which group to join and how to commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSpec {
    /// The group id.
    pub name: String,
    /// Commit delivered positions every second, on a rebalance and on leaving.
    pub auto_commit: bool,
}

/// A member's state.
pub(super) struct GroupCursor {
    spec: GroupSpec,
    membership: Membership,
    start: StartAt,
    /// Exact positions the client gave (`offsets=`, `Last-Event-ID`): win over commits.
    exact: BTreeMap<u32, u64>,
    /// Claimed partitions whose start position is not resolved yet.
    pending: BTreeSet<u32>,
    /// What this member last committed, so unchanged positions are not committed again.
    committed: BTreeMap<u32, u64>,
    last_commit: Instant,
    /// The assignment changed and is not announced yet (survives a cancelled rebalance).
    regrouped: bool,
    /// The assignment, when it changed since the front end last took it.
    announce: Option<Vec<u32>>,
}

impl GroupCursor {
    pub(super) async fn changed(&self) {
        self.membership.changed().await;
    }
}

impl Broker {
    pub(super) fn join_group(
        &self,
        topic: &TopicName,
        partitions: u32,
        spec: GroupSpec,
        start: StartAt,
        exact: BTreeMap<u32, u64>,
    ) -> Result<GroupCursor> {
        validate_group(&spec.name)?;
        let membership = self
            .inner
            .members
            .join(&spec.name, topic.as_str(), partitions);
        Ok(GroupCursor {
            spec,
            membership,
            start,
            exact,
            pending: BTreeSet::new(),
            committed: BTreeMap::new(),
            last_commit: Instant::now(),
            regrouped: false,
            announce: None,
        })
    }
}

impl Subscription {
    /// The partitions assigned to this member, when that changed since the last call (the
    /// front end tells the client). Always `None` outside a group.
    pub fn take_assignment(&mut self) -> Option<Vec<u32>> {
        self.group.as_mut().and_then(|g| g.announce.take())
    }

    /// Whether an assignment waits to be taken by the front end.
    pub(super) fn assignment_pending(&self) -> bool {
        self.group.as_ref().is_some_and(|g| g.announce.is_some())
    }

    /// The group this subscription belongs to.
    pub fn group(&self) -> Option<&str> {
        self.group.as_ref().map(|g| g.spec.name.as_str())
    }

    /// Commits `offset` (the next to read) for an assigned partition, on the client's word.
    ///
    /// # Errors
    /// Not in a group; the partition is not assigned to this member; the offset is past the
    /// end; storage errors.
    pub async fn commit(&mut self, partition: u32, offset: u64) -> Result<()> {
        let Some(g) = &self.group else {
            return Err(Error::InvalidSubscription(
                "commit needs a group subscription (group=)".to_owned(),
            ));
        };
        if !g.membership.owns(partition) {
            return Err(Error::InvalidCommit {
                index: 0,
                problem: format!("partition {partition} is not assigned to this subscriber"),
            });
        }
        let group = g.spec.name.clone();
        self.commit_now(&group, &BTreeMap::from([(partition, offset)]))
            .await
    }

    async fn commit_now(&mut self, group: &str, offsets: &BTreeMap<u32, u64>) -> Result<()> {
        let commits = commits_of(&self.topic, offsets);
        self.broker.commit_offsets(group, &commits).await?;
        if let Some(g) = &mut self.group {
            g.committed.extend(offsets);
        }
        Ok(())
    }

    /// The positions of `partitions` (all when `None`) that moved since this member's last
    /// commit.
    fn uncommitted(&self, partitions: Option<&[u32]>) -> BTreeMap<u32, u64> {
        let Some(g) = &self.group else {
            return BTreeMap::new();
        };
        self.positions
            .iter()
            .filter(|(p, _)| partitions.is_none_or(|only| only.contains(p)))
            .filter(|(p, at)| g.committed.get(p) != Some(at))
            .map(|(p, at)| (*p, *at))
            .collect()
    }

    /// How long until moved positions are due to be auto-committed (`None`: nothing to commit).
    pub(super) fn commit_due_in(&self) -> Option<Duration> {
        let g = self.group.as_ref().filter(|g| g.spec.auto_commit)?;
        if self.uncommitted(None).is_empty() {
            return None;
        }
        Some(AUTO_COMMIT_EVERY.saturating_sub(g.last_commit.elapsed()))
    }

    /// Commits moved positions when auto-commit is on and a second has passed.
    pub(super) async fn auto_commit(&mut self) -> Result<()> {
        let Some(g) = &self.group else {
            return Ok(());
        };
        if !g.spec.auto_commit || g.last_commit.elapsed() < AUTO_COMMIT_EVERY {
            return Ok(());
        }
        let group = g.spec.name.clone();
        let moved = self.uncommitted(None);
        if !moved.is_empty() {
            self.commit_now(&group, &moved).await?;
        }
        if let Some(g) = &mut self.group {
            g.last_commit = Instant::now();
        }
        Ok(())
    }

    /// Follows the group: gives up partitions another member should own (committing them
    /// first when auto-committing), claims free ones and resolves where they start. True when
    /// the assignment changed.
    ///
    /// Cancel-safe: a partition is released only after its commit returned, and a claimed one
    /// stays pending until its start position is known.
    pub(super) async fn rebalance(&mut self) -> Result<bool> {
        let Some(g) = &self.group else {
            return Ok(false);
        };
        let release = g.membership.to_release();
        if !release.is_empty() {
            if g.spec.auto_commit {
                let group = g.spec.name.clone();
                let moved = self.uncommitted(Some(&release));
                if !moved.is_empty() {
                    self.commit_now(&group, &moved).await?;
                }
            }
            for p in &release {
                self.positions.remove(p);
            }
            let Some(g) = &mut self.group else {
                return Ok(false);
            };
            for p in &release {
                g.pending.remove(p);
            }
            g.membership.release(&release);
            g.regrouped = true;
        }
        let Some(g) = &mut self.group else {
            return Ok(false);
        };
        let claimed = g.membership.claim();
        g.regrouped |= !claimed.is_empty();
        g.pending.extend(claimed);
        let (group, start) = (g.spec.name.clone(), g.start);
        for p in g.pending.clone() {
            let given = self.group.as_ref().and_then(|g| g.exact.get(&p)).copied();
            let committed = self.broker.committed_offset(&group, &self.topic, p);
            let exact = given.or(committed);
            let at = self
                .broker
                .start_position(&self.topic, p, exact, start)
                .await?;
            self.positions.insert(p, at);
            if let Some(g) = &mut self.group {
                g.pending.remove(&p);
                // What the group already has needs no commit.
                if given.is_none() && committed == Some(at) {
                    g.committed.insert(p, at);
                }
            }
        }
        let assigned: Vec<u32> = self.positions.keys().copied().collect();
        let Some(g) = &mut self.group else {
            return Ok(false);
        };
        let changed = std::mem::take(&mut g.regrouped);
        if changed {
            g.announce = Some(assigned);
        }
        Ok(changed)
    }
}

impl Drop for Subscription {
    /// Leaving a group: an auto-committing member commits what it delivered, then lets its
    /// partitions go (in that order, so the next owner starts where this one stopped).
    fn drop(&mut self) {
        let moved = commits_of(&self.topic, &self.uncommitted(None));
        let Some(g) = self.group.take() else {
            return;
        };
        if !g.spec.auto_commit || moved.is_empty() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let broker = self.broker.clone();
        let leaving = broker.inner.leaving.clone();
        leaving.spawn_on(
            async move {
                if let Err(e) = broker.commit_offsets(&g.spec.name, &moved).await {
                    tracing::warn!(group = %g.spec.name, error = %e, "Committing on leave failed.");
                }
                drop(g);
            },
            &runtime,
        );
    }
}

/// The commit entries for `offsets` of one topic's partitions.
fn commits_of(topic: &TopicName, offsets: &BTreeMap<u32, u64>) -> Vec<GroupOffsetCommit> {
    offsets
        .iter()
        .map(|(&partition, &offset)| GroupOffsetCommit {
            topic: topic.as_str().to_owned(),
            partition,
            offset,
        })
        .collect()
}
