//! Transform use cases: create (validated against the plugin, topics and the guest's own
//! `init`), list, describe with live status, pause, resume, delete — and the durable
//! per-transform state the pipeline commits with every batch.
//!
//! State lives in the internal compacted topic `__transform_state`: for each transform one
//! position record (`{name}\0pos`: input positions and output end offsets at the last commit)
//! and its plugin's key-value entries (`{name}\0kv\0{key}`). A commit is ONE append holding
//! the changed kv entries and the new position record, so a batch's state change and input
//! position land together or not at all. Running transforms is the pipeline's job, not this
//! module's.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::definitions::{BatchPolicy, OnError, TransformDefinition, TransformEntry, now_rfc3339};
use super::plugins::validate_name;
use super::storage::Storage;
use super::{Broker, Error, Result};
use crate::event::TopicName;
use crate::plugin::Limits;

/// Most output topics of one transform.
pub const MAX_OUTPUTS: usize = 8;
/// The native identity transform: copies records unchanged, without WebAssembly (for
/// mirroring a topic, and as the baseline of the pipeline benchmark).
pub const BUILTIN_IDENTITY: &str = "builtin:identity";
/// Largest `batch.max_records`.
pub const MAX_BATCH_RECORDS: usize = 10_000;

/// What a client asks for when creating a transform.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransformRequest {
    /// Transform name.
    pub name: String,
    /// Plugin name.
    pub plugin: String,
    /// Input topic.
    pub input: String,
    /// Output topics (index 0 is the default output).
    pub outputs: Vec<String>,
    /// Plugin configuration.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Failure policy (default `dlq`).
    #[serde(default)]
    pub on_error: OnError,
    /// Batching (default 100 records / 50 ms).
    #[serde(default)]
    pub batch: BatchPolicy,
    /// Plugin limits (default: the host's).
    #[serde(default)]
    pub limits: Option<Limits>,
}

/// Life-cycle state of a transform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TransformState {
    /// Processing (or waiting for input).
    Running,
    /// Paused by the user.
    Paused,
    /// Stopped by an error (`on_error: stop`, or the plugin could not start).
    Failed,
}

/// Live counters of a transform, updated by the pipeline.
#[derive(Debug, Default)]
pub struct TransformStatus {
    failed: AtomicU8,
    /// Input records processed.
    pub records_in: AtomicU64,
    /// Records written to outputs.
    pub records_out: AtomicU64,
    /// Records sent to the dead-letter topic.
    pub records_dlq: AtomicU64,
    /// Failed plugin calls (including retried ones).
    pub errors: AtomicU64,
    last_error: Mutex<Option<String>>,
    positions: Mutex<BTreeMap<u32, u64>>,
}

impl TransformStatus {
    /// Records an error message (and counts it).
    pub fn error(&self, message: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock() = Some(message);
    }

    /// Whether the transform stopped on an error.
    pub fn is_failed(&self) -> bool {
        self.failed.load(Ordering::Acquire) == 1
    }

    /// Marks the transform failed (or clears it).
    pub fn set_failed(&self, failed: bool) {
        self.failed.store(u8::from(failed), Ordering::Release);
    }

    /// Publishes the committed input positions.
    pub fn set_positions(&self, positions: &BTreeMap<u32, u64>) {
        positions.clone_into(&mut self.positions.lock());
    }
}

/// A transform as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct TransformView {
    /// The definition.
    #[serde(flatten)]
    pub definition: TransformDefinition,
    /// RUNNING, PAUSED or FAILED.
    pub state: TransformState,
    /// Input records not yet processed, over all input partitions.
    pub lag: u64,
    /// Input records processed.
    pub records_in: u64,
    /// Output records written.
    pub records_out: u64,
    /// Records sent to the dead-letter topic.
    pub records_dlq: u64,
    /// Failed plugin calls.
    pub errors: u64,
    /// The most recent error.
    pub last_error: Option<String>,
}

/// A transform's durable state, as of its last commit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommittedState {
    /// Next input offset per input partition.
    pub positions: BTreeMap<u32, u64>,
    /// End offset of every output partition (`topic/partition`) right after the last commit.
    pub output_ends: BTreeMap<String, u64>,
    /// The plugin's key-value state.
    pub kv: HashMap<Vec<u8>, Vec<u8>>,
}

