//! One partition: its segment list, the append path with group commit, the high watermark
//! and its wake-ups, and reads across segments.
//!
//! Owns the partition lock and durability bookkeeping. It must not decide retention or
//! compaction (those modules do, through the `pub(crate)` hooks here) and knows nothing of
//! topics beyond the name it reports in errors.

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
};

use parking_lot::{Mutex, RwLock};
use tokio::sync::watch;

use super::{
    config::{FsyncPolicy, TopicConfig},
    error::{Error, Result},
    record::{self, TooLarge},
    segment::Segment,
    store::MaintenanceReport,
    {compaction, retention},
};
use crate::{
    durable::fs::FsRef,
    event::{Record, TopicName},
};

mod finish;
mod open;
mod read;

pub use read::ReadResult;

/// Log-wide settings a partition needs.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub fsync: FsyncPolicy,
    pub index_interval: u32,
    pub fs: FsRef,
    /// Most distinct keys one compaction pass may hold in its offset map.
    pub compaction_map_entries: usize,
}

/// Mutable append state, only touched under the partition lock.
struct State {
    next_offset: u64,
    active_size: u64,
    /// Timestamp of the active segment's first batch: segment.ms counts from it.
    first_timestamp: Option<i64>,
    closed: bool,
}

/// Durability bookkeeping shared with blocking fsync tasks, which may outlive a cancelled
/// appender and must still publish their result.
struct Durability {
    /// Offsets below this are written (not necessarily durable).
    written: AtomicU64,
    /// Offsets below this are fsynced.
    synced: AtomicU64,
    /// The visible end (high watermark).
    hw: watch::Sender<u64>,
    poisoned: AtomicBool,
    /// Appends are refused (log closed or topic deleted); waiters are woken to notice.
    closed: AtomicBool,
    fsyncs: AtomicU64,
}

impl Durability {
    fn publish(&self, end: u64) {
        self.hw.send_if_modified(|hw| {
            let advance = end > *hw;
            if advance {
                *hw = end;
            }
            advance
        });
    }

    fn mark_synced(&self, end: u64, publish: bool) {
        self.fsyncs.fetch_add(1, Ordering::Relaxed);
        self.synced.fetch_max(end, Ordering::AcqRel);
        if publish {
            self.publish(end);
        }
    }
}

/// One partition of a topic.
pub struct Partition {
    topic: TopicName,
    id: u32,
    dir: PathBuf,
    settings: Settings,
    config: Arc<RwLock<TopicConfig>>,
    state: Mutex<State>,
    /// Snapshot for readers; replaced (never mutated) under `state`. The last is active.
    segments: RwLock<Arc<Vec<Arc<Segment>>>>,
    durability: Arc<Durability>,
    /// Rolled segments not yet on disk, and the prepared next segment file.
    finisher: Arc<finish::Finisher>,
    /// Serializes fsync rounds: whoever holds it syncs for everyone written so far.
    sync_gate: tokio::sync::Mutex<()>,
    /// Serializes maintenance passes (roll by age, retention, compaction).
    maintenance: Mutex<()>,
    /// Where compaction got to; only touched under `maintenance`.
    compaction: Mutex<compaction::Progress>,
}

impl Partition {
    /// Opens (creating if missing) a partition directory, recovering what may be torn.
    pub(crate) fn open(
        topic: TopicName,
        id: u32,
        dir: PathBuf,
        settings: Settings,
        config: Arc<RwLock<TopicConfig>>,
    ) -> Result<Self> {
        let open::Recovered {
            segments,
            tail,
            finisher,
        } = open::recover(&dir, &settings)?;
        let active_size = segments.last().map_or(0, |s| s.len());
        let next = tail.next_offset;
        Ok(Self {
            topic,
            id,
            dir,
            settings,
            config,
            state: Mutex::new(State {
                next_offset: next,
                active_size,
                first_timestamp: tail.first_timestamp,
                closed: false,
            }),
            segments: RwLock::new(Arc::new(segments)),
            durability: Arc::new(Durability {
                written: AtomicU64::new(next),
                synced: AtomicU64::new(next),
                hw: watch::Sender::new(next),
                poisoned: AtomicBool::new(false),
                closed: AtomicBool::new(false),
                fsyncs: AtomicU64::new(0),
            }),
            finisher: Arc::new(finisher),
            sync_gate: tokio::sync::Mutex::new(()),
            maintenance: Mutex::new(()),
            compaction: Mutex::default(),
        })
    }

    pub fn id(&self) -> u32 {
        self.id
    }

    /// Appends `records` as ONE batch (all or nothing) and returns the base offset once the
    /// batch is durable per the FsyncPolicy. Empty slice → `Ok(end_offset())`, nothing written.
    ///
    /// # Cancel safety
    /// If the future is dropped after the write started, the batch may still land; it never
    /// lands partially.
    ///
    /// # Errors
    /// `BatchTooLarge`, `Poisoned`, `Closed`, `Io`.
    pub async fn append(&self, records: &[Record]) -> Result<u64> {
        if records.is_empty() {
            return Ok(self.end_offset());
        }
        let max = self.config.read().max_message_bytes as usize;
        // Encoding and checksumming happen before the lock: the lock only covers the write.
        let enc = record::encode((0u32..).zip(records), Some(now_ms()), max)
            .map_err(|TooLarge(size, limit)| Error::BatchTooLarge { size, limit })?;
        let (base, end) = self.write_batch(enc)?;
        if self.settings.fsync == FsyncPolicy::Always {
            self.wait_durable(end).await?;
        }
        Ok(base)
    }

