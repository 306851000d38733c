//! Durable, atomic file replacement, shared by every layer that persists a small file (the
//! log's metadata, the plugin cache). Readers see the old file or the whole new one, and after
//! `Ok` the new one survives a crash.
//!
//! It owns this one protocol and the filesystem seam it runs on ([`fs`]), and must not depend
//! on any other module of the crate.

use std::path::{Path, PathBuf};

pub mod fs;

use fs::{Filesystem, OpenMode, OsFs};

/// Replaces `path` on the real disk (see [`write_atomic_on`]).
///
/// # Errors
/// The first I/O error.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_on(&OsFs, path, bytes)
}

/// Replaces `path`: writes `{path}.tmp`, fsyncs it, renames it over `path`, fsyncs the
/// directory. A failed attempt removes its temp file.
///
/// # Errors
/// The first I/O error.
pub fn write_atomic_on(fs: &dyn Filesystem, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = temp_path(path);
    let write = || -> std::io::Result<()> {
        let file = fs.open(&tmp, OpenMode::CreateTruncate)?;
        file.write_all_at(bytes, 0)?;
        file.sync_data()?;
        fs.rename(&tmp, path)?;
        fs.sync_dir(&fs::parent(path))
    };
    write().inspect_err(|_| {
        let _ = fs.remove_file(&tmp);
    })
}

/// `{path}.tmp`: the suffix start-up cleanup recognises as never authoritative.
fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]
    use super::*;

    #[test]
    fn replaces_whole_files_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("topic.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["topic.json"]);
        let missing = dir.path().join("no/such/dir/x");
        assert!(write_atomic(&missing, b"x").is_err());
    }
}
