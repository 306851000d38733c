//! A subscription's use of the topic's shared tail reader ([`crate::broker::fanout`]): join it
//! once at the end of the log, take its batches while they continue exactly from this
//! subscription's positions, and fall back to reading storage itself when they do not.
//!
//! Owns waiting for new records (the reader's next batch when joined, else the append path's
//! wake-ups) and the switch between the two ways of reading, so that neither loses nor repeats a
//! record: a batch is used only if it covers every followed partition from at or before the
//! subscription's position. It must not filter (that is the subscription's `refine`).

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;

use tokio::sync::broadcast::error::TryRecvError;

use crate::broker::Result;
use crate::broker::storage::Storage;

use super::{Delivery, Subscription};
use crate::broker::fanout::{TailBatch, TailReceiver, continues, take};

/// What a subscription took from the shared reader.
pub(super) struct Shared {
    pub(super) deliveries: Vec<Delivery>,
    /// The positions after them.
    pub(super) positions: BTreeMap<u32, u64>,
    /// The encoding slot of the batch, when they are exactly one whole batch.
    pub(super) whole: Option<Arc<OnceLock<Bytes>>>,
}

/// How a subscription relates to its topic's shared reader.
pub(super) enum Tail {
    /// It is the shared reader (its deliveries get encoding slots to share).
    Reader,
    /// It reads storage itself, and joins when it reaches the end.
    Joinable,
    /// It takes the reader's batches; `stash` is one received but not yet used.
    Joined {
        rx: TailReceiver,
        stash: Option<Arc<TailBatch>>,
    },
}

impl Tail {
    pub(super) fn shares_encoding(&self) -> bool {
        matches!(self, Self::Reader)
    }
}

impl Subscription {
    /// Starts taking the shared reader's batches (a no-op for the reader itself, when joined
    /// already, or with no partition to follow).
    pub(super) fn join_tail(&mut self) {
        if matches!(self.tail, Tail::Joinable) && !self.positions.is_empty() {
            let rx = self.broker.tail(&self.topic, &self.positions);
            self.tail = Tail::Joined { rx, stash: None };
        }
    }

    /// Whole shared batches that continue from the positions, up to `max_records` records
    /// and about `max_bytes` in all; `None` when none could be used (the caller reads
    /// storage). A batch that does not continue, a lagged or closed channel, or one
    /// batch larger than `max_records` leaves the shared reader until the next time at the
    /// tail.
    pub(super) fn take_shared(&mut self, max_records: usize, max_bytes: usize) -> Option<Shared> {
        let Tail::Joined { rx, stash } = &mut self.tail else {
            return None;
        };
        let mut positions = self.positions.clone();
        let mut out = Vec::new();
        let mut took = false;
        // The one batch taken, while it is all that was taken and taken whole.
        let mut whole: Option<Arc<OnceLock<Bytes>>> = None;
        let mut leave = false;
        let mut bytes = 0usize;
        loop {
            if took && bytes >= max_bytes {
                break;
            }
            let batch = match stash.take() {
                Some(batch) => batch,
                None => match rx.rx.try_recv() {
                    Ok(batch) => batch,
                    Err(TryRecvError::Empty) => break,
                    Err(_) => {
                        leave = true;
                        break;
                    }
                },
            };
            if !continues(&batch, &positions) {
                leave = true;
                break;
            }
            if batch.deliveries.len() > max_records.saturating_sub(out.len()) {
                if took {
                    *stash = Some(batch);
                } else {
                    leave = true;
                }
                break;
            }
            let (taken, moved) = take(&batch, &positions);
            whole = (!took && taken.len() == batch.deliveries.len())
                .then(|| Arc::clone(&batch.encoding));
            bytes += taken
                .iter()
                .map(|d| d.record.record.payload_len())
                .sum::<usize>();
            positions.extend(moved);
            out.extend(taken);
            took = true;
        }
        if leave {
            self.tail = Tail::Joinable;
        }
        took.then_some(Shared {
            deliveries: out,
            positions,
            whole,
        })
    }

