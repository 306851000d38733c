//! Consumer instances: named, long-lived consumers that a client drives one request at a time
//! (Confluent REST Proxy v2's `/consumers/{group}/instances/{name}`), with a subscription to
//! topics or a pattern, or a manual assignment, positions, seeks and commits.
//!
//! Owns an instance's lifecycle and rules: creation (a name unique in its group), idle expiry,
//! the exclusive choice between subscribing and assigning, and where its definition lives
//! ([`store`]: an internal topic, so instances survive a restart and any gateway over the same
//! storage serves them). Its cursor ([`live`]) is built on subscriptions, so the partitions of
//! a subscribed topic are balanced across the group's live members like any group member's.
//! It must not know the proxy's formats: the format is kept for the front end, not read.

mod live;
mod store;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::groups::validate_group;
use super::storage::Storage;
use super::{Broker, Error, Result, now_ms};
use crate::event::TopicName;

pub use live::InstanceRecord;
pub(super) use store::Store;
pub use store::TOPIC;

/// How long an instance lives without requests, by default (Confluent's
/// `consumer.instance.timeout.ms`).
pub const DEFAULT_INSTANCE_TIMEOUT_MS: i64 = 300_000;
/// How long a records request waits for data when neither it nor its instance says.
pub const DEFAULT_REQUEST_WAIT: Duration = Duration::from_secs(1);
/// Longest instance name accepted.
pub const MAX_NAME_LEN: usize = 255;

/// (group, instance name).
pub type InstanceKey = (String, String);

/// Where a partition without a committed offset starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OffsetReset {
    /// The first offset still stored.
    Earliest,
    /// The end: only records appended from then on (Kafka's default).
    #[default]
    Latest,
}

/// An instance's settings, fixed at creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceConfig {
    /// The front end's embedded format (kept, not interpreted, by the broker).
    pub format: String,
    /// Where partitions without a committed offset start.
    pub offset_reset: OffsetReset,
    /// Commit what earlier records requests returned, at the start of the next one, on a
    /// rebalance and on delete or expiry.
    pub auto_commit: bool,
    /// A records request returns once this many bytes are buffered (or its wait ends);
    /// 0 or less: as soon as any record is there.
    pub fetch_min_bytes: i64,
    /// Longest wait of one records request; the server default when `None`.
    pub request_wait_ms: Option<u64>,
}

/// A topic partition.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: u32,
}

/// What an instance reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Interest {
    /// Nothing yet (or unsubscribed).
    #[default]
    None,
    /// These topics, their partitions balanced across the group's members.
    Topics {
        /// Topic names (topics created later are picked up when they appear).
        topics: Vec<String>,
    },
    /// Every topic whose whole name matches this regular expression, balanced likewise.
    Pattern {
        /// The expression.
        pattern: String,
    },
    /// Exactly these partitions, outside any balancing.
    Partitions {
        /// The assignment.
        partitions: Vec<TopicPartition>,
    },
}

/// A stored consumer instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    /// Its group.
    pub group: String,
    /// Its name in the group.
    pub name: String,
    /// Settings.
    pub config: InstanceConfig,
    /// What it reads.
    #[serde(default)]
    pub interest: Interest,
    /// Creation time, ms since the epoch.
    pub created_ms: i64,
    /// Last request, ms since the epoch.
    pub last_seen_ms: i64,
}

impl Instance {
    fn key(&self) -> InstanceKey {
        (self.group.clone(), self.name.clone())
    }
}

/// Where a seek moves a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seek {
    /// This offset (the next one read).
    To(u64),
    /// The first offset still stored.
    Beginning,
    /// The end.
    End,
    /// The first record at or after this time (ms since the epoch).
    Time(i64),
}

fn validate_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > MAX_NAME_LEN
        || name.chars().any(|c| c.is_control() || c == '/')
    {
        return Err(Error::InvalidInstanceConfig(format!(
            "instance name must be 1 to {MAX_NAME_LEN} bytes without '/' or control characters"
        )));
    }
    Ok(())
}

impl Broker {
    fn instance_timeout_ms(&self) -> i64 {
        self.inner.config.consumer_instance_timeout_ms
    }

    /// Creates an instance in `group`, named `name` or `rest-consumer-<uuid>`.
    ///
    /// # Errors
    /// Invalid group or name; [`Error::InstanceExists`]; storage errors.
    pub async fn create_instance(
        &self,
        group: &str,
        name: Option<&str>,
        config: InstanceConfig,
    ) -> Result<Instance> {
        self.authorize(super::ResourceType::Group, group, super::Operation::Read)?;
        validate_group(group).map_err(|_| {
            Error::InvalidInstanceConfig(format!(
                "group id must be 1 to {} bytes without control characters",
                super::groups::MAX_GROUP_LEN
            ))
        })?;
        let name = name.map_or_else(
            || format!("rest-consumer-{}", uuid::Uuid::new_v4()),
            ToOwned::to_owned,
        );
        validate_name(&name)?;
        let store = &self.inner.instances;
        let _writer = store.writer().await;
        let now = now_ms();
        let key = (group.to_owned(), name.clone());
        let taken = store
            .table
            .lock()
            .get(&key)
            .is_some_and(|e| !self.expired(&e.instance, now));
        if taken {
            return Err(Error::InstanceExists {
                group: group.to_owned(),
                name,
            });
        }
        let instance = Instance {
            group: group.to_owned(),
            name,
            config,
            interest: Interest::None,
            created_ms: now,
            last_seen_ms: now,
        };
        store.put(instance.clone(), true).await?;
        Ok(instance)
    }

