//! One segment: a `.log` file of batches plus its sparse index, and the batch scanner.
//!
//! Owns file I/O of a single segment (positional reads and writes, recovery of a torn tail,
//! lazy index loading). It must not decide when to roll, delete or fsync for durability
//! policy: the partition does, holding its lock.

use std::{
    path::{Path, PathBuf},
    sync::atomic::{AtomicBool, AtomicU64, Ordering},
};

use bytes::Bytes;
use parking_lot::RwLock;

use super::{
    error::{Error, Result, io},
    index::SparseIndex,
    layout::{self, SegmentPaths},
    record::{self, BatchHeader, DecodeError, Records},
};
use crate::durable::fs::{FileHandle, FileRef, FsRef, OpenMode};

mod read;

pub(crate) use read::ReadAcc;

/// Scanner chunk: large sequential reads, few syscalls.
const SCAN_CHUNK: usize = 8 << 20;

/// What a scan visitor wants next.
pub(crate) enum Visit {
    Continue,
    /// Stop before this batch (it is unacceptable, or the visitor has what it needs).
    Stop,
}

/// Where a scan ended: the position after the last accepted batch, and why if not at the limit.
pub(crate) struct ScanEnd {
    pub pos: u64,
    pub problem: Option<DecodeError>,
}

/// One segment file. Closed segments are immutable; only the active one grows, under the
/// partition lock, and `len` only ever covers whole batches.
pub(crate) struct Segment {
    base: u64,
    paths: SegmentPaths,
    fs: FsRef,
    file: FileRef,
    len: AtomicU64,
    /// Whether the `.synced` marker exists (cached: checked on every maintenance pass).
    marked_synced: AtomicBool,
    /// `None` until first needed for closed segments (startup must not read them).
    index: RwLock<Option<SparseIndex>>,
}

/// What recovery learned from the active segment.
pub(crate) struct Tail {
    pub next_offset: u64,
    pub first_timestamp: Option<i64>,
    /// Whether a torn or corrupt tail was cut off.
    pub truncated: bool,
}

impl Segment {
    /// Creates an empty segment file (the caller fsyncs the directory).
    pub(crate) fn create(fs: &FsRef, dir: &Path, base: u64) -> Result<Self> {
        let path = layout::segment_paths(dir, base).log;
        let file = fs
            .open(&path, OpenMode::CreateTruncate)
            .map_err(io(&path))?;
        Ok(Self::from_prepared(fs, dir, base, file))
    }

    /// A new, empty segment from a prepared file already renamed to its `.log` path.
    pub(crate) fn from_prepared(fs: &FsRef, dir: &Path, base: u64, file: FileRef) -> Self {
        let paths = layout::segment_paths(dir, base);
        Self::from_parts(
            fs,
            base,
            paths,
            file,
            0,
            Some(SparseIndex::default()),
            false,
        )
    }

    pub(crate) fn from_parts(
        fs: &FsRef,
        base: u64,
        paths: SegmentPaths,
        file: FileRef,
        len: u64,
        index: Option<SparseIndex>,
        marked_synced: bool,
    ) -> Self {
        Self {
            base,
            marked_synced: AtomicBool::new(marked_synced),
            paths,
            fs: FsRef::clone(fs),
            file,
            len: AtomicU64::new(len),
            index: RwLock::new(index),
        }
    }

    /// Opens a closed segment without reading it.
    pub(crate) fn open_closed(fs: &FsRef, dir: &Path, base: u64) -> Result<Self> {
        let paths = layout::segment_paths(dir, base);
        let file = fs
            .open(&paths.log, OpenMode::Read)
            .map_err(io(&paths.log))?;
        let len = file.size().map_err(io(&paths.log))?;
        let marked = fs.exists(&paths.synced);
        Ok(Self::from_parts(fs, base, paths, file, len, None, marked))
    }

