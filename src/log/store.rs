//! The whole log: the set of topics, the Interval flusher, maintenance fan-out and close.
//!
//! Owns the topic map and the only background task of the log layer. It must not know about
//! segment files or batches (partitions do).

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use parking_lot::{Mutex, RwLock};
use tokio_util::sync::CancellationToken;

use super::{
    config::{FsyncPolicy, LogConfig, TopicConfig},
    error::{Error, Result, io},
    layout,
    partition::{Partition, Settings},
    topic::Topic,
};
use crate::event::TopicName;

/// Counts from one maintenance pass, for logging.
#[derive(Debug, Default, Clone)]
pub struct MaintenanceReport {
    pub segments_rolled: usize,
    pub segments_deleted: usize,
    pub segments_compacted: usize,
    pub records_removed: u64,
}

type Topics = Arc<RwLock<BTreeMap<TopicName, Arc<Topic>>>>;

/// The whole log: a set of topics. Cheap to share via Arc; all methods take &self.
pub struct Log {
    config: LogConfig,
    topics: Topics,
    /// Names whose creation is under way (reserved, not yet in `topics`).
    creating: Mutex<std::collections::HashSet<TopicName>>,
    closed: AtomicBool,
    flusher: Mutex<Option<(CancellationToken, tokio::task::JoinHandle<()>)>>,
}

impl Log {
    /// Opens (creating if missing) the log at `config.dir` and recovers every topic.
    ///
    /// # Errors
    /// `Io` or `Corrupt` if a topic cannot be recovered.
    pub async fn open(config: LogConfig) -> Result<Arc<Log>> {
        let settings = settings(&config);
        let fs = &*config.fs;
        let topics_dir = layout::topics_dir(&config.dir);
        layout::create_dir_durable(fs, &topics_dir)?;
        let mut topics = BTreeMap::new();
        let mut entries = fs.read_dir(&topics_dir).map_err(io(&topics_dir))?;
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        for entry in entries.into_iter().filter(|e| e.is_dir) {
            let path = topics_dir.join(&entry.name);
            if layout::is_retired(entry.name.as_ref()) {
                // A delete that crashed before its removal finished.
                layout::remove_dir_durable(fs, &path)?;
                continue;
            }
            match Topic::open(path.clone(), settings.clone())? {
                Some(t) => {
                    topics.insert(t.name().clone(), Arc::new(t));
                }
                None => {
                    tracing::warn!(dir = %path.display(), "ignoring directory without topic.json")
                }
            }
        }
        let topics: Topics = Arc::new(RwLock::new(topics));
        let flusher = match config.fsync {
            FsyncPolicy::Interval(every) => Some(spawn_flusher(Arc::clone(&topics), every)),
            FsyncPolicy::Always | FsyncPolicy::Never => None,
        };
        Ok(Arc::new(Log {
            config,
            topics,
            creating: Mutex::default(),
            closed: AtomicBool::new(false),
            flusher: Mutex::new(flusher),
        }))
    }

    /// Creates a topic (metadata file written durably).
    ///
    /// # Errors
    /// `TopicExists`, `InvalidConfig`, `Io`.
    pub fn create_topic(
        &self,
        name: &TopicName,
        partitions: u32,
        config: TopicConfig,
    ) -> Result<Arc<Topic>> {
        validate(&config)?;
        if partitions == 0 {
            return Err(Error::InvalidConfig {
                field: "partitions".into(),
                problem: "must be at least 1".into(),
            });
        }
        // The name is reserved under the lock; the directory and fsync work happens outside
        // it, so produce and fetch on other topics never wait for a topic being created.
        {
            let topics = self.topics.read();
            let mut creating = self.creating.lock();
            if topics.contains_key(name) || !creating.insert(name.clone()) {
                return Err(Error::TopicExists {
                    topic: name.clone(),
                });
            }
        }
        let created = Topic::create(
            &self.config.dir,
            name,
            partitions,
            config,
            settings(&self.config),
        );
        let mut topics = self.topics.write();
        self.creating.lock().remove(name);
        let topic = Arc::new(created?);
        topics.insert(name.clone(), Arc::clone(&topic));
        Ok(topic)
    }

