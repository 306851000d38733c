//! Finishing rolls off the partition lock: fsyncing closed segments, writing their index files
//! and `.synced` markers, making new directory entries durable, and preparing the next
//! segment's file so the next roll only renames it.
//!
//! Owns the list of rolled-but-unfinished segments and the prepared file. It must not append,
//! and must not take the partition's state lock (a roll holds it while handing work over).

use std::{mem, path::PathBuf, sync::Arc};

use parking_lot::Mutex;

use crate::{
    durable::fs::{FileRef, FsRef, OpenMode},
    log::{
        error::{Result, io},
        layout,
        segment::Segment,
    },
};

#[derive(Default)]
struct Pending {
    /// Closed by a roll; their data may not be on disk yet.
    segments: Vec<Arc<Segment>>,
    /// A roll added a directory entry that no directory fsync has covered yet.
    dir_dirty: bool,
}

/// One partition's unfinished roll work.
pub(crate) struct Finisher {
    fs: FsRef,
    dir: PathBuf,
    interval: u32,
    pending: Mutex<Pending>,
    /// The empty file the next roll renames into place.
    prepared: Mutex<Option<FileRef>>,
    /// Held while finishing, so the sync round and maintenance never finish the same segment
    /// twice, and a sync round never reports done while another thread is mid-finish.
    finishing: Mutex<()>,
}

impl Finisher {
    pub(crate) fn new(fs: FsRef, dir: PathBuf, interval: u32) -> Self {
        Self {
            fs,
            dir,
            interval,
            pending: Mutex::default(),
            prepared: Mutex::new(None),
            finishing: Mutex::new(()),
        }
    }

    /// Under the partition lock: makes the file for the segment starting at `base`, renaming
    /// the prepared one when there is one (no fsync either way), and queues `old` for
    /// finishing. The directory is marked dirty: the next sync round fsyncs it.
    pub(crate) fn roll(&self, old: Arc<Segment>, base: u64) -> Result<Segment> {
        let paths = layout::segment_paths(&self.dir, base);
        let new = {
            let mut prepared = self.prepared.lock();
            match prepared.take() {
                Some(file) => {
                    let from = layout::prepared_segment(&self.dir);
                    self.fs.rename(&from, &paths.log).map_err(io(&paths.log))?;
                    Segment::from_prepared(&self.fs, &self.dir, base, file)
                }
                None => Segment::create(&self.fs, &self.dir, base)?,
            }
        };
        let mut pending = self.pending.lock();
        pending.segments.push(old);
        pending.dir_dirty = true;
        Ok(new)
    }

    /// Whether a roll left work that a sync round must finish first.
    pub(crate) fn has_pending(&self) -> bool {
        let p = self.pending.lock();
        p.dir_dirty || !p.segments.is_empty()
    }

    /// Blocking. Fsyncs every rolled segment, then the directory, then writes index files and
    /// markers, and prepares the next segment file. Data first: once a later segment's entry
    /// is durable, every earlier segment's data must be too, or a crash would leave a gap.
    ///
    /// # Errors
    /// The first I/O error; the caller poisons the partition (the data's state is unknown).
    pub(crate) fn finish(&self) -> Result<()> {
        let _one = self.finishing.lock();
        let Pending {
            segments,
            dir_dirty,
        } = mem::take(&mut *self.pending.lock());
        for s in &segments {
            s.sync_data()?;
        }
        if dir_dirty || !segments.is_empty() {
            layout::fsync_dir(&*self.fs, &self.dir)?;
        }
        for s in &segments {
            // Index files only save a scan at the first read after a restart: a full disk
            // must not poison the partition over them.
            if let Err(e) = s.write_index_files(self.interval) {
                tracing::warn!(path = %s.path().display(), error = %e, "cannot write a segment's index files; it is rebuilt when needed");
            }
            s.create_marker()?;
        }
        if !segments.is_empty() {
            // The markers' entries first: compaction relies on a marked segment staying marked.
            layout::fsync_dir(&*self.fs, &self.dir)?;
        }
        for s in &segments {
            s.note_marked();
        }
        self.prepare()
    }

    /// Creates the prepared file if there is none (its entry needs no fsync of its own: the
    /// roll that renames it marks the directory dirty).
    pub(crate) fn prepare(&self) -> Result<()> {
        let mut prepared = self.prepared.lock();
        if prepared.is_none() {
            let path = layout::prepared_segment(&self.dir);
            *prepared = Some(
                self.fs
                    .open(&path, OpenMode::CreateTruncate)
                    .map_err(io(&path))?,
            );
        }
        Ok(())
    }
}