    /// Opens a segment for recovery, scanning every batch and truncating at the first one that
    /// is torn, corrupt or out of sequence. With `allow_gaps` (a compacted segment), a batch
    /// may start past the expected offset; only overlaps are refused. Without it, a base offset
    /// (outside the CRC) that does not follow on is corruption.
    pub(crate) fn recover_with(
        fs: &FsRef,
        dir: &Path,
        base: u64,
        interval: u32,
        allow_gaps: bool,
    ) -> Result<(Self, Tail)> {
        let paths = layout::segment_paths(dir, base);
        let marked = fs.exists(&paths.synced);
        let file = fs
            .open(&paths.log, OpenMode::ReadWrite)
            .map_err(io(&paths.log))?;
        let file_len = file.size().map_err(io(&paths.log))?;
        let mut index = SparseIndex::default();
        let mut next = base;
        let mut first_timestamp = None;
        let end = scan(&*file, &paths.log, 0, file_len, |pos, h, batch| {
            let (Ok(rel), Ok(pos32)) = (
                u32::try_from(h.base_offset.wrapping_sub(base)),
                u32::try_from(pos),
            ) else {
                return Ok(Visit::Stop);
            };
            let in_sequence = h.base_offset == next || (allow_gaps && h.base_offset > next);
            if !in_sequence {
                return Ok(Visit::Stop);
            }
            let mut last = None;
            for r in Records::new(batch, h) {
                match r {
                    Ok((r, _)) => last = Some(r.offset),
                    Err(_) => return Ok(Visit::Stop),
                }
            }
            let Some(last) = last else {
                return Ok(Visit::Stop);
            };
            index.observe(rel, pos32, h.total_len as u64, h.max_timestamp, interval);
            first_timestamp = first_timestamp.or(Some(h.max_timestamp));
            next = last + 1;
            Ok(Visit::Continue)
        })?;
        if end.pos < file_len {
            tracing::warn!(
                path = %paths.log.display(),
                at = end.pos,
                dropped = file_len - end.pos,
                problem = %end.problem.map_or_else(|| "bad batch".to_owned(), |p| p.to_string()),
                "truncating torn or corrupt tail of a segment"
            );
            file.set_len(end.pos).map_err(io(&paths.log))?;
            file.sync_data().map_err(io(&paths.log))?;
        }
        let tail = Tail {
            next_offset: next,
            first_timestamp,
            truncated: end.pos < file_len,
        };
        Ok((
            Self::from_parts(fs, base, paths, file, end.pos, Some(index), marked),
            tail,
        ))
    }

    pub(crate) fn base(&self) -> u64 {
        self.base
    }

    pub(crate) fn paths(&self) -> &SegmentPaths {
        &self.paths
    }

    pub(crate) fn path(&self) -> &PathBuf {
        &self.paths.log
    }

    pub(crate) fn file(&self) -> &FileRef {
        &self.file
    }

    /// Bytes of whole batches; readers never look past this.
    pub(crate) fn len(&self) -> u64 {
        self.len.load(Ordering::Acquire)
    }

    /// Writes a batch at `pos` (the caller holds the partition lock and owns the tail).
    pub(crate) fn write_at(&self, pos: u64, bytes: &[u8]) -> std::io::Result<()> {
        self.file.write_all_at(bytes, pos)
    }

    /// Publishes a batch written at `pos` to readers and the index.
    pub(crate) fn commit(&self, base_offset: u64, len: u64, max_ts: i64, pos: u64, interval: u32) {
        let rel =
            u32::try_from(base_offset - self.base).expect("partition rolls before u32 overflow");
        let pos32 = u32::try_from(pos).expect("partition rolls before a segment reaches 4 GiB");
        if let Some(idx) = self.index.write().as_mut() {
            idx.observe(rel, pos32, len, max_ts, interval);
        }
        self.len.store(pos + len, Ordering::Release);
    }

    /// Whether the index is in memory (no load or rebuild needed before a read).
    pub(crate) fn index_loaded(&self) -> bool {
        self.index.read().is_some()
    }

    /// Runs `f` on the index, loading it from its files (or by scanning) on first use.
    pub(crate) fn with_index<R>(
        &self,
        interval: u32,
        f: impl FnOnce(&SparseIndex) -> R,
    ) -> Result<R> {
        if let Some(idx) = self.index.read().as_ref() {
            return Ok(f(idx));
        }
        let loaded = self.load_index(interval)?;
        let mut guard = self.index.write();
        Ok(f(guard.get_or_insert(loaded)))
    }

    fn load_index(&self, interval: u32) -> Result<SparseIndex> {
        let len = self.len();
        let from_files = (|| {
            let o = self.fs.read(&self.paths.index).ok()?;
            let t = self.fs.read(&self.paths.timeindex).ok()?;
            SparseIndex::from_bytes(&o, &t, len)
        })();
        if let Some(idx) = from_files {
            return Ok(idx);
        }
        tracing::info!(path = %self.paths.log.display(), "rebuilding missing or invalid segment index");
        let mut idx = SparseIndex::default();
        let base = self.base;
        scan(&*self.file, &self.paths.log, 0, len, |pos, h, _| {
            match (
                u32::try_from(h.base_offset.wrapping_sub(base)),
                u32::try_from(pos),
            ) {
                (Ok(rel), Ok(pos)) => {
                    idx.observe(rel, pos, h.total_len as u64, h.max_timestamp, interval);
                    Ok(Visit::Continue)
                }
                _ => Ok(Visit::Stop),
            }
        })?;
        Ok(idx)
    }