    /// Waits for the shared reader's next batch, a group change, or `wait`; false when
    /// nothing arrived. Not joined: returns false at once.
    pub(super) async fn wait_shared(&mut self, wait: Duration) -> bool {
        let got = {
            let Tail::Joined { rx, .. } = &mut self.tail else {
                return false;
            };
            let group = &self.group;
            let regrouped = async {
                match group {
                    Some(g) => g.changed().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                got = rx.rx.recv() => Some(got),
                () = regrouped => None,
                () = tokio::time::sleep(wait) => None,
            }
        };
        match got {
            Some(Ok(batch)) => {
                if let Tail::Joined { stash, .. } = &mut self.tail {
                    *stash = Some(batch);
                }
                true
            }
            // Lagged or closed: read storage until the tail again.
            Some(Err(_)) => {
                self.tail = Tail::Joinable;
                true
            }
            None => false,
        }
    }

    /// Whether this subscription takes the shared reader's batches now.
    pub(super) fn joined_tail(&self) -> bool {
        matches!(self.tail, Tail::Joined { .. })
    }

    /// Whether the next records come through the shared reader's channel, so that this
    /// subscription waits for them there instead of reading storage (which, while the reader
    /// lingers over a batch, would read and encode the same records once per subscriber).
    /// False, and no longer joined, when the reader has already published past a position.
    pub(super) fn awaits_shared(&mut self) -> bool {
        let Tail::Joined { rx, .. } = &self.tail else {
            return false;
        };
        if rx.passed(&self.positions) {
            self.tail = Tail::Joinable;
            return false;
        }
        true
    }

    /// Waits until any followed partition has a record at or past its position, the group
    /// changes, or `wait` passes.
    pub(super) async fn wait(&mut self, wait: Duration) -> Result<bool> {
        if self.joined_tail() {
            // The reader may have published past us before we joined (between our last read of
            // storage and the subscribe): then nothing coming through the channel would bring
            // those records, and storage has them now.
            if !self.awaits_shared() {
                return Ok(true);
            }
            return Ok(self.wait_shared(wait).await);
        }
        let storage = &self.broker.inner.storage;
        let topic = &self.topic;
        let waits: Vec<_> = self
            .positions
            .iter()
            .map(|(&p, &at)| Box::pin(async move { storage.wait_for(topic, p, at, wait).await }))
            .collect();
        // A group member also wakes when the group changes (it may gain or lose partitions).
        let regrouped = async {
            match &self.group {
                Some(g) => g.changed().await,
                None => std::future::pending().await,
            }
        };
        if waits.is_empty() {
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = regrouped => {}
            }
            return Ok(false);
        }
        tokio::select! {
            (arrived, _, _) = futures_util::future::select_all(waits) => Ok(arrived?),
            () = regrouped => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use std::collections::BTreeMap;
    use std::time::Duration;

    use crate::broker::tests::{Harness, MemoryHarness, create, record};
    use crate::broker::{BrokerConfig, StartAt, SubscriptionSpec};

    /// A subscriber that joins the shared reader after it published records the subscriber
    /// has not delivered reads them from storage at once, instead of waiting for a batch that
    /// will not bring them.
    #[tokio::test]
    async fn joining_behind_the_reader_reads_what_it_already_published() {
        let broker = MemoryHarness::new().open(BrokerConfig::default()).await;
        create(&broker, "tail", 1, &[]).await;
        let latest = || SubscriptionSpec {
            start: StartAt::Latest,
            ..SubscriptionSpec::default()
        };
        let mut first = broker.subscribe("tail", latest()).await.unwrap();
        // At the end: this poll joins the shared reader.
        let none = first.poll(10, 1 << 20, Duration::ZERO).await.unwrap();
        assert!(none.is_empty());
        assert!(first.joined_tail());
        let records = (0..5).map(|i| record(None, &format!("v{i}"))).collect();
        broker.produce("tail", records, None).await.unwrap();
        let mut got = Vec::new();
        let mut whole = false;
        while got.len() < 5 {
            let batch = first.poll(10, 1 << 20, Duration::from_secs(30)).await;
            got.extend(batch.unwrap().into_iter().map(|d| d.record.offset));
            whole |= first.batch_encoding().is_some();
        }
        assert_eq!(got, vec![0, 1, 2, 3, 4]);
        assert!(first.joined_tail(), "served by the shared reader");
        assert!(whole, "whole shared batches carry one encoding slot");

        // A second subscriber joins while still owing offsets 2..5, which the reader published
        // before it joined; no further append comes.
        let mut second = broker.subscribe("tail", latest()).await.unwrap();
        second.positions = BTreeMap::from([(0, 2)]);
        second.join_tail();
        assert!(second.joined_tail());
        let batch = second.poll(10, 1 << 20, Duration::from_secs(30)).await;
        let offsets: Vec<u64> = batch.unwrap().iter().map(|d| d.record.offset).collect();
        assert_eq!(offsets, vec![2, 3, 4]);

        // The same when the join happens after a read found nothing and the subscriber goes
        // straight to waiting: the wait ends at once, for storage to be read.
        let mut third = broker.subscribe("tail", latest()).await.unwrap();
        third.positions = BTreeMap::from([(0, 3)]);
        third.join_tail();
        assert!(third.wait(Duration::from_secs(30)).await.unwrap());
        assert!(!third.joined_tail(), "back to reading storage");
        let batch = third.poll(10, 1 << 20, Duration::ZERO).await;
        let offsets: Vec<u64> = batch.unwrap().iter().map(|d| d.record.offset).collect();
        assert_eq!(offsets, vec![3, 4]);
        assert!(
            third.batch_encoding().is_none(),
            "read from storage, not shared"
        );
    }
}
