//! Connector use cases, shaped after Kafka Connect's REST API: create or update from a config
//! map, list, describe, status, pause / resume / stop, restart, delete (which waits until the
//! task has really stopped), validate a config, and read / alter / reset offsets (KIP-875).
//!
//! Definitions persist in `__tidegate_config` (`connector/{name}`), offsets and plugin state in
//! `__connect_offsets` (`connector_state`). Running connectors is the pipeline's job: it
//! watches the definitions and reports through each connector's [`ConnectorStatus`].

pub mod settings;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::connector_state::{ConnectorCommitted, ConnectorOffsets};
use super::definitions::now_rfc3339;
use super::plugins::validate_name;
use super::storage::Storage;
use super::{Broker, Error, Result};
use crate::event::TopicName;
use crate::plugin::{FieldError, Grants, World};
pub use settings::{ConnectorKind, ConnectorSettings, Tolerance};

/// How long delete, stop and offset changes wait for a running task to finish its call.
const STOP_WAIT: Duration = Duration::from_secs(90);

/// What the user asked a connector to do (Connect's target state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum TargetState {
    /// Run.
    #[default]
    Running,
    /// Keep the task's place but do no work.
    Paused,
    /// Shut the task down (offsets can then be altered or reset).
    Stopped,
}

/// A stored connector.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ConnectorDefinition {
    /// Connector name.
    pub name: String,
    /// The whole Connect-style config map, as given.
    pub config: BTreeMap<String, String>,
    /// Plugin digest at the last create/update; the connector runs these exact bytes.
    pub digest: String,
    /// Sink or source (from the plugin's world). Stored as `type`: `kind` tags the stored
    /// definition's variant.
    #[serde(rename = "type")]
    pub kind: ConnectorKind,
    /// Running, paused or stopped.
    pub target: TargetState,
    /// Creation time, RFC 3339.
    pub created: String,
    /// Who created or last configured it (with authentication on): it runs with this
    /// principal's rights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<super::definitions::Owner>,
}

/// A connector with its live status.
#[derive(Clone)]
pub struct ConnectorEntry {
    /// The definition.
    pub definition: ConnectorDefinition,
    /// Live state, updated by the pipeline.
    pub status: std::sync::Arc<ConnectorStatus>,
}

/// Live state and counters of a connector's task.
#[derive(Debug)]
pub struct ConnectorStatus {
    running: tokio::sync::watch::Sender<bool>,
    /// One task at a time: a replacement (config update, restart) waits until the task it
    /// replaces has finished its call in flight and committed.
    slot: std::sync::Arc<tokio::sync::Semaphore>,
    failure: Mutex<Option<String>>,
    restarts: AtomicU64,
    /// Records acknowledged by a sink or written by a source.
    pub records: AtomicU64,
    /// Batches acknowledged (sink) or polls written (source).
    pub batches: AtomicU64,
    /// Retried calls.
    pub retries: AtomicU64,
    /// Records sent to the dead-letter topic.
    pub dead_letters: AtomicU64,
    /// Records skipped under `errors.tolerance=all` without a dead-letter topic.
    pub skipped: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Default for ConnectorStatus {
    fn default() -> Self {
        Self {
            running: tokio::sync::watch::Sender::new(false),
            slot: std::sync::Arc::new(tokio::sync::Semaphore::new(1)),
            failure: Mutex::new(None),
            restarts: AtomicU64::new(0),
            records: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            dead_letters: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            last_error: Mutex::new(None),
        }
    }
}

impl ConnectorStatus {
    /// Waits until no other task of this connector runs, and holds that until the permit
    /// drops. `None` only if the slot was closed (never, today).
    pub async fn exclusive(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        std::sync::Arc::clone(&self.slot).acquire_owned().await.ok()
    }

    /// Marks the task running until the guard drops (the pipeline holds it for the task's
    /// whole life, so "not running" means no plugin call can still be in flight).
    #[must_use]
    pub fn running_guard(&self) -> RunningGuard<'_> {
        self.running.send_replace(true);
        RunningGuard(self)
    }

