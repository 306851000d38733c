//! Topic administration: create, list, describe, alter config, delete.
//!
//! Config arrives as Kafka-style `key = value` strings (every front end speaks them) and is
//! checked here, key by key, before it reaches storage.

use std::collections::BTreeMap;

use serde::Serialize;

use super::storage::{CleanupPolicy, Storage, StorageError, TopicConfig, TopicMeta};
use super::topic_schemas::{TopicSchemaSettings, split_config};
use super::{Broker, Error, Result};
use crate::event::TopicName;

/// Most partitions one topic may have.
pub const MAX_PARTITIONS: u32 = 1024;

/// One partition's offsets.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PartitionInfo {
    /// Partition number.
    pub partition: u32,
    /// First offset still stored.
    pub start_offset: u64,
    /// One past the last readable offset.
    pub end_offset: u64,
}

/// A topic as admin calls describe it.
#[derive(Debug, Clone, Serialize)]
pub struct TopicDescription {
    /// Topic name.
    pub name: String,
    /// Internal topics (`__…`) are maintained by Tidegate itself.
    pub internal: bool,
    /// Per-partition offsets.
    pub partitions: Vec<PartitionInfo>,
    /// Effective configuration.
    pub config: TopicConfig,
    /// Schema validation settings (`value.schema.validation`, …), when the topic has any.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub schema_validation: BTreeMap<String, String>,
}

impl Broker {
    /// Creates a topic.
    ///
    /// # Errors
    /// Invalid name, partition count or config; [`StorageError::TopicExists`].
    pub async fn create_topic(
        &self,
        name: &str,
        partitions: i64,
        config: &BTreeMap<String, String>,
    ) -> Result<TopicDescription> {
        self.authorize(super::ResourceType::Topic, name, super::Operation::Create)?;
        let name = TopicName::new(name)?;
        let count = u32::try_from(partitions)
            .ok()
            .filter(|p| (1..=MAX_PARTITIONS).contains(p))
            .ok_or(Error::InvalidPartitionCount {
                requested: partitions,
                max: MAX_PARTITIONS,
            })?;
        let (schema_keys, config) = split_config(config);
        // Checked before the topic exists, so a bad schema key creates nothing.
        TopicSchemaSettings {
            topic: name.to_string(),
            ..TopicSchemaSettings::default()
        }
        .apply(&schema_keys)?;
        let mut topic_config = self.inner.storage.default_topic_config();
        apply_config(&mut topic_config, &config)?;
        self.inner
            .storage
            .create_topic(&name, count, topic_config)
            .await?;
        self.alter_topic_schema(&name, &schema_keys).await?;
        self.describe_topic(name.as_str())
    }