    /// # Errors
    /// `UnknownTopic`, `Io`.
    pub fn delete_topic(&self, name: &TopicName) -> Result<()> {
        let aside = {
            // Under the lock: out of the map and its directory renamed aside, so an immediate
            // re-create of the same name gets a fresh directory that nothing will remove.
            let mut topics = self.topics.write();
            let topic = topics
                .get(name)
                .cloned()
                .ok_or_else(|| Error::UnknownTopic {
                    topic: name.clone(),
                })?;
            let aside = layout::retired_dir(&self.config.dir, name.as_str());
            topic.retire(&aside)?;
            topics.remove(name);
            aside
        };
        layout::remove_dir_durable(&*self.config.fs, &aside)
    }

    /// Replaces a topic's config (persisted durably).
    ///
    /// # Errors
    /// `UnknownTopic`, `InvalidConfig`, `Io`.
    pub fn alter_topic_config(&self, name: &TopicName, config: TopicConfig) -> Result<()> {
        validate(&config)?;
        self.topic(name)?.set_config(config)
    }

    /// # Errors
    /// `UnknownTopic`.
    pub fn topic(&self, name: &TopicName) -> Result<Arc<Topic>> {
        self.topics
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| Error::UnknownTopic {
                topic: name.clone(),
            })
    }

    /// All topics, sorted by name (internal ones included).
    pub fn topics(&self) -> Vec<Arc<Topic>> {
        self.topics.read().values().cloned().collect()
    }

    /// One maintenance pass at wall-clock `now_ms`. Every partition is visited even if one
    /// fails; the first error is returned.
    ///
    /// # Errors
    /// The first `Io`/`Corrupt` error met.
    pub fn maintain(&self, now_ms: i64) -> Result<MaintenanceReport> {
        let mut report = MaintenanceReport::default();
        let mut first_err = None;
        for topic in self.topics() {
            for p in topic.partitions() {
                if let Err(e) = p.maintain(now_ms, &mut report) {
                    tracing::error!(topic = %topic.name(), partition = p.id(), error = %e, "maintenance failed");
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(report), Err)
    }

    /// Flushes and fsyncs everything; afterwards appends fail. Idempotent.
    ///
    /// # Errors
    /// The first fsync failure.
    pub async fn close(&self) -> Result<()> {
        self.closed.store(true, Ordering::Release);
        let flusher = self.flusher.lock().take();
        if let Some((stop, task)) = flusher {
            stop.cancel();
            if let Err(e) = task.await {
                tracing::error!(error = %e, "fsync task ended abnormally");
            }
        }
        let mut first_err = None;
        for topic in self.topics() {
            for p in topic.partitions() {
                p.mark_closed();
                let closed_segments = {
                    let p = Arc::clone(&p);
                    tokio::task::spawn_blocking(move || p.finish_rolls()).await
                };
                if let Ok(Err(e)) = closed_segments {
                    first_err.get_or_insert(e);
                }
                if let Err(e) = p.sync_now().await {
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    pub fn config(&self) -> &LogConfig {
        &self.config
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        if let Some((stop, _)) = self.flusher.lock().take() {
            stop.cancel();
        }
    }
}

fn settings(config: &LogConfig) -> Settings {
    Settings {
        fsync: config.fsync,
        index_interval: config.index_interval_bytes.max(1),
        fs: Arc::clone(&config.fs),
        compaction_map_entries: config.compaction_map_entries.max(1),
    }
}

fn validate(config: &TopicConfig) -> Result<()> {
    config.validate().map_err(|msg| {
        let (field, problem) = msg.split_once(": ").unwrap_or(("config", msg.as_str()));
        Error::InvalidConfig {
            field: field.to_owned(),
            problem: problem.to_owned(),
        }
    })
}

/// The Interval policy's flusher: fsyncs partitions with unsynced data every `every`.
fn spawn_flusher(
    topics: Topics,
    every: std::time::Duration,
) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let stop = CancellationToken::new();
    let token = stop.clone();
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = token.cancelled() => break,
                _ = tick.tick() => {}
            }
            let partitions: Vec<Arc<Partition>> = topics
                .read()
                .values()
                .flat_map(|t| t.partitions())
                .collect();
            for p in partitions.iter().filter(|p| p.needs_sync()) {
                if let Err(e) = p.sync_now().await {
                    tracing::error!(partition = p.id(), error = %e, "interval fsync failed");
                }
            }
        }
    });
    (stop, task)
}
