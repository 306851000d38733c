//! Opening a partition: listing its segments and recovering every one that may not be on disk
//! in full (the active one, and closed ones without a `.synced` marker).
//!
//! Owns the recovery rules; it must not append or start background work. Closed segments with
//! a marker are trusted and never read, so start-up time does not grow with synced data.

use std::{path::Path, sync::Arc};

use super::{Settings, finish::Finisher};
use crate::log::{
    error::Result,
    layout,
    segment::{Segment, Tail},
};

/// What recovery found: the segments (the last one active) and the active one's tail.
pub(super) struct Recovered {
    pub segments: Vec<Arc<Segment>>,
    pub tail: Tail,
    pub finisher: Finisher,
}

/// Recovers the partition in `dir`, creating it if missing.
///
/// A closed segment without a marker was rolled but not yet finished (no fsync since): after
/// a power loss its tail may be torn or gone. It is scanned; if it does not end exactly where
/// the next segment starts, it is cut there and becomes the active segment, and every later
/// segment is removed, so offsets stay dense. (Such segments were never compacted: compaction
/// only touches marked ones.)
pub(super) fn recover(dir: &Path, settings: &Settings) -> Result<Recovered> {
    let fs = &settings.fs;
    layout::create_dir_durable(&**fs, dir)?;
    let mut bases = layout::list_segments(&**fs, dir)?;
    if bases.is_empty() {
        drop(Segment::create(fs, dir, 0)?);
        layout::fsync_dir(&**fs, dir)?;
        bases.push(0);
    }
    let mut active_base = *bases.last().unwrap_or(&0);
    let closed = &bases[..bases.len() - 1];
    let mut segments = Vec::with_capacity(bases.len());
    let mut marked = Vec::new();
    for (i, &base) in closed.iter().enumerate() {
        let segment = Segment::open_closed(fs, dir, base)?;
        if segment.is_marked_synced() {
            segments.push(Arc::new(segment));
            continue;
        }
        drop(segment);
        let next_base = closed.get(i + 1).copied().unwrap_or(active_base);
        let (scanned, tail) = Segment::recover_with(fs, dir, base, settings.index_interval, false)?;
        if !tail.truncated && tail.next_offset == next_base {
            scanned.sync_data()?;
            if let Err(e) = scanned.write_index_files(settings.index_interval) {
                tracing::warn!(error = %e, "cannot write a segment's index files; it is rebuilt when needed");
            }
            scanned.create_marker()?;
            let scanned = Arc::new(scanned);
            marked.push(Arc::clone(&scanned));
            segments.push(scanned);
            continue;
        }
        tracing::warn!(
            dir = %dir.display(),
            segment = base,
            lost_from = tail.next_offset,
            "A closed segment lost its unsynced tail; later segments are dropped."
        );
        drop(scanned);
        for later in closed[i + 1..].iter().chain(std::iter::once(&active_base)) {
            Segment::open_closed(fs, dir, *later)?.remove_files()?;
        }
        let paths = layout::segment_paths(dir, base);
        layout::remove_if_exists(&**fs, &paths.index)?;
        layout::remove_if_exists(&**fs, &paths.timeindex)?;
        layout::fsync_dir(&**fs, dir)?;
        active_base = base;
        break;
    }
    if !marked.is_empty() {
        layout::fsync_dir(&**fs, dir)?;
        marked.iter().for_each(|s| s.note_marked());
    }
    // A marked last segment (its successor's entry never became durable; not something our
    // own ordering produces) may be compacted and must not grow again: it stays closed, and
    // a new active segment starts after it.
    if fs.exists(&layout::segment_paths(dir, active_base).synced) {
        let (marked_last, tail) =
            Segment::recover_with(fs, dir, active_base, settings.index_interval, true)?;
        if tail.next_offset > active_base {
            segments.push(Arc::new(marked_last));
            drop(Segment::create(fs, dir, tail.next_offset)?);
            layout::fsync_dir(&**fs, dir)?;
            active_base = tail.next_offset;
        } else {
            drop(marked_last);
            layout::remove_if_exists(&**fs, &layout::segment_paths(dir, active_base).synced)?;
            layout::fsync_dir(&**fs, dir)?;
        }
    }
    let (active, tail) =
        Segment::recover_with(fs, dir, active_base, settings.index_interval, false)?;
    segments.push(Arc::new(active));
    let finisher = Finisher::new(Arc::clone(fs), dir.to_path_buf(), settings.index_interval);
    finisher.prepare()?;
    Ok(Recovered {
        segments,
        tail,
        finisher,
    })
}