    /// Whether a task is running.
    pub fn is_running(&self) -> bool {
        *self.running.borrow()
    }

    async fn stopped(&self, wait: Duration) -> bool {
        let mut rx = self.running.subscribe();
        tokio::time::timeout(wait, rx.wait_for(|running| !running))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Marks the task FAILED with `trace`.
    pub fn fail(&self, trace: String) {
        *self.failure.lock() = Some(trace);
    }

    /// The failure trace, if the task failed.
    pub fn failure(&self) -> Option<String> {
        self.failure.lock().clone()
    }

    /// Records a (possibly retried) error.
    pub fn error(&self, message: String) {
        *self.last_error.lock() = Some(message);
    }

    /// How many times the task was restarted on request.
    pub fn restarts(&self) -> u64 {
        self.restarts.load(Ordering::Acquire)
    }
}

/// Clears the running flag when dropped.
pub struct RunningGuard<'a>(&'a ConnectorStatus);

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        self.0.running.send_replace(false);
    }
}

/// `{connector, task}`: a task id as Connect names it.
#[derive(Debug, Clone, Serialize)]
pub struct TaskId {
    /// Connector name.
    pub connector: String,
    /// Task number.
    pub task: u32,
}

/// Connect's `ConnectorInfo`: name, config, tasks, type.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectorInfo {
    /// Connector name.
    pub name: String,
    /// Its config.
    pub config: BTreeMap<String, String>,
    /// Its tasks.
    pub tasks: Vec<TaskId>,
    /// `sink` or `source`.
    #[serde(rename = "type")]
    pub kind: ConnectorKind,
}

/// The state of the connector or of one task.
#[derive(Debug, Clone, Serialize)]
pub struct StateInfo {
    /// Task number (tasks only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u32>,
    /// RUNNING, PAUSED, STOPPED or FAILED.
    pub state: &'static str,
    /// This gateway.
    pub worker_id: String,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
}

/// Connect's `ConnectorStateInfo`, plus our counters under `tidegate`.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectorStateInfo {
    /// Connector name.
    pub name: String,
    /// The connector's state.
    pub connector: StateInfo,
    /// Its tasks' states.
    pub tasks: Vec<StateInfo>,
    /// `sink` or `source`.
    #[serde(rename = "type")]
    pub kind: ConnectorKind,
    /// Counters (not in Connect's shape; Connect clients ignore it).
    pub tidegate: Counters,
}

/// A connector's counters.
#[derive(Debug, Clone, Serialize)]
pub struct Counters {
    /// Records acknowledged (sink) or written (source).
    pub records: u64,
    /// Batches acknowledged or polls written.
    pub batches: u64,
    /// Retried calls.
    pub retries: u64,
    /// Records dead-lettered.
    pub dead_letters: u64,
    /// Records skipped.
    pub skipped: u64,
    /// Sinks: records in their topics not yet delivered and committed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lag: Option<u64>,
    /// The most recent error, retried or not.
    pub last_error: Option<String>,
}

/// One entry of KIP-875's offsets shape: `{"partition": {...}, "offset": {...}}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OffsetEntry {
    /// Sink: `{"kafka_topic", "kafka_partition"}`; source: the plugin's partition JSON.
    pub partition: Value,
    /// Sink: `{"kafka_offset"}`; source: the plugin's offset JSON; `null` removes it (PATCH).
    pub offset: Value,
}

/// Connect's answer to a config validation.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigValidation {
    /// The plugin name.
    pub name: String,
    /// Fields with errors.
    pub error_count: usize,
    /// Config groups.
    pub groups: Vec<&'static str>,
    /// One entry per known or given key.
    pub configs: Vec<ConfigEntry>,
}

/// One key of a [`ConfigValidation`].
#[derive(Debug, Clone, Serialize)]
pub struct ConfigEntry {
    /// What the key is.
    pub definition: ConfigDefinition,
    /// Its value and errors.
    pub value: ConfigValue,
}