    fn write_batch(&self, mut enc: record::EncodedBatch) -> Result<(u64, u64)> {
        let segment_bytes = self.config.read().segment_bytes;
        let mut st = self.state.lock();
        self.check_writable(&st)?;
        let len = enc.bytes.len() as u64;
        let span = u64::from(enc.last_delta);
        let base_of_active = self.active().base();
        if st.active_size > 0
            && (st.active_size + len > u64::from(u32::MAX)
                || st.next_offset + span - base_of_active > u64::from(u32::MAX))
        {
            self.roll_locked(&mut st)?;
        }
        let active = self.active();
        let base = st.next_offset;
        record::set_base_offset(&mut enc.bytes, base);
        let pos = st.active_size;
        if let Err(source) = active.write_at(pos, &enc.bytes) {
            let cut = active.file().set_len(pos);
            if let Err(e) = &cut {
                tracing::error!(path = %active.path().display(), error = %e, "cannot cut a partial batch");
            }
            // A full disk took part of the batch at most, and the cut removed it: the next
            // append may succeed once space is freed. Any other failure leaves the file in an
            // unknown state, so the partition refuses writes from now on.
            if source.kind() != std::io::ErrorKind::StorageFull || cut.is_err() {
                self.durability.poisoned.store(true, Ordering::Release);
            }
            return Err(Error::Io {
                path: active.path().clone(),
                source,
            });
        }
        active.commit(
            base,
            len,
            enc.max_timestamp,
            pos,
            self.settings.index_interval,
        );
        st.active_size = pos + len;
        st.next_offset = base + span + 1;
        st.first_timestamp.get_or_insert(enc.max_timestamp);
        self.durability
            .written
            .store(st.next_offset, Ordering::Release);
        if self.settings.fsync != FsyncPolicy::Always {
            self.durability.publish(st.next_offset);
        }
        let end = st.next_offset;
        if st.active_size >= segment_bytes {
            self.roll_locked(&mut st)?;
        }
        Ok((base, end))
    }

    fn check_writable(&self, st: &State) -> Result<()> {
        let (topic, partition) = (self.topic.clone(), self.id);
        if st.closed {
            return Err(Error::Closed { topic, partition });
        }
        if self.durability.poisoned.load(Ordering::Acquire) {
            return Err(Error::Poisoned { topic, partition });
        }
        Ok(())
    }

    /// Group commit: returns once an fdatasync covering `end` has completed.
    async fn wait_durable(&self, end: u64) -> Result<()> {
        loop {
            if self.durability.synced.load(Ordering::Acquire) >= end {
                return Ok(());
            }
            if self.durability.poisoned.load(Ordering::Acquire) {
                return Err(Error::Poisoned {
                    topic: self.topic.clone(),
                    partition: self.id,
                });
            }
            let _gate = self.sync_gate.lock().await;
            if self.durability.synced.load(Ordering::Acquire) >= end {
                return Ok(());
            }
            self.sync_round().await?;
        }
    }

    /// One fsync of everything written so far: segments closed by rolls since the last round
    /// (and the directory entries of their successors), then the active one. The caller holds
    /// `sync_gate`.
    async fn sync_round(&self) -> Result<()> {
        if self.durability.poisoned.load(Ordering::Acquire) {
            return Err(Error::Poisoned {
                topic: self.topic.clone(),
                partition: self.id,
            });
        }
        // Under the state lock, so every offset below `written` is in the active segment or in
        // one a roll has already queued on the finisher.
        let (segment, written) = {
            let _st = self.state.lock();
            (
                self.active(),
                self.durability.written.load(Ordering::Acquire),
            )
        };
        let durability = Arc::clone(&self.durability);
        let finisher = Arc::clone(&self.finisher);
        let publish = self.settings.fsync == FsyncPolicy::Always;
        let path = segment.path().clone();
        let task = tokio::task::spawn_blocking(move || {
            match finisher.finish().and_then(|()| segment.sync_data()) {
                Ok(()) => {
                    durability.mark_synced(written, publish);
                    Ok(())
                }
                Err(e) => {
                    durability.poisoned.store(true, Ordering::Release);
                    Err(e)
                }
            }
        });
        task.await.map_err(|e| Error::Io {
            path,
            source: std::io::Error::other(e),
        })?
    }

    /// Fsyncs whatever is written but not yet durable (Interval flusher, close).
    pub(crate) async fn sync_now(&self) -> Result<()> {
        if !self.needs_sync() || self.durability.poisoned.load(Ordering::Acquire) {
            return Ok(());
        }
        let _gate = self.sync_gate.lock().await;
        if !self.needs_sync() {
            return Ok(());
        }
        self.sync_round().await
    }