    fn expired(&self, instance: &Instance, now: i64) -> bool {
        now.saturating_sub(instance.last_seen_ms) > self.instance_timeout_ms()
    }

    /// The instance, its idle clock reset (the write reaches the topic only when the stored
    /// time is a quarter of the timeout old, so requests do not each cost an append).
    ///
    /// # Errors
    /// [`Error::UnknownInstance`] (also when it expired); storage errors.
    pub async fn instance(&self, group: &str, name: &str) -> Result<Instance> {
        self.authorize(super::ResourceType::Group, group, super::Operation::Read)?;
        let store = &self.inner.instances;
        let key = (group.to_owned(), name.to_owned());
        let now = now_ms();
        let unknown = || Error::UnknownInstance {
            group: group.to_owned(),
            name: name.to_owned(),
        };
        let stale = {
            let mut table = store.table.lock();
            let entry = table.get_mut(&key).ok_or_else(unknown)?;
            if self.expired(&entry.instance, now) {
                return Err(unknown());
            }
            entry.instance.last_seen_ms = now;
            let stale = now - entry.persisted_seen_ms > self.instance_timeout_ms() / 4;
            stale.then(|| entry.instance.clone())
        };
        if let Some(instance) = stale {
            let _writer = store.writer().await;
            if store.table.lock().contains_key(&key) {
                store.put(instance.clone(), false).await?;
            }
            return Ok(instance);
        }
        store
            .table
            .lock()
            .get(&key)
            .map(|e| e.instance.clone())
            .ok_or_else(unknown)
    }

    /// Deletes an instance; an auto-committing one commits what it returned first.
    ///
    /// # Errors
    /// [`Error::UnknownInstance`]; storage errors.
    pub async fn delete_instance(&self, group: &str, name: &str) -> Result<()> {
        let instance = self.instance(group, name).await?;
        self.commit_on_leave(&instance).await;
        let store = &self.inner.instances;
        let _writer = store.writer().await;
        store.remove(&instance.key()).await?;
        Ok(())
    }

    /// Subscribes, assigns or (with [`Interest::None`]) unsubscribes; a subscription replaces
    /// the previous one. The old cursor is closed (committing, when auto-committing).
    ///
    /// # Errors
    /// [`Error::InstanceState`] when mixing a subscription with an assignment; invalid topic
    /// names or pattern; unknown topics or partitions of an assignment.
    pub async fn set_instance_interest(
        &self,
        group: &str,
        name: &str,
        interest: Interest,
    ) -> Result<()> {
        let mut instance = self.instance(group, name).await?;
        let mixed = matches!(
            (&instance.interest, &interest),
            (
                Interest::Topics { .. } | Interest::Pattern { .. },
                Interest::Partitions { .. }
            ) | (
                Interest::Partitions { .. },
                Interest::Topics { .. } | Interest::Pattern { .. }
            )
        );
        if mixed {
            return Err(Error::InstanceState(
                "Subscription to topics, partitions and pattern are mutually exclusive.".into(),
            ));
        }
        self.check_interest(&interest)?;
        self.commit_on_leave(&instance).await;
        instance.interest = interest;
        let store = &self.inner.instances;
        let writer = store.writer().await;
        if !store.table.lock().contains_key(&instance.key()) {
            return Err(Error::UnknownInstance {
                group: group.to_owned(),
                name: name.to_owned(),
            });
        }
        store.put(instance.clone(), true).await?;
        drop(writer);
        // Join the group now, as the proxy's consumers do, so partitions are balanced from
        // the first records request of any member.
        if matches!(
            instance.interest,
            Interest::Topics { .. } | Interest::Pattern { .. }
        ) {
            self.open_instance_cursor(&instance).await?;
        }
        Ok(())
    }

    fn check_interest(&self, interest: &Interest) -> Result<()> {
        match interest {
            Interest::None => {}
            Interest::Topics { topics } => {
                if topics.is_empty() {
                    return Err(Error::InvalidSubscription(
                        "a subscription names at least one topic".into(),
                    ));
                }
                for topic in topics {
                    TopicName::new(topic)?;
                }
            }
            Interest::Pattern { pattern } => {
                live::compile_pattern(pattern)?;
            }
            Interest::Partitions { partitions } => {
                for tp in partitions {
                    let topic = TopicName::new(&tp.topic)?;
                    let count = self.inner.storage.topic(&topic)?.partitions;
                    if tp.partition >= count {
                        return Err(super::StorageError::UnknownPartition {
                            topic,
                            partition: tp.partition,
                            partitions: count,
                        }
                        .into());
                    }
                }
            }
        }
        Ok(())
    }

    /// Expires instances idle longer than the timeout (part of the maintenance pass).
    pub(super) async fn expire_instances(&self, now: i64) -> Result<()> {
        let store = &self.inner.instances;
        let idle: Vec<Instance> = store
            .table
            .lock()
            .values()
            .filter(|e| self.expired(&e.instance, now))
            .map(|e| e.instance.clone())
            .collect();
        for instance in &idle {
            self.commit_on_leave(instance).await;
        }
        let _writer = store.writer().await;
        // A request may have come in meanwhile.
        let keys: Vec<InstanceKey> = {
            let table = store.table.lock();
            idle.iter()
                .map(Instance::key)
                .filter(|k| table.get(k).is_some_and(|e| self.expired(&e.instance, now)))
                .collect()
        };
        for entry in store.remove_all(&keys).await? {
            let i = &entry.instance;
            tracing::info!(group = %i.group, instance = %i.name, "Consumer instance expired.");
        }
        Ok(())
    }
}