/// Connect's `ConfigKeyInfo`, reduced to what we know.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigDefinition {
    /// Key.
    pub name: String,
    /// Always STRING: configs are strings.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Whether it must be given.
    pub required: bool,
    /// What it does ("" for plugin keys).
    pub documentation: String,
    /// `Common` (host) or `Plugin`.
    pub group: &'static str,
}

/// Connect's `ConfigValueInfo`.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigValue {
    /// Key.
    pub name: String,
    /// The given value.
    pub value: Option<String>,
    /// Always empty.
    pub recommended_values: Vec<String>,
    /// Problems with it.
    pub errors: Vec<String>,
    /// Always true.
    pub visible: bool,
}

impl Broker {
    /// Every connector name, sorted.
    #[must_use]
    pub fn list_connectors(&self) -> Vec<String> {
        self.inner
            .definitions
            .table
            .lock()
            .connectors
            .keys()
            .filter(|c| {
                self.may(
                    super::ResourceType::Connector,
                    c,
                    super::Operation::Describe,
                )
            })
            .cloned()
            .collect()
    }

    /// Every connector entry (for the pipeline).
    #[must_use]
    pub fn connector_entries(&self) -> Vec<ConnectorEntry> {
        let table = self.inner.definitions.table.lock();
        table.connectors.values().cloned().collect()
    }

    /// One connector's entry.
    ///
    /// # Errors
    /// [`Error::UnknownConnector`].
    pub fn connector_entry(&self, name: &str) -> Result<ConnectorEntry> {
        let table = self.inner.definitions.table.lock();
        table
            .connectors
            .get(name)
            .cloned()
            .ok_or_else(|| Error::UnknownConnector(name.to_owned()))
    }

    /// Connect's description of a connector.
    ///
    /// # Errors
    /// [`Error::UnknownConnector`].
    pub fn connector_info(&self, name: &str) -> Result<ConnectorInfo> {
        self.authorize(
            super::ResourceType::Connector,
            name,
            super::Operation::Describe,
        )?;
        Ok(info(&self.connector_entry(name)?.definition))
    }

    /// Connect's status of a connector and its task.
    ///
    /// # Errors
    /// [`Error::UnknownConnector`].
    pub fn connector_status(&self, name: &str) -> Result<ConnectorStateInfo> {
        self.authorize(
            super::ResourceType::Connector,
            name,
            super::Operation::Describe,
        )?;
        let entry = self.connector_entry(name)?;
        let def = &entry.definition;
        let status = &entry.status;
        let worker_id = self.inner.config.worker_id.clone();
        let state = match def.target {
            TargetState::Running => "RUNNING",
            TargetState::Paused => "PAUSED",
            TargetState::Stopped => "STOPPED",
        };
        let failure = status.failure();
        let task_state = if failure.is_some() { "FAILED" } else { state };
        let tasks = if def.target == TargetState::Stopped {
            Vec::new()
        } else {
            vec![StateInfo {
                id: Some(0),
                state: task_state,
                worker_id: worker_id.clone(),
                trace: failure,
            }]
        };
        Ok(ConnectorStateInfo {
            name: def.name.clone(),
            connector: StateInfo {
                id: None,
                state,
                worker_id,
                trace: None,
            },
            tasks,
            kind: def.kind,
            tidegate: Counters {
                records: status.records.load(Ordering::Relaxed),
                batches: status.batches.load(Ordering::Relaxed),
                retries: status.retries.load(Ordering::Relaxed),
                dead_letters: status.dead_letters.load(Ordering::Relaxed),
                skipped: status.skipped.load(Ordering::Relaxed),
                lag: self.sink_lag(def),
                last_error: status.last_error.lock().clone(),
            },
        })
    }