    pub(crate) fn needs_sync(&self) -> bool {
        self.durability.synced.load(Ordering::Acquire)
            < self.durability.written.load(Ordering::Acquire)
            || self.finisher.has_pending()
    }

    /// Blocking. Finishes rolls (fsync, index files, marker) so the next start trusts the
    /// closed segments without a scan: maintenance passes and close call it, which is what
    /// makes closed segments durable under `never`. A failure poisons the partition.
    pub(crate) fn finish_rolls(&self) -> Result<()> {
        self.finisher
            .finish()
            .inspect_err(|_| self.durability.poisoned.store(true, Ordering::Release))
    }

    /// Refuses further appends (log closed or topic deleted) and wakes every waiter, so a
    /// subscriber of a deleted topic learns of it at once.
    pub(crate) fn mark_closed(&self) {
        self.state.lock().closed = true;
        self.durability.closed.store(true, Ordering::Release);
        self.durability.hw.send_modify(|_| {});
    }

    /// Closes the active segment and starts a new one at the next offset. Under the lock, so
    /// it only renames the prepared file: the fsyncs happen in the next sync round (or
    /// maintenance pass), off the lock.
    fn roll_locked(&self, st: &mut State) -> Result<()> {
        if st.active_size == 0 {
            return Ok(());
        }
        let new = self
            .finisher
            .roll(self.active(), st.next_offset)
            .inspect_err(|_| self.durability.poisoned.store(true, Ordering::Release))?;
        let mut segments = Vec::clone(&self.segments());
        segments.push(Arc::new(new));
        *self.segments.write() = Arc::new(segments);
        st.active_size = 0;
        st.first_timestamp = None;
        Ok(())
    }

    /// Rolls now if the active segment has data.
    #[cfg(test)]
    pub(crate) fn roll(&self) -> Result<bool> {
        let mut st = self.state.lock();
        self.check_writable(&st)?;
        let rolled = st.active_size > 0;
        self.roll_locked(&mut st)?;
        Ok(rolled)
    }

    /// Bytes on disk for this partition (sum of segment sizes).
    pub fn size_bytes(&self) -> u64 {
        self.segments().iter().map(|s| s.len()).sum()
    }

    /// fdatasync calls performed for appends so far (group commit makes this << appends).
    pub fn fsync_count(&self) -> u64 {
        self.durability.fsyncs.load(Ordering::Relaxed)
    }

    /// Number of segments, the last one being active.
    pub fn segment_count(&self) -> usize {
        self.segments().len()
    }

    /// One maintenance pass: roll by age, finish rolls, then retention or compaction per
    /// cleanup policy (both only touch segments whose roll is finished).
    pub(crate) fn maintain(&self, now_ms: i64, report: &mut MaintenanceReport) -> Result<()> {
        let _pass = self.maintenance.lock();
        let config = self.config.read().clone();
        {
            let mut st = self.state.lock();
            let aged = st
                .first_timestamp
                .is_some_and(|t| now_ms.saturating_sub(t) >= config.segment_ms);
            if aged && self.check_writable(&st).is_ok() && st.active_size > 0 {
                self.roll_locked(&mut st)?;
                report.segments_rolled += 1;
            }
        }
        if !self.durability.poisoned.load(Ordering::Acquire) {
            self.finish_rolls()?;
        }
        match config.cleanup_policy {
            super::CleanupPolicy::Delete => retention::apply(self, now_ms, &config, report),
            super::CleanupPolicy::Compact => compaction::compact(self, now_ms, &config, report),
        }
    }

    pub(crate) fn segments(&self) -> Arc<Vec<Arc<Segment>>> {
        Arc::clone(&self.segments.read())
    }

    fn active(&self) -> Arc<Segment> {
        Arc::clone(
            self.segments
                .read()
                .last()
                .expect("a partition always has an active segment"),
        )
    }

    /// Replaces closed segments by base: `Some` swaps in a rewritten one, `None` drops it.
    /// The active segment is never touched. Returns the segments taken out.
    pub(crate) fn replace_closed(
        &self,
        changes: &[(u64, Option<Arc<Segment>>)],
    ) -> Vec<Arc<Segment>> {
        let _st = self.state.lock();
        let current = self.segments();
        let (active, closed) = current
            .split_last()
            .expect("a partition always has an active segment");
        let mut out = Vec::with_capacity(current.len());
        let mut removed = Vec::new();
        for s in closed {
            match changes.iter().find(|(b, _)| *b == s.base()) {
                None => out.push(Arc::clone(s)),
                Some((_, replacement)) => {
                    removed.push(Arc::clone(s));
                    out.extend(replacement.iter().cloned());
                }
            }
        }
        out.push(Arc::clone(active));
        *self.segments.write() = Arc::new(out);
        removed
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn index_interval(&self) -> u32 {
        self.settings.index_interval
    }

    pub(crate) fn compaction_progress(&self) -> &Mutex<compaction::Progress> {
        &self.compaction
    }

    pub(crate) fn settings(&self) -> &Settings {
        &self.settings
    }

    pub(crate) fn fs(&self) -> &FsRef {
        &self.settings.fs
    }
}

pub(crate) fn now_ms() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
