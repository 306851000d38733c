//! The storage seam's error: what any engine may answer, in the broker's words.

use crate::event::TopicName;

/// A storage engine's refusal or failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// No such topic.
    #[error("unknown topic '{topic}'")]
    UnknownTopic {
        /// The topic asked for.
        topic: TopicName,
    },
    /// A topic of that name exists.
    #[error("topic '{topic}' already exists")]
    TopicExists {
        /// The topic.
        topic: TopicName,
    },
    /// Partition index out of range.
    #[error("topic '{topic}' has no partition {partition} (it has {partitions})")]
    UnknownPartition {
        /// The topic.
        topic: TopicName,
        /// The partition asked for.
        partition: u32,
        /// How many the topic has.
        partitions: u32,
    },
    /// A read outside `[start, end]`.
    #[error(
        "offset {requested} is out of range for topic '{topic}' partition {partition} \
         (valid: {start}..={end})"
    )]
    OffsetOutOfRange {
        /// The topic.
        topic: TopicName,
        /// The partition.
        partition: u32,
        /// The offset asked for.
        requested: u64,
        /// First offset still stored.
        start: u64,
        /// High watermark.
        end: u64,
    },
    /// A topic setting the engine cannot accept.
    #[error("invalid topic config '{field}': {problem}")]
    InvalidConfig {
        /// The dotted field name.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A record or batch over the engine's limits.
    #[error("record or batch of {size} bytes exceeds the limit of {limit} bytes")]
    BatchTooLarge {
        /// Offending size.
        size: usize,
        /// The limit it broke.
        limit: usize,
    },
    /// The disk is full: nothing of the append is visible; writes resume once space is freed.
    #[error("no space left on the storage device for topic '{topic}' partition {partition}")]
    NoSpace {
        /// The topic.
        topic: TopicName,
        /// The partition.
        partition: u32,
    },
    /// The partition refuses writes after an earlier write or fsync failure.
    #[error(
        "topic '{topic}' partition {partition} refuses writes after an earlier write or fsync \
         failure; restart to recover"
    )]
    Poisoned {
        /// The topic.
        topic: TopicName,
        /// The partition.
        partition: u32,
    },
    /// Storage is closed (shutdown) or the topic is being deleted.
    #[error("topic '{topic}' partition {partition} is closed")]
    Closed {
        /// The topic.
        topic: TopicName,
        /// The partition.
        partition: u32,
    },
    /// An engine failure the caller cannot fix (I/O error, corrupt data, a lost task).
    #[error("storage failure: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Result of a storage call.
pub type StorageResult<T, E = StorageError> = std::result::Result<T, E>;