    /// A sink's records not yet committed, over all partitions of its topics (from the start
    /// offset where it has no commit yet); `None` for sources.
    fn sink_lag(&self, def: &ConnectorDefinition) -> Option<u64> {
        if def.kind != ConnectorKind::Sink {
            return None;
        }
        let settings = settings::parse(&def.config, Some(ConnectorKind::Sink)).ok()?;
        let offsets = self.inner.connector_state.get(&def.name).offsets;
        let mut lag = 0u64;
        for topic in &settings.topics {
            for p in self.partition_offsets(topic).ok()? {
                let at = offsets
                    .sink
                    .get(&(topic.clone(), p.partition))
                    .copied()
                    .unwrap_or(p.start_offset)
                    .max(p.start_offset);
                lag += p.end_offset.saturating_sub(at);
            }
        }
        Some(lag)
    }

    /// Validates `config` for the plugin `plugin` the way Connect's
    /// `PUT /connector-plugins/{plugin}/config/validate` does: host keys and the plugin's own
    /// `validate`, every problem per field.
    ///
    /// # Errors
    /// [`Error::UnknownPlugin`]; the plugin is not a connector; the plugin trapped.
    pub async fn validate_connector_config(
        &self,
        plugin: &str,
        config: &BTreeMap<String, String>,
    ) -> Result<ConfigValidation> {
        let mut config = config.clone();
        config
            .entry("connector.class".into())
            .or_insert_with(|| plugin.to_owned());
        let (_, _, errors) = self.check_config(&config).await?;
        Ok(validation(plugin, &config, &errors))
    }

    /// Host and plugin checks of a config: the settings, the plugin's digest and kind, and
    /// every problem found.
    async fn check_config(
        &self,
        config: &BTreeMap<String, String>,
    ) -> Result<(
        ConnectorSettings,
        Option<(String, ConnectorKind)>,
        Vec<FieldError>,
    )> {
        let class = config.get("connector.class").map(|c| c.trim().to_owned());
        let plugin = match class.as_deref() {
            Some(c) if !c.is_empty() => Some(self.get_plugin(c)?),
            _ => None,
        };
        let loaded = match &plugin {
            Some(p) => Some(self.inner.plugins.load(&p.digest).await?),
            None => None,
        };
        let kind = match loaded.as_ref().map(|l| l.info().world) {
            Some(World::Sink) => Some(ConnectorKind::Sink),
            Some(World::Source) => Some(ConnectorKind::Source),
            Some(world) => {
                return Err(Error::InvalidConnectorConfig(vec![FieldError {
                    field: "connector.class".into(),
                    message: format!(
                        "plugin '{}' targets the {world} world, not a connector world",
                        class.unwrap_or_default()
                    ),
                }]));
            }
            None => None,
        };
        let (settings, mut errors) = settings::read(config, kind);
        errors.extend(self.check_topics(&settings, kind));
        if let Some(loaded) = &loaded {
            let plugin_config: Vec<(String, String)> =
                config.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            errors.extend(loaded.validate(&plugin_config, settings.limits).await?);
        }
        let identity = plugin.zip(kind).map(|(p, k)| (p.digest, k));
        Ok((settings, identity, errors))
    }

    fn check_topics(&self, s: &ConnectorSettings, kind: Option<ConnectorKind>) -> Vec<FieldError> {
        let field = match kind {
            Some(ConnectorKind::Source) => "topic",
            _ => "topics",
        };
        let mut errors = Vec::new();
        for topic in &s.topics {
            let problem = match TopicName::new(topic) {
                Err(e) => Some(e.to_string()),
                Ok(t) if t.is_internal() => Some(format!("'{topic}' is an internal topic")),
                Ok(t) => self
                    .inner
                    .storage
                    .topic(&t)
                    .err()
                    .map(|_| format!("topic '{topic}' does not exist")),
            };
            if let Some(message) = problem {
                errors.push(FieldError {
                    field: field.into(),
                    message,
                });
            }
        }
        if let Some(dlq) = &s.dlq_topic {
            let problem = match TopicName::new(dlq) {
                Err(e) => Some(e.to_string()),
                Ok(t) if t.is_internal() => Some(format!("'{dlq}' is an internal topic")),
                Ok(_) if s.topics.contains(dlq) => {
                    Some("the dead-letter topic cannot be one of the connector's topics".into())
                }
                Ok(_) => None,
            };
            if let Some(message) = problem {
                errors.push(FieldError {
                    field: "errors.deadletterqueue.topic.name".into(),
                    message,
                });
            }
        }
        if s.dir.is_some() && self.inner.config.connector_files.is_none() {
            errors.push(FieldError {
                field: "tidegate.dir".into(),
                message: "this gateway grants no directories (no connector files root)".into(),
            });
        }
        errors
    }

