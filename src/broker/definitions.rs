//! Durable definitions of plugins, transforms and connectors, kept in the internal compacted
//! topic `__tidegate_config` (key `plugin/{name}`, `transform/{name}` or `connector/{name}`,
//! JSON value, tombstone on delete) and replayed at start.
//!
//! This module owns the in-memory table and its persistence, and announces every change on a
//! `watch` channel so the pipeline can reconcile running transforms. It does not validate
//! definitions (the use cases in `plugins` and `transforms` do) and runs nothing.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::Result;
use super::connectors::{ConnectorDefinition, ConnectorEntry, ConnectorStatus};
use super::internal::InternalTopic;
use super::storage::{CleanupPolicy, Engine};
use super::transforms::TransformStatus;
use crate::event::Record;

/// The internal topic holding plugin and transform definitions.
pub const TOPIC: &str = "__tidegate_config";

/// A stored plugin: an uploaded component under a name.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PluginDefinition {
    /// Name it was uploaded under.
    pub name: String,
    /// `sha256:<hex>` of the component bytes.
    pub digest: String,
    /// The world it targets (`transform` or `transform-raw`).
    pub world: String,
    /// Component size in bytes.
    pub size: usize,
    /// Upload time, RFC 3339.
    pub created: String,
}

/// What a transform does when a batch still fails after its retries.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Send the batch's records to `<name>.dlq` with the error in headers, and go on.
    #[default]
    Dlq,
    /// Drop the batch and go on.
    Skip,
    /// Stop the transform (state FAILED) until it is resumed.
    Stop,
}

/// How a transform batches its input.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct BatchPolicy {
    /// Most records per plugin call.
    pub max_records: usize,
    /// How long to wait for a batch to fill before calling with what is there, in ms.
    pub max_wait_ms: u64,
}

impl Default for BatchPolicy {
    fn default() -> Self {
        Self {
            max_records: 100,
            max_wait_ms: 50,
        }
    }
}

/// A stored transform.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TransformDefinition {
    /// Transform name (also names its dead-letter topic `<name>.dlq`).
    pub name: String,
    /// Plugin name.
    pub plugin: String,
    /// Plugin digest at creation; the transform keeps running this exact component.
    pub digest: String,
    /// Input topic.
    pub input: String,
    /// Output topics; output index 0 is the default.
    pub outputs: Vec<String>,
    /// Configuration handed to the plugin's `init`.
    pub config: BTreeMap<String, String>,
    /// Failure policy.
    pub on_error: OnError,
    /// Batching.
    pub batch: BatchPolicy,
    /// Plugin limits.
    pub limits: crate::plugin::Limits,
    /// Paused by the user.
    pub paused: bool,
    /// Creation time, RFC 3339.
    pub created: String,
    /// Who created it (with authentication on): it runs with this principal's rights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Owner>,
}

/// The principal a transform or connector acts for.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Owner {
    /// Principal name.
    pub name: String,
    /// Its groups when it created the definition.
    #[serde(default)]
    pub groups: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum Stored {
    Plugin(PluginDefinition),
    Transform(TransformDefinition),
    Connector(ConnectorDefinition),
    #[serde(rename = "topic-schema")]
    TopicSchema(super::topic_schemas::TopicSchemaSettings),
}

/// A transform with its live status.
#[derive(Clone)]
pub struct TransformEntry {
    /// The definition.
    pub definition: TransformDefinition,
    /// Counters and state, updated by the pipeline.
    pub status: Arc<TransformStatus>,
}

#[derive(Default)]
pub(super) struct Table {
    pub(super) plugins: BTreeMap<String, PluginDefinition>,
    pub(super) transforms: BTreeMap<String, TransformEntry>,
    pub(super) connectors: BTreeMap<String, ConnectorEntry>,
    /// Schema validation settings per topic (`topic-schema/{topic}`).
    pub(super) topic_schemas: BTreeMap<String, super::topic_schemas::TopicSchemaSettings>,
}

pub(super) struct Definitions {
    topic: InternalTopic,
    pub(super) table: Mutex<Table>,
    /// Bumped after every change, so watchers reconcile.
    changes: watch::Sender<u64>,
    /// Serializes writers, so the table and the topic change in the same order.
    write: tokio::sync::Mutex<()>,
}

