//! The broker's error type: every way a use case can refuse or fail, with typed context.
//! Front ends map it to their protocol in one place each.

use super::storage::StorageError;
use crate::event::{InvalidTopicName, TopicName};

/// A broker operation's failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Storage refused or failed (unknown topic, out-of-range offset, full disk, I/O, …).
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The topic name breaks the naming rules.
    #[error("invalid topic name: {0}")]
    InvalidTopicName(#[from] InvalidTopicName),
    /// Partition count out of range on create.
    #[error("partitions must be between 1 and {max}, got {requested}")]
    InvalidPartitionCount {
        /// What was asked for.
        requested: i64,
        /// The largest allowed count.
        max: u32,
    },
    /// A topic config key or value is not acceptable.
    #[error("invalid config '{key}': {problem}")]
    InvalidConfig {
        /// The config key.
        key: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A record of a produce request exceeds the topic's `max.message.bytes`.
    #[error("record {index} is {size} bytes, over the topic's max.message.bytes of {limit}")]
    RecordTooLarge {
        /// Index of the record in the request.
        index: usize,
        /// Its key + value + header bytes.
        size: usize,
        /// The topic's limit.
        limit: u32,
    },
    /// A record names a partition the topic does not have.
    #[error("record {index} names partition {partition}, but topic '{topic}' has {partitions}")]
    RecordPartition {
        /// Index of the record in the request.
        index: usize,
        /// The topic.
        topic: TopicName,
        /// The requested partition.
        partition: u32,
        /// How many partitions the topic has.
        partitions: u32,
    },
    /// An `Idempotency-Key` already used, within the window, for a different request.
    #[error(
        "Idempotency-Key '{0}' was already used for a different request to this topic; \
         use a new key for a new request"
    )]
    IdempotencyKeyReused(String),
    /// A produce request with more records than the limit.
    #[error("a produce request may carry at most {limit} records, this one has {count}")]
    TooManyRecords {
        /// Records in the request.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A produce request with no records.
    #[error("a produce request needs at least one record")]
    EmptyProduce,
    /// Writing to an internal topic (`__…`) through a front end.
    #[error("topic '{0}' is internal and read-only")]
    InternalTopic(TopicName),
    /// A group commit names a negative or otherwise impossible offset.
    #[error("offset commit {index}: {problem}")]
    InvalidCommit {
        /// Index of the entry in the request.
        index: usize,
        /// What is wrong.
        problem: String,
    },
    /// A subscription's options do not fit together.
    #[error("{0}")]
    InvalidSubscription(String),
    /// The group has no committed offsets.
    #[error("consumer group '{0}' not found")]
    UnknownGroup(String),
    /// The plugin host refused or failed (bad upload, trap, timeout, …).
    #[error(transparent)]
    Plugin(#[from] crate::plugin::Error),
    /// No plugin under that name.
    #[error("plugin '{0}' not found")]
    UnknownPlugin(String),
    /// A plugin cannot be deleted or replaced while transforms or connectors use it.
    #[error("plugin '{plugin}' is used by {}", transforms.join(", "))]
    PluginInUse {
        /// The plugin.
        plugin: String,
        /// Its users (`transform x`, `connector y`).
        transforms: Vec<String>,
    },
    /// No transform under that name.
    #[error("transform '{0}' not found")]
    UnknownTransform(String),
    /// A transform with that name exists.
    #[error("transform '{0}' already exists")]
    TransformExists(String),
    /// A plugin or transform definition is not acceptable.
    #[error("invalid {field}: {problem}")]
    InvalidDefinition {
        /// The field at fault.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// No connector under that name.
    #[error("connector {0} not found")]
    UnknownConnector(String),
    /// A connector with that name exists.
    #[error("connector {0} already exists")]
    ConnectorExists(String),
    /// A connector config was refused; one entry per problem, by config key.
    #[error("connector configuration is invalid and contains the following {} error(s):\n{}",
        .0.len(), .0.iter().map(|e| if e.field.is_empty() { e.message.clone() } else { format!("{}: {}", e.field, e.message) }).collect::<Vec<_>>().join("\n"))]
    InvalidConnectorConfig(Vec<crate::plugin::FieldError>),
    /// Offsets can only be changed while the connector is stopped (KIP-875).
    #[error(
        "connectors must be in the STOPPED state before their offsets can be modified; \
        stop connector {0} with PUT /connectors/{0}/stop"
    )]
    ConnectorNotStopped(String),
    /// An offsets change request is malformed.
    #[error("invalid offsets: {0}")]
    InvalidOffsets(String),
    /// A record breaks the schema (or a data-contract rule) its topic requires; nothing of
    /// the request was appended.
    #[error("record {index} ({field}) is invalid: {violation}")]
    InvalidRecord {
        /// Index of the record in the request.
        index: usize,
        /// `key` or `value`.
        field: &'static str,
        /// What is wrong (boxed: it is large, and errors travel in every `Result`).
        violation: Box<crate::schema::Violation>,
    },
    /// A schema registry request was refused.
    #[error(transparent)]
    Schema(#[from] crate::schema::Error),
    /// No REST Proxy consumer instance by that name in that group (or it expired).
    #[error("Consumer instance not found.")]
    UnknownInstance {
        /// The group.
        group: String,
        /// The instance name.
        name: String,
    },
    /// A consumer instance by that name exists in the group.
    #[error("Consumer with specified consumer ID already exists in the specified consumer group.")]
    InstanceExists {
        /// The group.
        group: String,
        /// The instance name.
        name: String,
    },
    /// A consumer instance request that does not fit its state (subscribe after assign,
    /// records with neither, seek of a partition it does not hold).
    #[error("Illegal state: {0}")]
    InstanceState(String),
    /// A consumer instance's configuration is not acceptable.
    #[error("Invalid consumer configuration: {0}")]
    InvalidInstanceConfig(String),
    /// An API key request was refused (bad principal or expiry).
    #[error("{0}")]
    Auth(String),
    /// The credentials a long-lived stream opened with were revoked or expired.
    #[error("{0}")]
    CredentialsGone(String),
    /// No API key with that id.
    #[error("API key '{0}' not found")]
    UnknownApiKey(String),
    /// The caller's ACLs do not allow this.
    #[error("principal '{principal}' may not {operation:?} {resource:?} '{name}'")]
    Denied {
        /// Who asked.
        principal: String,
        /// What it wanted to do.
        operation: super::acl::Operation,
        /// On what kind of resource.
        resource: super::acl::ResourceType,
        /// Which one.
        name: String,
    },
    /// Stored internal state could not be decoded (a bug or a damaged internal topic).
    #[error("internal topic {topic} holds an undecodable record at offset {offset}: {problem}")]
    InternalState {
        /// The internal topic.
        topic: &'static str,
        /// The record's offset.
        offset: u64,
        /// The decode problem.
        problem: String,
    },
}

/// The broker's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