    /// Creates `name` with `partitions` and default config unless it exists; two callers may
    /// race to create it, and either way it exists afterwards.
    pub(super) async fn ensure_topic(&self, name: &TopicName, partitions: u32) -> Result<()> {
        let storage = &self.inner.storage;
        match storage.topic(name) {
            Err(StorageError::UnknownTopic { .. }) => {}
            other => return other.map(drop).map_err(Error::from),
        }
        let config = storage.default_topic_config();
        match storage.create_topic(name, partitions, config).await {
            Ok(()) | Err(StorageError::TopicExists { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Every topic, sorted by name.
    #[must_use]
    pub fn list_topics(&self) -> Vec<TopicDescription> {
        self.inner
            .storage
            .topics()
            .into_iter()
            .filter(|t| {
                self.may(
                    super::ResourceType::Topic,
                    t.name.as_str(),
                    super::Operation::Describe,
                )
            })
            .map(|t| self.describe(t))
            .collect()
    }

    /// One topic.
    ///
    /// # Errors
    /// Invalid name or unknown topic.
    pub fn describe_topic(&self, name: &str) -> Result<TopicDescription> {
        self.authorize(super::ResourceType::Topic, name, super::Operation::Describe)?;
        let name = TopicName::new(name)?;
        Ok(self.describe(self.inner.storage.topic(&name)?))
    }

    /// Just the partitions' offsets of a topic: the cheap part of a description, for callers
    /// that poll it (the pipeline, per batch).
    ///
    /// # Errors
    /// Invalid name or unknown topic.
    pub fn partition_offsets(&self, name: &str) -> Result<Vec<PartitionInfo>> {
        self.authorize(super::ResourceType::Topic, name, super::Operation::Describe)?;
        let name = TopicName::new(name)?;
        let meta = self.inner.storage.topic(&name)?;
        self.partition_infos(&meta)
    }

    /// Changes some config keys of a topic; keys not named keep their values.
    ///
    /// # Errors
    /// Invalid name, unknown topic or invalid config.
    pub async fn alter_topic_config(
        &self,
        name: &str,
        changes: &BTreeMap<String, String>,
    ) -> Result<TopicDescription> {
        self.authorize(super::ResourceType::Topic, name, super::Operation::Alter)?;
        let name = TopicName::new(name)?;
        let (schema_keys, changes) = split_config(changes);
        TopicSchemaSettings {
            topic: name.to_string(),
            ..TopicSchemaSettings::default()
        }
        .apply(&schema_keys)?;
        let mut config = self.inner.storage.topic(&name)?.config;
        apply_config(&mut config, &changes)?;
        self.inner.storage.alter_topic_config(&name, config).await?;
        self.alter_topic_schema(&name, &schema_keys).await?;
        self.describe_topic(name.as_str())
    }

    /// Deletes a topic and its data.
    ///
    /// # Errors
    /// Invalid name, unknown or internal topic.
    pub async fn delete_topic(&self, name: &str) -> Result<()> {
        self.authorize(super::ResourceType::Topic, name, super::Operation::Delete)?;
        let name = TopicName::new(name)?;
        if name.is_internal() {
            return Err(Error::InternalTopic(name));
        }
        self.inner.storage.delete_topic(&name).await?;
        self.forget_topic_schema(&name).await?;
        self.forget_topic_offsets(&name).await
    }

    /// A description from storage metadata; partitions deleted meanwhile are left out.
    fn describe(&self, meta: TopicMeta) -> TopicDescription {
        TopicDescription {
            name: meta.name.to_string(),
            internal: meta.name.is_internal(),
            partitions: self.partition_infos(&meta).unwrap_or_default(),
            schema_validation: self
                .topic_schema(meta.name.as_str())
                .map(|s| s.as_config())
                .unwrap_or_default(),
            config: meta.config,
        }
    }

    fn partition_infos(&self, meta: &TopicMeta) -> Result<Vec<PartitionInfo>> {
        (0..meta.partitions)
            .map(|partition| {
                let offsets = self.inner.storage.offsets(&meta.name, partition)?;
                Ok(PartitionInfo {
                    partition,
                    start_offset: offsets.start,
                    end_offset: offsets.end,
                })
            })
            .collect()
    }
}

/// Applies Kafka-style config strings to `config`, refusing unknown keys and bad values.
fn apply_config(config: &mut TopicConfig, changes: &BTreeMap<String, String>) -> Result<()> {
    for (key, value) in changes {
        let bad = |problem: &str| Error::InvalidConfig {
            key: key.clone(),
            problem: problem.into(),
        };
        let int = || {
            value
                .trim()
                .parse::<i64>()
                .map_err(|_| bad("must be an integer"))
        };
        match key.as_str() {
            "retention.ms" => {
                config.retention_ms = at_least(int()?, -1).ok_or(bad("must be ≥ -1"))?
            }
            "retention.bytes" => {
                config.retention_bytes = at_least(int()?, -1).ok_or(bad("must be ≥ -1"))?;
            }
            "delete.retention.ms" => {
                config.delete_retention_ms = at_least(int()?, 0).ok_or(bad("must be ≥ 0"))?;
            }
            "segment.ms" => config.segment_ms = at_least(int()?, 1).ok_or(bad("must be ≥ 1"))?,
            "segment.bytes" => {
                config.segment_bytes = u64::try_from(int()?)
                    .ok()
                    .filter(|b| *b >= 1024)
                    .ok_or(bad("must be ≥ 1024"))?;
            }
            "max.message.bytes" => {
                config.max_message_bytes = u32::try_from(int()?)
                    .ok()
                    .filter(|b| *b >= 1)
                    .ok_or(bad("must be between 1 and 4294967295"))?;
            }
            "cleanup.policy" => {
                config.cleanup_policy = match value.trim() {
                    "delete" => CleanupPolicy::Delete,
                    "compact" => CleanupPolicy::Compact,
                    _ => return Err(bad("must be 'delete' or 'compact'")),
                };
            }
            _ => return Err(bad("unknown config key")),
        }
    }
    // Engine-specific bounds (e.g. the file engine's largest segment) are checked by the
    // engine, which answers `StorageError::InvalidConfig` naming the field.
    Ok(())
}

fn at_least(v: i64, min: i64) -> Option<i64> {
    (v >= min).then_some(v)
}
