//! A topic: its partitions and its persisted metadata (`topic.json`).
//!
//! Owns topic metadata I/O and partition fan-out. It must not know about the set of topics
//! (the store does) nor about batch formats.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use parking_lot::RwLock;

use super::{
    config::TopicConfig,
    error::{Error, Result, io},
    layout,
    partition::{Partition, Settings},
};
use crate::{
    durable::fs::{Filesystem, FsRef},
    event::TopicName,
};

#[derive(serde::Serialize, serde::Deserialize)]
struct Meta {
    name: String,
    partitions: u32,
    config: TopicConfig,
}

/// A topic and its partitions.
pub struct Topic {
    name: TopicName,
    fs: FsRef,
    dir: PathBuf,
    config: Arc<RwLock<TopicConfig>>,
    partitions: Vec<Arc<Partition>>,
}

impl Topic {
    /// Creates the partitions, then the metadata file last: a topic without `topic.json` is
    /// an interrupted create or delete, and is ignored by [`Topic::open`].
    pub(crate) fn create(
        root: &Path,
        name: &TopicName,
        partitions: u32,
        config: TopicConfig,
        settings: Settings,
    ) -> Result<Self> {
        let dir = layout::topic_dir(root, name.as_str());
        let fs = &*settings.fs;
        if fs.exists(&dir) {
            // Leftover of an interrupted delete: its data must not resurface.
            fs.remove_dir_all(&dir).map_err(io(&dir))?;
        }
        layout::create_dir_durable(fs, &dir)?;
        let topic = Self::assemble(name.clone(), dir, partitions, config, settings)?;
        topic.write_meta(&topic.config.read())?;
        Ok(topic)
    }

    /// Opens a topic directory; `Ok(None)` if it has no metadata (see [`Topic::create`]).
    pub(crate) fn open(dir: PathBuf, settings: Settings) -> Result<Option<Self>> {
        let meta_path = layout::topic_meta(&dir);
        let bytes = match settings.fs.read(&meta_path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&meta_path)(e)),
        };
        let corrupt = |kind: String| Error::Corrupt {
            path: meta_path.clone(),
            position: 0,
            kind,
        };
        let meta: Meta = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        let name = TopicName::new(&meta.name).map_err(|e| corrupt(e.to_string()))?;
        if dir.file_name().and_then(|n| n.to_str()) != Some(name.as_str()) {
            return Err(corrupt(format!(
                "topic name '{name}' does not match its directory"
            )));
        }
        // A hand-edited or damaged file must fail here, naming the field and the file, not
        // later as a division by zero or a confusing segment error.
        let invalid = |field: &str, problem: String| Error::InvalidConfig {
            field: format!("{}: {field}", meta_path.display()),
            problem,
        };
        if meta.partitions == 0 {
            return Err(invalid("partitions", "must be at least 1, got 0".into()));
        }
        if let Err(msg) = meta.config.validate() {
            let (field, problem) = msg.split_once(": ").unwrap_or(("config", msg.as_str()));
            return Err(invalid(field, problem.to_owned()));
        }
        Self::assemble(name, dir, meta.partitions, meta.config, settings).map(Some)
    }

    fn assemble(
        name: TopicName,
        dir: PathBuf,
        count: u32,
        config: TopicConfig,
        settings: Settings,
    ) -> Result<Self> {
        let config = Arc::new(RwLock::new(config));
        let partitions = (0..count)
            .map(|p| {
                let pdir = layout::partition_dir(&dir, p);
                Partition::open(name.clone(), p, pdir, settings.clone(), Arc::clone(&config))
                    .map(Arc::new)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            name,
            fs: settings.fs,
            dir,
            config,
            partitions,
        })
    }

    fn write_meta(&self, config: &TopicConfig) -> Result<()> {
        let meta = Meta {
            name: self.name.as_str().to_owned(),
            partitions: self.partition_count(),
            config: config.clone(),
        };
        let path = layout::topic_meta(&self.dir);
        let json = serde_json::to_vec_pretty(&meta).map_err(|e| Error::Io {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        layout::write_atomic(self.fs(), &path, &json)
    }

    fn fs(&self) -> &dyn Filesystem {
        &*self.fs
    }

    /// Persists then applies a new config.
    pub(crate) fn set_config(&self, config: TopicConfig) -> Result<()> {
        let mut current = self.config.write();
        self.write_meta(&config)?;
        *current = config;
        Ok(())
    }

    /// Stops appends and renames the topic's directory aside to `aside` (durably), so the
    /// name is free at once for a new topic; the caller removes `aside` later, off any lock.
    pub(crate) fn retire(&self, aside: &Path) -> Result<()> {
        for p in &self.partitions {
            p.mark_closed();
        }
        let fs = self.fs();
        fs.rename(&self.dir, aside).map_err(io(&self.dir))?;
        layout::fsync_dir(fs, &crate::durable::fs::parent(&self.dir))
    }

    pub fn name(&self) -> &TopicName {
        &self.name
    }

    pub fn config(&self) -> TopicConfig {
        self.config.read().clone()
    }

    pub fn partition_count(&self) -> u32 {
        u32::try_from(self.partitions.len()).expect("created from a u32 count")
    }

    /// # Errors
    /// `UnknownPartition` if `p` is out of range.
    pub fn partition(&self, p: u32) -> Result<Arc<Partition>> {
        usize::try_from(p)
            .ok()
            .and_then(|i| self.partitions.get(i))
            .cloned()
            .ok_or_else(|| Error::UnknownPartition {
                topic: self.name.clone(),
                partition: p,
                partitions: self.partition_count(),
            })
    }

    pub fn partitions(&self) -> Vec<Arc<Partition>> {
        self.partitions.clone()
    }
}
