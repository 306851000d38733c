//! The use cases every front end shares: topic admin, produce, fetch with long-poll,
//! consumer-group offsets and idempotent produce.
//!
//! The broker is the seam between front ends (HTTP today, WebSocket, REST Proxy later) and
//! storage. It owns request semantics — partitioning, all-or-nothing validation, limits —
//! and never speaks HTTP: callers get typed results and a typed [`Error`]. Storage is reached
//! only through the [`Storage`] trait of [`storage`]; the types front ends see (topic config,
//! offsets, fetch results, errors) are the broker's own, so any engine can sit underneath.

mod acl;
mod admin;
mod audit;
mod auth;
mod connector_state;
mod connectors;
mod consumer_instances;
mod definitions;
mod error;
mod fanout;
mod fetch;
mod filter;
mod groups;
mod idempotency;
mod internal;
mod membership;
mod partial;
mod plugins;
mod produce;
mod schemas;
pub mod storage;
mod subscribe;
mod topic_schemas;
mod transform_state;
mod transforms;
mod value_check;

#[cfg(test)]
mod tests;

use std::sync::{Arc, atomic::AtomicU64};

/// The plugin host's vocabulary, re-exported: the broker owns the host, so the pipeline and
/// the front ends reach plugins through the broker and never name the layer below it.
pub use crate::plugin::{
    BatchContext, CallStats as PluginCallStats, DEFAULT_MAX_COMPONENT_BYTES, Error as PluginError,
    FieldError, Grants, Host as PluginHost, OutputRecord, Plugin, SinkInstance, SourceInstance,
    SourceOffset, SourceRecord, StateFull, StateStore as PluginState, TransformInstance,
};

pub use crate::event::SchemaId;
/// The schema layer's vocabulary, re-exported for the front ends (which reach it only through
/// the broker).
pub use crate::schema::{
    Config as SchemaConfig, Deleted as SchemaDeleted, Error as SchemaError, Level as SchemaLevel,
    Mode as SchemaMode, Policy as SchemaPolicy, Reference as SchemaReference,
    Registry as SchemaRegistry, SchemaKind, SchemaRequest, SchemaView,
    VersionSpec as SchemaVersion,
};
pub use schemas::TOPIC as SCHEMAS_TOPIC;

pub use acl::{Acl, Operation, PatternType, Permission, ResourceType};
pub use admin::{MAX_PARTITIONS, PartitionInfo, TopicDescription};
pub use audit::{AuditEntry, TOPIC as AUDIT_TOPIC};
pub use auth::{ApiKey, Principal, TOPIC as AUTH_TOPIC};
pub use connector_state::{ConnectorCommitted, ConnectorOffsets, OFFSETS_TOPIC};
pub use connectors::settings::HOST_KEYS as CONNECTOR_HOST_KEYS;
pub use connectors::{
    ConfigValidation, ConnectorDefinition, ConnectorEntry, ConnectorInfo, ConnectorKind,
    ConnectorSettings, ConnectorStateInfo, ConnectorStatus, OffsetEntry, TargetState, Tolerance,
    settings_of,
};
pub use consumer_instances::{
    DEFAULT_INSTANCE_TIMEOUT_MS, DEFAULT_REQUEST_WAIT as DEFAULT_INSTANCE_WAIT, Instance,
    InstanceConfig, InstanceRecord, Interest, OffsetReset, Seek, TOPIC as INSTANCES_TOPIC,
    TopicPartition,
};
pub use definitions::{
    BatchPolicy, OnError, Owner, PluginDefinition, TransformDefinition, TransformEntry,
};
pub use error::{Error, Result};
pub use fetch::OffsetSpec;
pub use filter::{Filter, FilterError, Op as FilterOp, Predicate};
pub use groups::{GroupOffset, GroupOffsetCommit};
pub use partial::RecordStatus;
pub use produce::{ProduceRecord, ProducedOffset};
pub use storage::{
    CleanupPolicy, Engine, FetchResult, MaintenanceReport, PartitionOffsets, Storage, StorageError,
    TopicConfig,
};
pub use subscribe::{Delivery, GroupSpec, PluginFilter, StartAt, Subscription, SubscriptionSpec};
pub use transforms::{
    BUILTIN_IDENTITY, CommittedState, TransformRequest, TransformState, TransformStatus,
    TransformView,
};
pub use value_check::{Prechecked, ValueCheck};

/// Default of [`BrokerConfig::max_records_per_request`].
pub const DEFAULT_MAX_RECORDS_PER_REQUEST: usize = 10_000;

/// Broker settings fixed at start.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Create unknown topics on first produce (with `default_partitions`).
    pub auto_create_topics: bool,
    /// Partitions of auto-created topics.
    pub default_partitions: u32,
    /// How long an `Idempotency-Key` is remembered, in milliseconds.
    pub idempotency_window_ms: i64,
    /// How long a consumer group without commits keeps its offsets, in milliseconds
    /// (Kafka's `offsets.retention.ms`, 7 days).
    pub offsets_retention_ms: i64,
    /// Most records one produce request may carry, whatever the front end.
    pub max_records_per_request: usize,
    /// This gateway's name in connector status answers (Connect's `worker_id`).
    pub worker_id: String,
    /// Root under which connectors are granted directories (`tidegate.dir`); `None` grants
    /// none.
    pub connector_files: Option<std::path::PathBuf>,
    /// How long a consumer instance lives without requests, in milliseconds.
    pub consumer_instance_timeout_ms: i64,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            auto_create_topics: false,
            default_partitions: 1,
            idempotency_window_ms: 600_000,
            offsets_retention_ms: 7 * 24 * 3_600_000,
            max_records_per_request: DEFAULT_MAX_RECORDS_PER_REQUEST,
            worker_id: "tidegate".into(),
            connector_files: None,
            consumer_instance_timeout_ms: consumer_instances::DEFAULT_INSTANCE_TIMEOUT_MS,
        }
    }
}

