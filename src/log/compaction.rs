//! Log compaction: keeps only the latest record per key in closed, finished segments.
//!
//! Owns the offset map, the per-partition cleaning progress and rewriting a segment into
//! `.cleaned` swapped in by rename. It must never change an offset, touch the active segment
//! or a segment whose roll is not finished, or hold the partition lock while rewriting.
//!
//! Memory is bounded the way Kafka's cleaner bounds it: the map holds a 16-byte hash of each
//! key (not the key) and at most `compaction_map_entries` of them. It is built over the dirty
//! part of the log, from where the last pass stopped; when it fills up the pass stops there
//! and the next pass goes on from that point.

use std::{collections::HashMap, sync::Arc};

use sha2::{Digest, Sha256};

use super::{
    config::TopicConfig,
    error::{Error, Result, io},
    index::SparseIndex,
    layout,
    partition::Partition,
    record::{self, Records},
    segment::{Segment, Visit},
    store::MaintenanceReport,
};
use crate::{durable::fs::OpenMode, event::StoredRecord};

/// What earlier passes of one partition established.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    /// Every record below this was in the offset map of some pass: records older than it
    /// with the same key are gone.
    cleaned_to: u64,
    /// The oldest tombstone kept by the last pass, which a later pass may have to expire.
    oldest_tombstone: Option<i64>,
    /// Most entries the offset map held in any pass (for tests and metrics).
    pub(crate) peak_map_entries: usize,
    /// Passes that read the partition (skipped ones do not count).
    pub(crate) passes: u64,
}

/// Key hash → offset of the latest record with that key, bounded in entries.
struct OffsetMap {
    latest: HashMap<u128, u64>,
    capacity: usize,
}

impl OffsetMap {
    /// Records `offset` for `key`; false when the key is new and the map is full.
    fn put(&mut self, key: &[u8], offset: u64) -> bool {
        let len = self.latest.len();
        match self.latest.entry(hash(key)) {
            std::collections::hash_map::Entry::Occupied(mut e) => {
                e.insert(offset);
                true
            }
            std::collections::hash_map::Entry::Vacant(e) if len < self.capacity => {
                e.insert(offset);
                true
            }
            std::collections::hash_map::Entry::Vacant(_) => false,
        }
    }

    fn get(&self, key: &[u8]) -> Option<u64> {
        self.latest.get(&hash(key)).copied()
    }
}

/// 128 bits of SHA-256: a collision (which would drop a record wrongly) is as unlikely as
/// with Kafka's MD5.
fn hash(key: &[u8]) -> u128 {
    let d = Sha256::digest(key);
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    u128::from_le_bytes(b)
}

/// Compacts the finished closed segments of `p` that hold superseded records or expired
/// tombstones. A partition with nothing new since the last pass and no tombstone due is
/// skipped without reading anything.
pub(crate) fn compact(
    p: &Partition,
    now_ms: i64,
    config: &TopicConfig,
    report: &mut MaintenanceReport,
) -> Result<()> {
    let segments = p.segments();
    let Some((active, closed)) = segments.split_last() else {
        return Ok(());
    };
    // Only a prefix of finished segments: their data is on disk, so nothing that supersedes
    // a record can vanish in a crash, and their markers are durable.
    let cleanable = &closed[..closed.iter().take_while(|s| s.is_marked_synced()).count()];
    if cleanable.is_empty() {
        return Ok(());
    }
    let cleanable_end = closed.get(cleanable.len()).unwrap_or(active).base();
    let tombstone_cutoff = now_ms.saturating_sub(config.delete_retention_ms);
    let mut progress = p.compaction_progress().lock();
    let tombstone_due = progress
        .oldest_tombstone
        .is_some_and(|t| t < tombstone_cutoff);
    if progress.cleaned_to >= cleanable_end && !tombstone_due {
        return Ok(());
    }
    progress.passes += 1;
    let (map, map_end) = build_map(p, cleanable, progress.cleaned_to, cleanable_end)?;
    progress.peak_map_entries = progress.peak_map_entries.max(map.latest.len());
    let keep = |r: &StoredRecord| match &r.record.key {
        None => true,
        Some(k) => {
            let superseded = map.get(k).is_some_and(|o| o > r.offset);
            // Only a tombstone that was in some pass's map may expire: that pass removed
            // every older record of its key, so nothing can resurface.
            let expired = r.record.value.is_none()
                && r.record.timestamp < tombstone_cutoff
                && r.offset < map_end;
            !superseded && !expired
        }
    };
    let mut changes = Vec::new();
    let mut oldest_tombstone = None::<i64>;
    for s in cleanable {
        let mut dropped = 0u64;
        for_each_record(s, |r| {
            if keep(&r) {
                if r.record.key.is_some() && r.record.value.is_none() {
                    let ts = r.record.timestamp;
                    oldest_tombstone = Some(oldest_tombstone.map_or(ts, |o| o.min(ts)));
                }
            } else {
                dropped += 1;
            }
            Ok(Visit::Continue)
        })?;
        if dropped == 0 {
            continue;
        }
        changes.push((s.base(), rewrite(p, s, &keep)?.map(Arc::new)));
        report.records_removed += dropped;
        report.segments_compacted += 1;
    }
    progress.cleaned_to = map_end;
    progress.oldest_tombstone = oldest_tombstone;
    if changes.is_empty() {
        return Ok(());
    }
    for s in p.replace_closed(&changes) {
        if changes
            .iter()
            .any(|(b, new)| *b == s.base() && new.is_none())
        {
            s.remove_files()?;
            report.segments_deleted += 1;
        }
    }
    layout::fsync_dir(&**p.fs(), p.dir())
}