impl Broker {
    /// Creates a transform after checking its plugin, topics, batching and limits, and letting
    /// the plugin's `init` validate its config. With `on_error: dlq` the dead-letter topic
    /// `<name>.dlq` is created if missing.
    ///
    /// # Errors
    /// [`Error::TransformExists`], [`Error::UnknownPlugin`], unknown topics,
    /// [`Error::InvalidDefinition`], the plugin's refusal of its config.
    pub async fn create_transform(&self, req: TransformRequest) -> Result<TransformView> {
        self.authorize_transform(&req)?;
        validate_name("transform name", &req.name)?;
        let bad = |field, problem: String| Error::InvalidDefinition { field, problem };
        if req.name.len() > crate::event::MAX_TOPIC_NAME_LEN - 4 {
            return Err(bad(
                "transform name",
                "must leave room for the '.dlq' suffix".into(),
            ));
        }
        let input = TopicName::new(&req.input)?;
        self.inner.storage.topic(&input)?;
        if req.outputs.is_empty() || req.outputs.len() > MAX_OUTPUTS {
            return Err(bad(
                "outputs",
                format!("give 1 to {MAX_OUTPUTS} output topics"),
            ));
        }
        for output in &req.outputs {
            let topic = TopicName::new(output)?;
            if topic == input {
                return Err(bad(
                    "outputs",
                    format!("output '{output}' is the input topic"),
                ));
            }
            if topic.is_internal() {
                return Err(Error::InternalTopic(topic));
            }
            self.inner.storage.topic(&topic)?;
        }
        if !(1..=MAX_BATCH_RECORDS).contains(&req.batch.max_records)
            || req.batch.max_wait_ms > 60_000
        {
            return Err(bad(
                "batch",
                format!(
                    "max_records must be 1 to {MAX_BATCH_RECORDS} and max_wait_ms at most 60000"
                ),
            ));
        }
        let limits = req.limits.unwrap_or_else(|| self.inner.plugins.limits());
        if !(1..=60_000).contains(&limits.call_timeout_ms) || limits.max_memory_bytes < (1 << 20) {
            return Err(bad(
                "limits",
                "call_timeout_ms must be 1 to 60000 and max_memory_bytes ≥ 1 MiB".into(),
            ));
        }
        let digest = if req.plugin == BUILTIN_IDENTITY {
            BUILTIN_IDENTITY.to_owned()
        } else {
            let plugin = self.get_plugin(&req.plugin)?;
            let config: Vec<(String, String)> = req.config.clone().into_iter().collect();
            let loaded = self.inner.plugins.load(&plugin.digest).await?;
            loaded.init(&config, limits).await?;
            plugin.digest
        };
        if req.on_error == OnError::Dlq {
            self.ensure_topic(&TopicName::new(&format!("{}.dlq", req.name))?, 1)
                .await?;
        }
        let defs = &self.inner.definitions;
        let _writer = defs.writer().await;
        if defs.table.lock().transforms.contains_key(&req.name) {
            return Err(Error::TransformExists(req.name));
        }
        let definition = TransformDefinition {
            name: req.name,
            plugin: req.plugin,
            digest,
            input: req.input,
            outputs: req.outputs,
            config: req.config,
            on_error: req.on_error,
            batch: req.batch,
            limits,
            paused: false,
            created: now_rfc3339(),
            owner: self.owner(),
        };
        let name = definition.name.clone();
        defs.put_transform(definition).await?;
        tracing::info!(transform = %name, "Transform created.");
        self.get_transform(&name)
    }

    /// Every transform with its status, sorted by name.
    #[must_use]
    pub fn list_transforms(&self) -> Vec<TransformView> {
        self.transform_entries()
            .iter()
            .filter(|e| {
                let name = &e.definition.name;
                self.may(
                    super::ResourceType::Transform,
                    name,
                    super::Operation::Describe,
                )
            })
            .map(|e| self.view(e))
            .collect()
    }