/// Cheap-to-clone handle to the broker.
#[derive(Clone)]
pub struct Broker {
    inner: Arc<Inner>,
    /// Who this handle acts for; `None`: the gateway itself (no ACL check).
    caller: Option<Arc<Principal>>,
}

struct Inner {
    storage: Arc<Engine>,
    config: BrokerConfig,
    groups: groups::Groups,
    idempotency: idempotency::Cache,
    plugins: crate::plugin::Host,
    definitions: definitions::Definitions,
    transform_state: transform_state::StateStore,
    connector_state: connector_state::ConnectorState,
    /// The schema registry, persisted in `__schemas`.
    schemas: crate::schema::Registry,
    /// The shared tail readers of live subscriptions, per topic.
    hubs: fanout::Hubs,
    /// API keys, persisted in `__tidegate_auth`.
    keys: auth::Keys,
    /// ACLs, persisted in `__tidegate_auth` too.
    acls: acl::Acls,
    /// The audit log, `__tidegate_audit`.
    audit: internal::InternalTopic,
    /// Consumer instances (REST Proxy v2), persisted in `__consumer_instances`.
    instances: consumer_instances::Store,
    /// Live consumer-group members of subscriptions.
    members: Arc<membership::Coordinator>,
    /// Subscriptions leaving a group that still commit their positions (close waits for them).
    leaving: tokio_util::task::TaskTracker,
    /// Round-robin cursor for unkeyed records without an explicit partition.
    round_robin: AtomicU64,
}

impl Broker {
    /// Builds the broker over an opened storage engine and plugin host, creating and
    /// replaying the internal topics (`__consumer_offsets`, `__idempotency`,
    /// `__tidegate_config`, `__transform_state`, `__connect_offsets`, `__schemas`,
    /// `__consumer_instances`, `__tidegate_auth`, `__tidegate_audit`).
    ///
    /// # Errors
    /// Storage errors while creating or replaying the internal topics.
    pub async fn open(
        storage: Engine,
        plugins: crate::plugin::Host,
        config: BrokerConfig,
        now_ms: i64,
    ) -> Result<Self> {
        let storage = Arc::new(storage);
        let groups = groups::Groups::open(&storage, now_ms, config.offsets_retention_ms).await?;
        let idempotency =
            idempotency::Cache::open(&storage, now_ms, config.idempotency_window_ms).await?;
        let definitions = definitions::Definitions::open(&storage).await?;
        let transform_state = transform_state::StateStore::open(&storage).await?;
        let connector_state = connector_state::ConnectorState::open(&storage).await?;
        let schemas = schemas::open(&storage).await?;
        let instances = consumer_instances::Store::open(&storage).await?;
        let acls = acl::Acls::default();
        let keys = auth::Keys::open(&storage, &acls).await?;
        let audit = audit::open(&storage).await?;
        let inner = Inner {
            storage,
            config,
            groups,
            idempotency,
            plugins,
            definitions,
            transform_state,
            connector_state,
            schemas,
            instances,
            keys,
            acls,
            audit,
            hubs: fanout::Hubs::default(),
            members: Arc::default(),
            leaving: tokio_util::task::TaskTracker::new(),
            round_robin: AtomicU64::new(0),
        };
        Ok(Self {
            inner: Arc::new(inner),
            caller: None,
        })
    }

    /// This broker acting for the gateway itself (no caller): for shared workers such as a
    /// topic's tail reader, whose subscribers are checked on their own.
    pub(crate) fn internal(&self) -> Broker {
        Broker {
            inner: Arc::clone(&self.inner),
            caller: None,
        }
    }

    /// This broker for the same principal without the credentials of one request (key,
    /// token expiry): for state that outlives the request and is checked again at each use
    /// (REST Proxy consumer instances).
    pub(crate) fn lasting(&self) -> Broker {
        Broker {
            inner: Arc::clone(&self.inner),
            caller: self.caller.as_ref().map(|c| {
                Arc::new(Principal {
                    key_id: None,
                    expires_ms: None,
                    ..(**c).clone()
                })
            }),
        }
    }

    /// The schema registry.
    #[must_use]
    pub fn schemas(&self) -> &crate::schema::Registry {
        &self.inner.schemas
    }

    /// The plugin host (for the pipeline, which runs the plugins).
    #[must_use]
    pub fn plugin_host(&self) -> &PluginHost {
        &self.inner.plugins
    }

    /// One retention / compaction pass of storage, then expiry of idle consumer groups.
    ///
    /// # Errors
    /// The first storage failure met.
    pub async fn maintain(&self, now_ms: i64) -> Result<MaintenanceReport> {
        let report = self.inner.storage.maintain(now_ms).await?;
        self.expire_groups(now_ms).await?;
        self.expire_instances(now_ms).await?;
        Ok(report)
    }

    /// Makes everything durable and refuses further appends (shutdown's last step).
    ///
    /// # Errors
    /// The final flush failed.
    pub async fn close(&self) -> Result<()> {
        // Group members that left during the drain commit before storage refuses appends.
        self.inner.leaving.close();
        self.inner.leaving.wait().await;
        Ok(self.inner.storage.close().await?)
    }
}

/// Wall-clock milliseconds since the Unix epoch; the one place the broker reads the clock.
pub(crate) fn now_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}