/// Maps the keys of records in `[from, end)` of `segments` until the map is full. Returns
/// the map and where it stopped (exclusive).
fn build_map(
    p: &Partition,
    segments: &[Arc<Segment>],
    from: u64,
    end: u64,
) -> Result<(OffsetMap, u64)> {
    let capacity = p.settings().compaction_map_entries;
    let mut map = OffsetMap {
        latest: HashMap::with_capacity(capacity.min(4096)),
        capacity,
    };
    let mut map_end = end;
    let first = segments
        .partition_point(|s| s.base() <= from)
        .saturating_sub(1);
    'segments: for s in &segments[first..] {
        let mut full = false;
        for_each_record(s, |r| {
            if r.offset < from {
                return Ok(Visit::Continue);
            }
            if let Some(k) = &r.record.key
                && !map.put(k, r.offset)
            {
                map_end = r.offset;
                full = true;
                return Ok(Visit::Stop);
            }
            Ok(Visit::Continue)
        })?;
        if full {
            break 'segments;
        }
    }
    Ok((map, map_end.max(from)))
}

fn for_each_record(s: &Segment, mut f: impl FnMut(StoredRecord) -> Result<Visit>) -> Result<()> {
    s.scan(|pos, h, batch| {
        for r in Records::new(batch, h) {
            let (r, _) = r.map_err(|e| s.corrupt(pos, &e))?;
            if let Visit::Stop = f(r)? {
                return Ok(Visit::Stop);
            }
        }
        Ok(Visit::Continue)
    })?;
    Ok(())
}

/// Output is written in chunks of this size (one positional write each).
const WRITE_CHUNK: usize = 1 << 20;

/// Writes the kept records of `s` to `.cleaned` and renames it over the segment. Returns the
/// new segment, or `None` (files untouched, caller deletes) if nothing is kept.
fn rewrite(
    p: &Partition,
    s: &Segment,
    keep: &impl Fn(&StoredRecord) -> bool,
) -> Result<Option<Segment>> {
    let interval = p.index_interval();
    let fs = p.fs();
    // Readers of the old snapshot must never lazily load the NEW index files.
    s.with_index(interval, |_| ())?;
    let paths = s.paths().clone();
    let file = fs
        .open(&paths.cleaned, OpenMode::CreateTruncate)
        .map_err(io(&paths.cleaned))?;
    let mut buf = Vec::with_capacity(WRITE_CHUNK);
    let mut flushed = 0u64;
    let mut index = SparseIndex::default();
    let mut pos = 0u64;
    let written = s.scan(|at, h, batch| {
        let mut kept = Vec::new();
        for r in Records::new(batch, h) {
            let (r, _) = r.map_err(|e| s.corrupt(at, &e))?;
            if keep(&r) {
                kept.push(r);
            }
        }
        let Some(first) = kept.first().map(|r| r.offset) else {
            return Ok(Visit::Continue);
        };
        let mut deltas = Vec::with_capacity(kept.len());
        for r in &kept {
            let delta = u32::try_from(r.offset - first);
            deltas
                .push(delta.map_err(|_| s.corrupt(at, &record::DecodeError::Malformed("delta")))?);
        }
        let enc = record::encode(
            deltas.into_iter().zip(kept.iter().map(|r| &r.record)),
            None,
            usize::MAX,
        )
        .map_err(|record::TooLarge(size, limit)| Error::BatchTooLarge { size, limit })?;
        let mut bytes = enc.bytes;
        record::set_base_offset(&mut bytes, first);
        let rel = u32::try_from(first - s.base())
            .map_err(|_| s.corrupt(at, &record::DecodeError::Malformed("offset")))?;
        let pos32 = u32::try_from(pos)
            .map_err(|_| s.corrupt(at, &record::DecodeError::Malformed("size")))?;
        index.observe(rel, pos32, bytes.len() as u64, enc.max_timestamp, interval);
        buf.extend_from_slice(&bytes);
        pos += bytes.len() as u64;
        if buf.len() >= WRITE_CHUNK {
            file.write_all_at(&buf, flushed)
                .map_err(io(&paths.cleaned))?;
            flushed += buf.len() as u64;
            buf.clear();
        }
        Ok(Visit::Continue)
    });
    let finished = written.and_then(|_| {
        file.write_all_at(&buf, flushed)
            .and_then(|()| file.sync_data())
            .map_err(io(&paths.cleaned))
    });
    if let Err(e) = finished {
        drop(file);
        layout::remove_if_exists(&**fs, &paths.cleaned)?;
        return Err(e);
    }
    if pos == 0 {
        drop(file);
        layout::remove_if_exists(&**fs, &paths.cleaned)?;
        return Ok(None);
    }
    // Old index files must go first: a crash must never pair them with the new data.
    layout::remove_if_exists(&**fs, &paths.index)?;
    layout::remove_if_exists(&**fs, &paths.timeindex)?;
    fs.rename(&paths.cleaned, &paths.log)
        .map_err(io(&paths.log))?;
    layout::fsync_dir(&**fs, p.dir())?;
    // Compaction only rewrites marked segments; the marker stays with the new file.
    let new = Segment::from_parts(fs, s.base(), paths, file, pos, Some(index), true);
    new.write_index_files(interval)?;
    Ok(Some(new))
}