    /// One transform with its status.
    ///
    /// # Errors
    /// [`Error::UnknownTransform`].
    pub fn get_transform(&self, name: &str) -> Result<TransformView> {
        self.authorize(
            super::ResourceType::Transform,
            name,
            super::Operation::Describe,
        )?;
        Ok(self.view(&self.transform_entry(name)?))
    }

    /// The definition and live status handle of a transform (for the pipeline).
    ///
    /// # Errors
    /// [`Error::UnknownTransform`].
    pub fn transform_entry(&self, name: &str) -> Result<TransformEntry> {
        let table = self.inner.definitions.table.lock();
        table
            .transforms
            .get(name)
            .cloned()
            .ok_or_else(|| Error::UnknownTransform(name.to_owned()))
    }

    /// Every transform entry (for the pipeline's reconciliation).
    #[must_use]
    pub fn transform_entries(&self) -> Vec<TransformEntry> {
        self.inner
            .definitions
            .table
            .lock()
            .transforms
            .values()
            .cloned()
            .collect()
    }

    /// A receiver that changes whenever a plugin or transform definition changes.
    #[must_use]
    pub fn watch_definitions(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.definitions.subscribe()
    }

    /// Pauses (`true`) or resumes (`false`) a transform; resuming also clears FAILED.
    ///
    /// # Errors
    /// [`Error::UnknownTransform`]; storage errors.
    pub async fn set_transform_paused(&self, name: &str, paused: bool) -> Result<TransformView> {
        self.authorize(
            super::ResourceType::Transform,
            name,
            super::Operation::Alter,
        )?;
        let defs = &self.inner.definitions;
        let _writer = defs.writer().await;
        let entry = self.transform_entry(name)?;
        entry.status.set_failed(false);
        let mut definition = entry.definition;
        definition.paused = paused;
        defs.put_transform(definition).await?;
        self.get_transform(name)
    }

    /// Deletes a transform and its committed state (its output and DLQ topics stay).
    ///
    /// # Errors
    /// [`Error::UnknownTransform`]; storage errors.
    pub async fn delete_transform(&self, name: &str) -> Result<()> {
        self.authorize(
            super::ResourceType::Transform,
            name,
            super::Operation::Delete,
        )?;
        let defs = &self.inner.definitions;
        let _writer = defs.writer().await;
        self.transform_entry(name)?;
        defs.delete_transform(name).await?;
        self.inner.transform_state.forget(name).await?;
        tracing::info!(transform = name, "Transform deleted.");
        Ok(())
    }

    /// A transform's state as of its last commit (empty for a new transform).
    #[must_use]
    pub fn committed_state(&self, name: &str) -> CommittedState {
        self.inner
            .transform_state
            .table
            .lock()
            .get(name)
            .cloned()
            .unwrap_or_default()
    }

    /// Commits a processed batch: the new positions and output ends, with the plugin's
    /// key-value changes, in one atomic append.
    ///
    /// # Errors
    /// Storage errors (nothing is committed then).
    pub async fn commit_transform(
        &self,
        name: &str,
        state: &CommittedState,
        kv_changes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    ) -> Result<()> {
        self.inner
            .transform_state
            .commit(name, state, kv_changes)
            .await
    }

    fn view(&self, entry: &TransformEntry) -> TransformView {
        let status = &entry.status;
        let state = if entry.definition.paused {
            TransformState::Paused
        } else if status.is_failed() {
            TransformState::Failed
        } else {
            TransformState::Running
        };
        let positions = status.positions.lock().clone();
        let lag = self
            .partition_offsets(&entry.definition.input)
            .map_or(0, |partitions| {
                partitions
                    .iter()
                    .map(|p| {
                        let at = positions.get(&p.partition).copied();
                        p.end_offset.saturating_sub(at.unwrap_or(p.start_offset))
                    })
                    .sum()
            });
        TransformView {
            definition: entry.definition.clone(),
            state,
            lag,
            records_in: status.records_in.load(Ordering::Relaxed),
            records_out: status.records_out.load(Ordering::Relaxed),
            records_dlq: status.records_dlq.load(Ordering::Relaxed),
            errors: status.errors.load(Ordering::Relaxed),
            last_error: status.last_error.lock().clone(),
        }
    }
}