impl Definitions {
    pub(super) async fn open(storage: &Arc<Engine>) -> Result<Self> {
        let topic = InternalTopic::open(storage, TOPIC, |c| {
            c.cleanup_policy = CleanupPolicy::Compact
        })
        .await?;
        let mut table = Table::default();
        topic
            .replay(|key, value: Option<Stored>, _| {
                let key = String::from_utf8_lossy(&key).into_owned();
                match value {
                    Some(Stored::Plugin(p)) => {
                        table.plugins.insert(p.name.clone(), p);
                    }
                    Some(Stored::Connector(c)) => {
                        let status = Arc::new(ConnectorStatus::default());
                        let entry = ConnectorEntry {
                            definition: c,
                            status,
                        };
                        table
                            .connectors
                            .insert(entry.definition.name.clone(), entry);
                    }
                    Some(Stored::Transform(t)) => {
                        let status = Arc::new(TransformStatus::default());
                        table.transforms.insert(
                            t.name.clone(),
                            TransformEntry {
                                definition: t,
                                status,
                            },
                        );
                    }
                    Some(Stored::TopicSchema(settings)) => {
                        table.topic_schemas.insert(settings.topic.clone(), settings);
                    }
                    None => {
                        if let Some(name) = key.strip_prefix("topic-schema/") {
                            table.topic_schemas.remove(name);
                        } else if let Some(name) = key.strip_prefix("plugin/") {
                            table.plugins.remove(name);
                        } else if let Some(name) = key.strip_prefix("transform/") {
                            table.transforms.remove(name);
                        } else if let Some(name) = key.strip_prefix("connector/") {
                            table.connectors.remove(name);
                        }
                    }
                }
            })
            .await?;
        Ok(Self {
            topic,
            table: Mutex::new(table),
            changes: watch::Sender::new(0),
            write: tokio::sync::Mutex::new(()),
        })
    }

    /// Takes the writer lock; hold it across check-then-write sequences.
    pub(super) async fn writer(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.write.lock().await
    }

    pub(super) async fn put_plugin(&self, plugin: PluginDefinition) -> Result<()> {
        let key = format!("plugin/{}", plugin.name);
        self.persist(&key, Some(&Stored::Plugin(plugin.clone())))
            .await?;
        self.table
            .lock()
            .plugins
            .insert(plugin.name.clone(), plugin);
        self.announce();
        Ok(())
    }

    pub(super) async fn delete_plugin(&self, name: &str) -> Result<()> {
        self.persist(&format!("plugin/{name}"), None).await?;
        self.table.lock().plugins.remove(name);
        self.announce();
        Ok(())
    }

    pub(super) async fn put_transform(&self, definition: TransformDefinition) -> Result<()> {
        let key = format!("transform/{}", definition.name);
        self.persist(&key, Some(&Stored::Transform(definition.clone())))
            .await?;
        let mut table = self.table.lock();
        let status = table.transforms.get(&definition.name).map_or_else(
            || Arc::new(TransformStatus::default()),
            |e| Arc::clone(&e.status),
        );
        table.transforms.insert(
            definition.name.clone(),
            TransformEntry { definition, status },
        );
        drop(table);
        self.announce();
        Ok(())
    }

    pub(super) async fn delete_transform(&self, name: &str) -> Result<()> {
        self.persist(&format!("transform/{name}"), None).await?;
        self.table.lock().transforms.remove(name);
        self.announce();
        Ok(())
    }

    pub(super) async fn put_connector(&self, definition: ConnectorDefinition) -> Result<()> {
        let key = format!("connector/{}", definition.name);
        self.persist(&key, Some(&Stored::Connector(definition.clone())))
            .await?;
        let mut table = self.table.lock();
        let status = table.connectors.get(&definition.name).map_or_else(
            || Arc::new(ConnectorStatus::default()),
            |e| Arc::clone(&e.status),
        );
        table.connectors.insert(
            definition.name.clone(),
            ConnectorEntry { definition, status },
        );
        drop(table);
        self.announce();
        Ok(())
    }

    pub(super) async fn delete_connector(&self, name: &str) -> Result<()> {
        self.persist(&format!("connector/{name}"), None).await?;
        self.table.lock().connectors.remove(name);
        self.announce();
        Ok(())
    }

    /// Stores (or with `None`, removes) a topic's schema validation settings.
    pub(super) async fn put_topic_schema(
        &self,
        topic: &str,
        settings: Option<super::topic_schemas::TopicSchemaSettings>,
    ) -> Result<()> {
        let key = format!("topic-schema/{topic}");
        let stored = settings.clone().map(Stored::TopicSchema);
        self.persist(&key, stored.as_ref()).await?;
        let mut table = self.table.lock();
        match settings {
            Some(s) => table.topic_schemas.insert(topic.to_owned(), s),
            None => table.topic_schemas.remove(topic),
        };
        Ok(())
    }

    pub(super) fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Wakes the watchers (the pipeline reconciles what it runs).
    pub(super) fn announce(&self) {
        self.changes.send_modify(|generation| *generation += 1);
    }

    async fn persist(&self, key: &str, value: Option<&Stored>) -> Result<()> {
        let value = value.map(|v| Bytes::from(serde_json::to_vec(v).unwrap_or_default()));
        let record = Record {
            key: Some(Bytes::from(key.to_owned())),
            value,
            timestamp: super::now_ms(),
            ..Record::default()
        };
        self.topic.append(std::slice::from_ref(&record)).await?;
        Ok(())
    }
}

/// Now as RFC 3339 with milliseconds.
pub(super) fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}
