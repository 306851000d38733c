//! The log's error type. Owns messages only; every variant names what it is about.

use std::path::{Path, PathBuf};

use crate::event::TopicName;

/// Everything that can go wrong in the log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No such topic.
    #[error("unknown topic '{topic}'")]
    UnknownTopic {
        /// The topic asked for.
        topic: TopicName,
    },
    /// create_topic of an existing name.
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
        /// First offset still in the log.
        start: u64,
        /// High watermark.
        end: u64,
    },
    /// A topic config field is out of range.
    #[error("invalid topic config '{field}': {problem}")]
    InvalidConfig {
        /// The dotted field name.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// Append refused because it is empty or a record exceeds limits (e.g. > u32 framing).
    #[error("record or batch of {size} bytes exceeds the limit of {limit} bytes")]
    BatchTooLarge {
        /// Offending size.
        size: usize,
        /// The limit it broke.
        limit: usize,
    },
    /// An fsync or write failed earlier: the partition refuses writes until restart.
    #[error(
        "topic '{topic}' partition {partition} is poisoned by an earlier write or fsync \
         failure; restart to recover"
    )]
    Poisoned {
        /// The topic.
        topic: TopicName,
        /// The partition.
        partition: u32,
    },
    /// Appending after `Log::close` or after the topic was deleted.
    #[error("topic '{topic}' partition {partition} is closed")]
    Closed {
        /// The topic.
        topic: TopicName,
        /// The partition.
        partition: u32,
    },
    /// An I/O call failed.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A file's content is not what the format allows.
    #[error("corrupt data in {} at byte {position}: {kind}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Byte position of the problem.
        position: u64,
        /// What is wrong.
        kind: String,
    },
}

/// The log's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Shorthand to attach a path to an I/O error.
pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}
