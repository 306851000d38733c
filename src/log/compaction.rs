//! Log compaction: keeps only the latest record per key in closed segments.
//!
//! Owns rewriting a closed segment into `.cleaned`, and swapping it in by rename. It must never
//! change an offset, touch the active segment, or hold the partition lock while rewriting.

use std::{
    collections::HashMap,
    fs::{self, OpenOptions},
    io::{BufWriter, Write},
    sync::Arc,
};

use bytes::Bytes;

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
use crate::event::StoredRecord;

/// Compacts every closed segment of `p` that holds superseded records or expired tombstones.
pub(crate) fn compact(
    p: &Partition,
    now_ms: i64,
    config: &TopicConfig,
    report: &mut MaintenanceReport,
) -> Result<()> {
    let segments = p.segments();
    let Some((_, closed)) = segments.split_last() else {
        return Ok(());
    };
    if closed.is_empty() {
        return Ok(());
    }
    // Only visible records may supersede: an unsynced one could still vanish in a crash.
    let hw = p.end_offset();
    let mut latest: HashMap<Bytes, u64> = HashMap::new();
    for s in segments.iter() {
        for_each_record(s, |r| {
            if r.offset >= hw {
                return Ok(Visit::Stop);
            }
            if let Some(k) = &r.record.key {
                latest.insert(Bytes::copy_from_slice(k), r.offset);
            }
            Ok(Visit::Continue)
        })?;
    }
    let tombstone_cutoff = now_ms.saturating_sub(config.delete_retention_ms);
    let keep = |r: &StoredRecord| match &r.record.key {
        None => true,
        Some(k) => {
            latest.get(k) == Some(&r.offset)
                && !(r.record.value.is_none() && r.record.timestamp < tombstone_cutoff)
        }
    };
    let mut changes = Vec::new();
    for s in closed {
        let mut dropped = 0u64;
        for_each_record(s, |r| {
            dropped += u64::from(!keep(&r));
            Ok(Visit::Continue)
        })?;
        if dropped == 0 {
            continue;
        }
        changes.push((s.base(), rewrite(p, s, &keep)?.map(Arc::new)));
        report.records_removed += dropped;
        report.segments_compacted += 1;
    }
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
    layout::fsync_dir(p.dir())
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

/// Writes the kept records of `s` to `.cleaned` and renames it over the segment. Returns the
/// new segment, or `None` (files untouched, caller deletes) if nothing is kept.
fn rewrite(
    p: &Partition,
    s: &Segment,
    keep: &impl Fn(&StoredRecord) -> bool,
) -> Result<Option<Segment>> {
    let interval = p.index_interval();
    // Readers of the old snapshot must never lazily load the NEW index files.
    s.with_index(interval, |_| ())?;
    let paths = s.paths().clone();
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&paths.cleaned)
        .map_err(io(&paths.cleaned))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut index = SparseIndex::default();
    let mut pos = 0u64;
    s.scan(|at, h, batch| {
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
        out.write_all(&bytes).map_err(io(&paths.cleaned))?;
        pos += bytes.len() as u64;
        Ok(Visit::Continue)
    })?;
    let file = out
        .into_inner()
        .map_err(|e| io(&paths.cleaned)(e.into_error()))?;
    if pos == 0 {
        drop(file);
        layout::remove_if_exists(&paths.cleaned)?;
        return Ok(None);
    }
    file.sync_all().map_err(io(&paths.cleaned))?;
    // Old index files must go first: a crash must never pair them with the new data.
    layout::remove_if_exists(&paths.index)?;
    layout::remove_if_exists(&paths.timeindex)?;
    fs::rename(&paths.cleaned, &paths.log).map_err(io(&paths.log))?;
    layout::fsync_dir(p.dir())?;
    let new = Segment::from_parts(s.base(), paths, file, pos, Some(index));
    new.write_index_files(interval)?;
    Ok(Some(new))
}
