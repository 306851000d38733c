//! The filesystem seam: every byte the log (and the atomic-write protocol) reads or writes, and
//! every directory entry it creates, renames or unlinks, goes through [`Filesystem`] and
//! [`FileHandle`].
//!
//! Owns the trait and the real implementation ([`OsFs`]); tests add a simulated disk
//! (`fs/sim.rs`) that can lose unsynced data, fail fsyncs and run out of space. It must not
//! know what the files contain, and must not add buffering or retries: the log's durability
//! reasoning ("this write is durable after that fsync") has to hold for every implementation.
//!
//! One virtual call per syscall: the cost is noise next to the syscall itself.

use std::{
    fmt::Debug,
    fs::OpenOptions,
    io,
    os::unix::fs::FileExt,
    path::{Path, PathBuf},
    sync::Arc,
};

// Also behind `fuzzing`: the segment fuzz target recovers logs from an in-memory disk.
#[cfg(any(test, feature = "fuzzing"))]
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) mod sim;

/// How [`Filesystem::open`] opens a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Read only; the file must exist.
    Read,
    /// Read and write; the file must exist.
    ReadWrite,
    /// Read and write; created if missing, truncated if present.
    CreateTruncate,
}

/// One entry of [`Filesystem::read_dir`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// The entry's name (not a path); non-UTF-8 names are skipped by implementations.
    pub name: String,
    /// Whether it is a directory.
    pub is_dir: bool,
}

/// An open file. Positional I/O only, so concurrent readers need no seek lock.
pub trait FileHandle: Send + Sync + Debug {
    /// Fills `buf` from `pos`; `UnexpectedEof` if the file is shorter.
    ///
    /// # Errors
    /// The OS error.
    fn read_exact_at(&self, buf: &mut [u8], pos: u64) -> io::Result<()>;
    /// Writes all of `buf` at `pos`. On error a prefix may have been written.
    ///
    /// # Errors
    /// The OS error (`StorageFull` when the disk is full).
    fn write_all_at(&self, buf: &[u8], pos: u64) -> io::Result<()>;
    /// Current size in bytes.
    ///
    /// # Errors
    /// The OS error.
    fn size(&self) -> io::Result<u64>;
    /// Truncates or extends (with zeros).
    ///
    /// # Errors
    /// The OS error.
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// fdatasync: the file's data (not its directory entry) is durable after `Ok`.
    ///
    /// # Errors
    /// The OS error; after an error the unsynced data must be presumed lost.
    fn sync_data(&self) -> io::Result<()>;
}

/// A shared open file.
pub type FileRef = Arc<dyn FileHandle>;

/// A shared filesystem.
pub type FsRef = Arc<dyn Filesystem>;

/// Directory and file operations the log needs. Directory entry changes (create, rename,
/// unlink) are durable only after [`Filesystem::sync_dir`] of the parent.
pub trait Filesystem: Send + Sync + Debug {
    /// Opens a file.
    ///
    /// # Errors
    /// `NotFound` for a missing file in `Read`/`ReadWrite` mode, or the OS error.
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<FileRef>;
    /// The entries of a directory, in no particular order.
    ///
    /// # Errors
    /// The OS error.
    fn read_dir(&self, path: &Path) -> io::Result<Vec<DirEntry>>;
    /// Creates one directory (not its parents).
    ///
    /// # Errors
    /// `AlreadyExists`, `NotFound` (no parent), or the OS error.
    fn create_dir(&self, path: &Path) -> io::Result<()>;
    /// Whether `path` is an existing directory.
    fn is_dir(&self, path: &Path) -> bool;
    /// Whether `path` exists (file or directory).
    fn exists(&self, path: &Path) -> bool;
    /// Renames a file or directory, replacing a file at `to`.
    ///
    /// # Errors
    /// The OS error.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Unlinks a file; open handles keep working.
    ///
    /// # Errors
    /// `NotFound` or the OS error.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Removes a directory and everything under it.
    ///
    /// # Errors
    /// The OS error.
    fn remove_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Makes entry changes in directory `path` durable.
    ///
    /// # Errors
    /// The OS error.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
    /// Reads a whole file.
    ///
    /// # Errors
    /// The OS error.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let f = self.open(path, OpenMode::Read)?;
        let len = usize::try_from(f.size()?).map_err(io::Error::other)?;
        let mut buf = vec![0; len];
        f.read_exact_at(&mut buf, 0)?;
        Ok(buf)
    }
}

/// The operating system's filesystem.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsFs;

#[derive(Debug)]
struct OsFile(std::fs::File);

impl FileHandle for OsFile {
    fn read_exact_at(&self, buf: &mut [u8], pos: u64) -> io::Result<()> {
        self.0.read_exact_at(buf, pos)
    }
    fn write_all_at(&self, buf: &[u8], pos: u64) -> io::Result<()> {
        self.0.write_all_at(buf, pos)
    }
    fn size(&self) -> io::Result<u64> {
        self.0.metadata().map(|m| m.len())
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }
}

impl Filesystem for OsFs {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<FileRef> {
        let mut o = OpenOptions::new();
        o.read(true);
        match mode {
            OpenMode::Read => {}
            OpenMode::ReadWrite => {
                o.write(true);
            }
            OpenMode::CreateTruncate => {
                o.write(true).create(true).truncate(true);
            }
        }
        Ok(Arc::new(OsFile(o.open(path)?)))
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<DirEntry>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(path)? {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let is_dir = entry.file_type()?.is_dir();
            out.push(DirEntry { name, is_dir });
        }
        Ok(out)
    }

    fn create_dir(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir(path)
    }

    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }

    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_dir_all(path)
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        std::fs::File::open(path)?.sync_all()
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }
}

/// The parent directory of `path` (`.` for a bare name), for directory fsyncs.
pub(crate) fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