    /// Creates (`create_only`) or creates-or-updates a connector from its config: Connect's
    /// `POST /connectors` and `PUT /connectors/{name}/config`. An update applies live: the
    /// pipeline restarts the task with the new config, keeping its offsets. Returns the info
    /// and whether it was created.
    ///
    /// # Errors
    /// Invalid name; [`Error::ConnectorExists`] (create only); [`Error::InvalidConnectorConfig`]
    /// with every problem; [`Error::UnknownPlugin`].
    pub async fn put_connector(
        &self,
        name: &str,
        mut config: BTreeMap<String, String>,
        create_only: bool,
    ) -> Result<(ConnectorInfo, bool)> {
        let exists = self
            .inner
            .definitions
            .table
            .lock()
            .connectors
            .contains_key(name);
        let op = if exists {
            super::Operation::Alter
        } else {
            super::Operation::Create
        };
        self.authorize(super::ResourceType::Connector, name, op)?;
        validate_name("connector name", name)?;
        if let Some(given) = config.get("name")
            && given != name
        {
            return Err(Error::InvalidConnectorConfig(vec![FieldError {
                field: "name".into(),
                message: format!(
                    "connector name '{given}' does not match the connector's name '{name}'"
                ),
            }]));
        }
        config.insert("name".into(), name.to_owned());
        let (settings, identity, errors) = self.check_config(&config).await?;
        let (Some((digest, kind)), true) = (identity, errors.is_empty()) else {
            return Err(Error::InvalidConnectorConfig(errors));
        };
        // It may not reach what its creator could not: read what a sink consumes, write what
        // a source produces and where refused records go.
        let op = match kind {
            ConnectorKind::Sink => super::Operation::Read,
            ConnectorKind::Source => super::Operation::Write,
        };
        for topic in &settings.topics {
            self.authorize(super::ResourceType::Topic, topic, op)?;
        }
        if let Some(dlq) = &settings.dlq_topic {
            self.authorize(super::ResourceType::Topic, dlq, super::Operation::Write)?;
        }
        if let Some(dlq) = &settings.dlq_topic {
            self.ensure_topic(&TopicName::new(dlq)?, 1).await?;
        }
        let defs = &self.inner.definitions;
        let _writer = defs.writer().await;
        let existing = defs.table.lock().connectors.get(name).cloned();
        if let Some(existing) = &existing {
            if create_only {
                return Err(Error::ConnectorExists(name.to_owned()));
            }
            if existing.definition.kind != kind {
                return Err(Error::InvalidConnectorConfig(vec![FieldError {
                    field: "connector.class".into(),
                    message: format!(
                        "the connector is a {:?} connector; its plugin cannot become a {kind:?}",
                        existing.definition.kind
                    )
                    .to_lowercase(),
                }]));
            }
        }
        let definition = ConnectorDefinition {
            name: name.to_owned(),
            config,
            digest,
            kind,
            target: existing
                .as_ref()
                .map_or(TargetState::Running, |e| e.definition.target),
            created: existing
                .as_ref()
                .map_or_else(now_rfc3339, |e| e.definition.created.clone()),
            owner: self.owner(),
        };
        if let Some(existing) = &existing {
            existing.status.fail_clear();
        }
        defs.put_connector(definition.clone()).await?;
        tracing::info!(
            connector = name,
            created = existing.is_none(),
            "Connector stored."
        );
        Ok((info(&definition), existing.is_none()))
    }