    /// Writes the index files (temp + fsync + rename) of a segment that is being closed.
    pub(crate) fn write_index_files(&self, interval: u32) -> Result<()> {
        let (o, t) = self.with_index(interval, SparseIndex::to_bytes)?;
        layout::write_atomic(&*self.fs, &self.paths.index, &o)?;
        layout::write_atomic(&*self.fs, &self.paths.timeindex, &t)
    }

    pub(crate) fn max_timestamp(&self, interval: u32) -> Result<Option<i64>> {
        self.with_index(interval, SparseIndex::max_timestamp)
    }

    pub(crate) fn sync_data(&self) -> Result<()> {
        self.file.sync_data().map_err(io(&self.paths.log))
    }

    /// Unlinks the segment's files; open handles (readers' snapshots) keep working.
    /// The `.log` goes first: a crash part-way must never leave a compacted segment without
    /// its marker (start-up would take its gaps for lost data). Leftovers without a `.log`
    /// are removed at the next start.
    pub(crate) fn remove_files(&self) -> Result<()> {
        let fs = &*self.fs;
        layout::remove_if_exists(fs, &self.paths.log)?;
        layout::remove_if_exists(fs, &self.paths.index)?;
        layout::remove_if_exists(fs, &self.paths.timeindex)?;
        layout::remove_if_exists(fs, &self.paths.synced)
    }

    /// Whether this closed segment was marked as synced. Compaction and retention only touch
    /// marked segments, so a segment whose roll is still being finished is left alone.
    pub(crate) fn is_marked_synced(&self) -> bool {
        self.marked_synced.load(Ordering::Acquire)
    }

    /// Creates the marker saying this segment's data is on disk. Call only after an fsync of
    /// it completed, then fsync the directory and [`Segment::note_marked`].
    pub(crate) fn create_marker(&self) -> Result<()> {
        self.fs
            .open(&self.paths.synced, OpenMode::CreateTruncate)
            .map(drop)
            .map_err(io(&self.paths.synced))
    }

    /// Records that the marker is durable: from now on compaction and retention may touch it.
    pub(crate) fn note_marked(&self) {
        self.marked_synced.store(true, Ordering::Release);
    }

    pub(crate) fn read_at(&self, pos: u64, n: usize) -> Result<Bytes> {
        read_at(&*self.file, &self.paths.log, pos, n)
    }

    /// Walks all whole, valid batches of this segment.
    pub(crate) fn scan(
        &self,
        visit: impl FnMut(u64, &BatchHeader, Bytes) -> Result<Visit>,
    ) -> Result<ScanEnd> {
        scan(&*self.file, &self.paths.log, 0, self.len(), visit)
    }

    pub(crate) fn corrupt(&self, position: u64, e: &DecodeError) -> Error {
        Error::Corrupt {
            path: self.paths.log.clone(),
            position,
            kind: e.to_string(),
        }
    }
}

fn read_at(file: &dyn FileHandle, path: &Path, pos: u64, n: usize) -> Result<Bytes> {
    let mut buf = vec![0u8; n];
    file.read_exact_at(&mut buf, pos).map_err(io(path))?;
    Ok(Bytes::from(buf))
}

/// Walks whole, CRC-valid batches in `[pos, limit)` of `file`, in large chunks.
pub(crate) fn scan(
    file: &dyn FileHandle,
    path: &Path,
    mut pos: u64,
    limit: u64,
    mut visit: impl FnMut(u64, &BatchHeader, Bytes) -> Result<Visit>,
) -> Result<ScanEnd> {
    let mut at_least = 0usize;
    while pos < limit {
        let left = usize::try_from(limit - pos).unwrap_or(usize::MAX);
        let chunk = read_at(file, path, pos, SCAN_CHUNK.max(at_least).min(left))?;
        let mut off = 0usize;
        while off < chunk.len() {
            match record::verify(&chunk[off..]) {
                Ok(h) => {
                    let batch = chunk.slice(off..off + h.total_len);
                    if let Visit::Stop = visit(pos + off as u64, &h, batch)? {
                        return Ok(ScanEnd {
                            pos: pos + off as u64,
                            problem: None,
                        });
                    }
                    off += h.total_len;
                }
                Err(DecodeError::Incomplete) => {
                    let need = record::peek_header(&chunk[off..])
                        .map_or(record::HEADER_LEN, |h| h.total_len);
                    if off == 0 && (need <= chunk.len() || need > left) {
                        let problem = Some(DecodeError::Incomplete);
                        return Ok(ScanEnd { pos, problem });
                    }
                    at_least = need;
                    break;
                }
                Err(e) => {
                    return Ok(ScanEnd {
                        pos: pos + off as u64,
                        problem: Some(e),
                    });
                }
            }
        }
        pos += off as u64;
    }
    Ok(ScanEnd { pos, problem: None })
}
