//! Live consumer-group membership: balances a topic's partitions across the live subscribers
//! of a group in this process, and moves a partition only once its old owner let it go.
//!
//! Owns who is a member, which partitions each member should own (round robin over members in
//! join order) and which it does own. A rebalance is cooperative, like Kafka's incremental
//! protocol: a member that must give a partition up commits its position first, then releases
//! it; only then can the new owner claim it and start from the committed offset, so no record
//! is skipped. Members are woken through their [`Notify`] on every change. It must not read
//! offsets or storage: the subscription does that around these calls.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use tokio::sync::Notify;

/// Every live group of the process, by (group, topic).
#[derive(Default)]
pub(super) struct Coordinator {
    groups: Mutex<HashMap<(String, String), Members>>,
    next_id: AtomicU64,
}

/// One group's live members on one topic.
#[derive(Default)]
struct Members {
    /// Member id (ascending = join order) → its wake-up.
    wakes: BTreeMap<u64, Arc<Notify>>,
    /// Partition → the member that owns it now.
    owner: BTreeMap<u32, u64>,
    partitions: u32,
}

impl Members {
    /// The partitions `member` should own: every n-th, by its rank in join order.
    fn target(&self, member: u64) -> BTreeSet<u32> {
        let n = self.wakes.len().max(1);
        let Some(rank) = self.wakes.keys().position(|id| *id == member) else {
            return BTreeSet::new();
        };
        (0..self.partitions)
            .filter(|p| *p as usize % n == rank)
            .collect()
    }

    fn owned(&self, member: u64) -> BTreeSet<u32> {
        self.owner
            .iter()
            .filter(|(_, m)| **m == member)
            .map(|(p, _)| *p)
            .collect()
    }

    fn wake_all(&self) {
        for wake in self.wakes.values() {
            wake.notify_one();
        }
    }
}

/// One subscriber's place in a group; leaving the group is dropping it.
pub(super) struct Membership {
    coordinator: Arc<Coordinator>,
    key: (String, String),
    id: u64,
    wake: Arc<Notify>,
}

impl Coordinator {
    /// Joins `group` on `topic` (which has `partitions` partitions) and wakes the other
    /// members, which give up what the newcomer should own.
    pub(super) fn join(self: &Arc<Self>, group: &str, topic: &str, partitions: u32) -> Membership {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let wake = Arc::new(Notify::new());
        let key = (group.to_owned(), topic.to_owned());
        let mut groups = self.groups.lock();
        let members = groups.entry(key.clone()).or_default();
        members.partitions = members.partitions.max(partitions);
        members.wakes.insert(id, Arc::clone(&wake));
        members.wake_all();
        Membership {
            coordinator: Arc::clone(self),
            key,
            id,
            wake,
        }
    }
}

impl Membership {
    fn with<T>(&self, f: impl FnOnce(&mut Members) -> T) -> Option<T> {
        self.coordinator.groups.lock().get_mut(&self.key).map(f)
    }

    /// Partitions this member owns but should give up (commit, then [`Self::release`]).
    pub(super) fn to_release(&self) -> Vec<u32> {
        self.with(|m| {
            m.owned(self.id)
                .difference(&m.target(self.id))
                .copied()
                .collect()
        })
        .unwrap_or_default()
    }

    /// Gives partitions up and wakes the members that may claim them.
    pub(super) fn release(&self, partitions: &[u32]) {
        self.with(|m| {
            for p in partitions {
                if m.owner.get(p) == Some(&self.id) {
                    m.owner.remove(p);
                }
            }
            m.wake_all();
        });
    }

    /// Takes the partitions this member should own that nobody owns; returns them.
    pub(super) fn claim(&self) -> Vec<u32> {
        self.with(|m| {
            let free: Vec<u32> = m
                .target(self.id)
                .into_iter()
                .filter(|p| !m.owner.contains_key(p))
                .collect();
            for p in &free {
                m.owner.insert(*p, self.id);
            }

            free
        })
        .unwrap_or_default()
    }

    /// Whether this member owns `partition` now.
    pub(super) fn owns(&self, partition: u32) -> bool {
        self.with(|m| m.owner.get(&partition) == Some(&self.id))
            .unwrap_or(false)
    }

    /// Resolves when the group changed since the last call (a member joined, left or released).
    pub(super) async fn changed(&self) {
        self.wake.notified().await;
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        let mut groups = self.coordinator.groups.lock();
        let Some(members) = groups.get_mut(&self.key) else {
            return;
        };
        members.wakes.remove(&self.id);
        members.owner.retain(|_, m| *m != self.id);
        if members.wakes.is_empty() {
            groups.remove(&self.key);
        } else {
            members.wake_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_move_only_after_release() {
        let coordinator = Arc::new(Coordinator::default());
        let a = coordinator.join("g", "t", 4);
        assert_eq!(a.claim(), vec![0, 1, 2, 3]);
        let b = coordinator.join("g", "t", 4);
        // b should own 1 and 3, but a holds them until it releases.
        assert!(b.claim().is_empty());
        assert_eq!(a.to_release(), vec![1, 3]);
        a.release(&[1, 3]);
        assert_eq!(b.claim(), vec![1, 3]);
        assert!(b.owns(3) && !a.owns(3) && a.owns(2));
        drop(a);
        assert_eq!(b.claim(), vec![0, 2]);
        drop(b);
        assert!(coordinator.groups.lock().is_empty());
    }
}