    /// Sets a connector's target state (pause, resume, stop). Resuming clears FAILED. Stopping
    /// waits until the task is gone.
    ///
    /// # Errors
    /// [`Error::UnknownConnector`]; storage errors.
    pub async fn set_connector_target(&self, name: &str, target: TargetState) -> Result<()> {
        self.authorize(
            super::ResourceType::Connector,
            name,
            super::Operation::Alter,
        )?;
        let status = {
            let defs = &self.inner.definitions;
            let _writer = defs.writer().await;
            let entry = self.connector_entry(name)?;
            if target == TargetState::Running {
                entry.status.fail_clear();
            }
            let mut definition = entry.definition;
            if definition.target != target {
                definition.target = target;
                defs.put_connector(definition).await?;
            } else {
                defs.announce();
            }
            entry.status
        };
        if target == TargetState::Stopped && !status.stopped(STOP_WAIT).await {
            tracing::warn!(connector = name, "Connector task did not stop in time.");
        }
        Ok(())
    }

    /// Restarts a connector's task (Connect's `POST …/restart`): with `only_failed`, only if
    /// it failed. Returns the status after the request.
    ///
    /// # Errors
    /// [`Error::UnknownConnector`].
    pub fn restart_connector(&self, name: &str, only_failed: bool) -> Result<ConnectorStateInfo> {
        self.authorize(
            super::ResourceType::Connector,
            name,
            super::Operation::Alter,
        )?;
        let entry = self.connector_entry(name)?;
        if !only_failed || entry.status.failure().is_some() {
            entry.status.fail_clear();
            entry.status.restarts.fetch_add(1, Ordering::AcqRel);
            self.inner.definitions.announce();
            tracing::info!(connector = name, "Connector restart requested.");
        }
        self.connector_status(name)
    }

    /// Deletes a connector and its offsets and state; returns once its task has stopped, so
    /// no plugin call of it runs after this returns.
    ///
    /// # Errors
    /// [`Error::UnknownConnector`]; storage errors.
    pub async fn delete_connector(&self, name: &str) -> Result<()> {
        self.authorize(
            super::ResourceType::Connector,
            name,
            super::Operation::Delete,
        )?;
        let status = {
            let defs = &self.inner.definitions;
            let _writer = defs.writer().await;
            let entry = self.connector_entry(name)?;
            defs.delete_connector(name).await?;
            entry.status
        };
        if !status.stopped(STOP_WAIT).await {
            tracing::warn!(
                connector = name,
                "Deleted connector's task did not stop in time."
            );
        }
        self.inner.connector_state.forget(name).await?;
        tracing::info!(connector = name, "Connector deleted.");
        Ok(())
    }

    /// A connector's committed offsets and plugin state (for the pipeline).
    #[must_use]
    pub fn connector_committed(&self, name: &str) -> ConnectorCommitted {
        self.inner.connector_state.get(name)
    }

    /// Commits a connector's offsets with its plugin's key-value changes, in one append.
    ///
    /// # Errors
    /// Storage errors (nothing is committed then).
    pub async fn commit_connector(
        &self,
        name: &str,
        offsets: &ConnectorOffsets,
        kv_changes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    ) -> Result<()> {
        self.inner
            .connector_state
            .commit(name, offsets, kv_changes)
            .await
    }

    /// The capabilities a connector's settings grant: its allow-list, and its directory
    /// (created if missing) under the gateway's connector files root.
    ///
    /// # Errors
    /// [`Error::InvalidConnectorConfig`] if a directory is asked for but none can be granted.
    pub fn connector_grants(&self, settings: &ConnectorSettings) -> Result<Grants> {
        let dir = match (&settings.dir, &self.inner.config.connector_files) {
            (None, _) => None,
            (Some(dir), Some(root)) => {
                let path = root.join(dir);
                std::fs::create_dir_all(&path).map_err(|e| {
                    Error::InvalidConnectorConfig(vec![FieldError {
                        field: "tidegate.dir".into(),
                        message: format!("cannot create {}: {e}", path.display()),
                    }])
                })?;
                Some(path)
            }
            (Some(_), None) => {
                return Err(Error::InvalidConnectorConfig(vec![FieldError {
                    field: "tidegate.dir".into(),
                    message: "this gateway grants no directories".into(),
                }]));
            }
        };
        Ok(Grants {
            http_allow: settings.http_allow.clone(),
            dir,
        })
    }

