//! Where things live on disk, and the small durable-filesystem helpers every writer shares.
//!
//! Owns path naming and "create/replace then fsync the directory" rules. It must not know
//! what is inside the files, and touches the disk only through [`Filesystem`].

use std::path::{Path, PathBuf};

use super::error::{Result, io};
use crate::durable::fs::Filesystem;

/// `{dir}/topics`.
pub(crate) fn topics_dir(root: &Path) -> PathBuf {
    root.join("topics")
}

/// `{dir}/topics/{topic}`.
pub(crate) fn topic_dir(root: &Path, topic: &str) -> PathBuf {
    topics_dir(root).join(topic)
}

/// `{topic_dir}/topic.json`.
pub(crate) fn topic_meta(topic_dir: &Path) -> PathBuf {
    topic_dir.join("topic.json")
}

/// `{topic_dir}/{partition}`.
pub(crate) fn partition_dir(topic_dir: &Path, partition: u32) -> PathBuf {
    topic_dir.join(partition.to_string())
}

/// The three files of one segment.
#[derive(Debug, Clone)]
pub(crate) struct SegmentPaths {
    pub log: PathBuf,
    pub index: PathBuf,
    pub timeindex: PathBuf,
    /// Compaction's output before it is renamed over `log`.
    pub cleaned: PathBuf,
    /// Present once a closed segment's data is known to be on disk (synced after its roll or
    /// at a clean close): start-up trusts it without scanning.
    pub synced: PathBuf,
}

/// `{partition_dir}/next.log.prepared`: the empty file the next roll renames into place, made
/// (and its directory entry synced) ahead of time so a roll does no fsync under the lock.
pub(crate) fn prepared_segment(partition_dir: &Path) -> PathBuf {
    partition_dir.join("next.log.prepared")
}

pub(crate) fn segment_paths(partition_dir: &Path, base: u64) -> SegmentPaths {
    let stem = format!("{base:020}");
    SegmentPaths {
        log: partition_dir.join(format!("{stem}.log")),
        index: partition_dir.join(format!("{stem}.index")),
        timeindex: partition_dir.join(format!("{stem}.timeindex")),
        cleaned: partition_dir.join(format!("{stem}.log.cleaned")),
        synced: partition_dir.join(format!("{stem}.synced")),
    }
}

/// Base offsets of the segments in a partition directory, ascending. Removes leftovers of
/// interrupted writes (`*.cleaned`, `*.tmp`), which are never authoritative, a prepared
/// segment file (always empty; the next roll prepares another), and the index files and
/// markers of a segment whose `.log` is gone (an interrupted removal).
pub(crate) fn list_segments(fs: &dyn Filesystem, partition_dir: &Path) -> Result<Vec<u64>> {
    let mut bases = Vec::new();
    let mut companions = Vec::new();
    for entry in fs.read_dir(partition_dir).map_err(io(partition_dir))? {
        let name = entry.name;
        if name.ends_with(".cleaned") || name.ends_with(".tmp") || name.ends_with(".prepared") {
            let p = partition_dir.join(&name);
            fs.remove_file(&p).map_err(io(&p))?;
            continue;
        }
        let Some((stem, ext)) = name.split_once('.') else {
            continue;
        };
        let Ok(base) = stem.parse::<u64>() else {
            continue;
        };
        if stem.len() != 20 {
            continue;
        }
        match ext {
            "log" => bases.push(base),
            "index" | "timeindex" | "synced" => companions.push((base, name)),
            _ => {}
        }
    }
    bases.sort_unstable();
    for (base, name) in companions {
        if bases.binary_search(&base).is_err() {
            let p = partition_dir.join(name);
            fs.remove_file(&p).map_err(io(&p))?;
        }
    }
    Ok(bases)
}

/// Makes directory entry changes (create, rename, unlink) in `dir` durable.
pub(crate) fn fsync_dir(fs: &dyn Filesystem, dir: &Path) -> Result<()> {
    fs.sync_dir(dir).map_err(io(dir))
}

/// Creates `dir` (and parents) if missing, fsyncing each parent whose entries changed.
pub(crate) fn create_dir_durable(fs: &dyn Filesystem, dir: &Path) -> Result<()> {
    if fs.is_dir(dir) {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dir_durable(fs, parent)?;
    }
    match fs.create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(io(dir)(e)),
    }
    fsync_dir(fs, &crate::durable::fs::parent(dir))
}

/// Replaces `path` atomically and durably (see [`crate::durable::write_atomic_on`]).
pub(crate) fn write_atomic(fs: &dyn Filesystem, path: &Path, bytes: &[u8]) -> Result<()> {
    crate::durable::write_atomic_on(fs, path, bytes).map_err(io(path))
}

/// Removes a file; a file that is already gone is fine.
pub(crate) fn remove_if_exists(fs: &dyn Filesystem, path: &Path) -> Result<()> {
    match fs.remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(path)(e)),
        _ => Ok(()),
    }
}

/// Prefix of a deleted topic's directory while it is being removed: `~` cannot occur in a
/// topic name, so it never collides with one.
const RETIRED_PREFIX: &str = "deleted~";

/// A fresh name to rename a deleted topic's directory to.
pub(crate) fn retired_dir(root: &Path, topic: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    topics_dir(root).join(format!(
        "{RETIRED_PREFIX}{topic}~{}~{n}",
        std::process::id()
    ))
}

/// Whether a directory under `topics/` is a deleted topic's, left for removal.
pub(crate) fn is_retired(name: &str) -> bool {
    name.starts_with(RETIRED_PREFIX)
}

/// Removes a directory tree and makes the removal durable.
pub(crate) fn remove_dir_durable(fs: &dyn Filesystem, dir: &Path) -> Result<()> {
    fs.remove_dir_all(dir).map_err(io(dir))?;
    fsync_dir(fs, &crate::durable::fs::parent(dir))
}