    /// KIP-875's `GET /connectors/{name}/offsets`.
    ///
    /// # Errors
    /// [`Error::UnknownConnector`].
    pub fn connector_offsets(&self, name: &str) -> Result<Vec<OffsetEntry>> {
        self.authorize(
            super::ResourceType::Connector,
            name,
            super::Operation::Describe,
        )?;
        let entry = self.connector_entry(name)?;
        let offsets = self.inner.connector_state.get(name).offsets;
        Ok(match entry.definition.kind {
            ConnectorKind::Sink => offsets
                .sink
                .iter()
                .map(|((topic, partition), offset)| OffsetEntry {
                    partition: serde_json::json!({"kafka_topic": topic, "kafka_partition": partition}),
                    offset: serde_json::json!({"kafka_offset": offset}),
                })
                .collect(),
            ConnectorKind::Source => offsets
                .source
                .iter()
                .map(|(partition, offset)| OffsetEntry {
                    partition: parse_json(partition),
                    offset: parse_json(offset),
                })
                .collect(),
        })
    }

    /// KIP-875's `PATCH` (alter, `reset = false`) and `DELETE` (reset) of a STOPPED
    /// connector's offsets. The next start resumes from them.
    ///
    /// # Errors
    /// [`Error::UnknownConnector`]; [`Error::ConnectorNotStopped`]; [`Error::InvalidOffsets`].
    pub async fn change_connector_offsets(
        &self,
        name: &str,
        changes: &[OffsetEntry],
        reset: bool,
    ) -> Result<()> {
        self.authorize(
            super::ResourceType::Connector,
            name,
            super::Operation::Alter,
        )?;
        let entry = self.connector_entry(name)?;
        if entry.definition.target != TargetState::Stopped {
            return Err(Error::ConnectorNotStopped(name.to_owned()));
        }
        if !entry.status.stopped(STOP_WAIT).await {
            return Err(Error::ConnectorNotStopped(name.to_owned()));
        }
        let committed = self.inner.connector_state.get(name);
        let mut offsets = if reset {
            ConnectorOffsets::default()
        } else {
            committed.offsets.clone()
        };
        let bad =
            |i: usize, problem: &str| Error::InvalidOffsets(format!("offsets[{i}]: {problem}"));
        for (i, change) in changes.iter().enumerate() {
            match entry.definition.kind {
                ConnectorKind::Sink => {
                    let topic = change.partition.get("kafka_topic").and_then(Value::as_str);
                    let partition = change
                        .partition
                        .get("kafka_partition")
                        .and_then(Value::as_u64)
                        .and_then(|p| u32::try_from(p).ok());
                    let (Some(topic), Some(partition)) = (topic, partition) else {
                        return Err(bad(
                            i,
                            "a sink partition is {\"kafka_topic\": <string>, \"kafka_partition\": <int>}",
                        ));
                    };
                    let key = (topic.to_owned(), partition);
                    if change.offset.is_null() {
                        offsets.sink.remove(&key);
                        continue;
                    }
                    let Some(offset) = change.offset.get("kafka_offset").and_then(Value::as_u64)
                    else {
                        return Err(bad(i, "a sink offset is {\"kafka_offset\": <int>} or null"));
                    };
                    let end = TopicName::new(topic)
                        .ok()
                        .and_then(|t| self.inner.storage.offsets(&t, partition).ok())
                        .ok_or_else(|| bad(i, "no such topic partition"))?
                        .end;
                    if offset > end {
                        return Err(bad(i, &format!("offset {offset} is past the end {end}")));
                    }
                    offsets.sink.insert(key, offset);
                }
                ConnectorKind::Source => {
                    if !change.partition.is_object() {
                        return Err(bad(i, "a source partition is a JSON object"));
                    }
                    let partition = change.partition.to_string();
                    if change.offset.is_null() {
                        offsets.source.remove(&partition);
                    } else if change.offset.is_object() {
                        offsets.source.insert(partition, change.offset.to_string());
                    } else {
                        return Err(bad(i, "a source offset is a JSON object or null"));
                    }
                }
            }
        }
        if entry.definition.kind == ConnectorKind::Source {
            // Records already written stay behind the new offsets: recovery must not read
            // their positions back over the user's.
            let settings = settings::parse(&entry.definition.config, Some(ConnectorKind::Source))
                .map_err(Error::InvalidConnectorConfig)?;
            offsets.ends = self.topic_ends(&settings.topics)?;
        }
        self.inner
            .connector_state
            .commit(name, &offsets, Vec::new())
            .await?;
        tracing::info!(connector = name, reset, "Connector offsets changed.");
        Ok(())
    }

    /// End offsets of every partition of `topics`, keyed `topic/partition`.
    ///
    /// # Errors
    /// Unknown topics.
    pub fn topic_ends(&self, topics: &[String]) -> Result<BTreeMap<String, u64>> {
        let mut ends = BTreeMap::new();
        for topic in topics {
            for p in self.partition_offsets(topic)? {
                ends.insert(format!("{topic}/{}", p.partition), p.end_offset);
            }
        }
        Ok(ends)
    }
}

impl ConnectorStatus {
    fn fail_clear(&self) {
        *self.failure.lock() = None;
    }
}

/// The host's settings of a stored connector of `kind`.
///
/// # Errors
/// [`Error::InvalidConnectorConfig`] (a definition stored by an older version that this one
/// no longer accepts).
pub fn settings_of(def: &ConnectorDefinition, kind: ConnectorKind) -> Result<ConnectorSettings> {
    settings::parse(&def.config, Some(kind)).map_err(Error::InvalidConnectorConfig)
}

fn parse_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

fn info(def: &ConnectorDefinition) -> ConnectorInfo {
    let tasks = if def.target == TargetState::Stopped {
        Vec::new()
    } else {
        vec![TaskId {
            connector: def.name.clone(),
            task: 0,
        }]
    };
    ConnectorInfo {
        name: def.name.clone(),
        config: def.config.clone(),
        tasks,
        kind: def.kind,
    }
}

fn validation(
    plugin: &str,
    config: &BTreeMap<String, String>,
    errors: &[FieldError],
) -> ConfigValidation {
    let mut keys: Vec<(String, &'static str, String)> = settings::HOST_KEYS
        .iter()
        .map(|(k, doc)| ((*k).to_owned(), "Common", (*doc).to_owned()))
        .collect();
    for key in config.keys().chain(errors.iter().map(|e| &e.field)) {
        if !key.is_empty() && !keys.iter().any(|(k, _, _)| k == key) {
            keys.push((key.clone(), "Plugin", String::new()));
        }
    }
    let configs: Vec<ConfigEntry> = keys
        .into_iter()
        .map(|(name, group, documentation)| ConfigEntry {
            definition: ConfigDefinition {
                required: name == "connector.class",
                name: name.clone(),
                kind: "STRING",
                documentation,
                group,
            },
            value: ConfigValue {
                value: config.get(&name).cloned(),
                errors: errors
                    .iter()
                    .filter(|e| {
                        e.field == name || (e.field.is_empty() && name == "connector.class")
                    })
                    .map(|e| e.message.clone())
                    .collect(),
                name,
                recommended_values: Vec::new(),
                visible: true,
            },
        })
        .collect();
    ConfigValidation {
        name: plugin.to_owned(),
        error_count: configs
            .iter()
            .filter(|c| !c.value.errors.is_empty())
            .count(),
        groups: vec!["Common", "Plugin"],
        configs,
    }
}
