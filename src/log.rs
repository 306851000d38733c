//! The storage engine: a durable, partitioned, append-only log of [`Record`]s on local disk.
//!
//! This module owns the public contract the broker codes against (types re-exported below) and
//! the on-disk format. It must not know about HTTP, must not read environment variables or any
//! global configuration: everything comes in through [`LogConfig`] and [`TopicConfig`].
//!
//! # Layout
//!
//! ```text
//! {dir}/topics/{topic}/topic.json                  {"name", "partitions", "config": TopicConfig}
//! {dir}/topics/{topic}/{partition}/{base:020}.log        batches, appended in offset order
//! {dir}/topics/{topic}/{partition}/{base:020}.index      sparse offset index (closed segments)
//! {dir}/topics/{topic}/{partition}/{base:020}.timeindex  sparse time index (closed segments)
//! ```
//!
//! `base` is the segment's first offset (decimal, zero-padded); the last segment of a partition
//! is the active one, every other one is closed and immutable (except for compaction, which
//! replaces a closed segment's file atomically by rename).
//!
//! # Batch (all integers little-endian)
//!
//! ```text
//! [len u32: bytes after this field][base_offset u64][crc32c u32 of payload][payload]
//! payload = [record_count u32][max_timestamp i64][record]*
//! record  = [offset_delta u32][timestamp i64][attributes u8]
//!           [key_len i32, -1 = null][key][value_len i32, -1 = null = tombstone][value]
//!           [header_count u32]{[name_len u16][name utf8][val_len u32][val]}*
//! ```
//!
//! The base offset sits outside the CRC so a batch can be encoded and checksummed before the
//! partition lock is taken; only the 8 offset bytes are patched under it. Offsets of records are
//! `base_offset + offset_delta`; deltas strictly increase and may have gaps after compaction.
//!
//! # Indexes (written when a segment is rolled; rebuilt by scanning if missing or invalid)
//!
//! ```text
//! .index     = {[relative_offset u32][file_position u32]}*   one per index_interval_bytes
//! .timeindex = {[max_timestamp_so_far i64][relative_offset u32]}*
//!              the last entry's timestamp is the segment's max timestamp
//! ```
//!
//! # Recovery
//!
//! Only the last segment of each partition is scanned on open: batches must have a sane
//! length, the expected base offset and a valid CRC; the file is truncated at the first one
//! that does not. Closed segments are trusted; their next offset is the next segment's base.

mod compaction;
mod config;
mod error;
mod index;
mod layout;
mod partition;
mod record;
mod retention;
mod segment;
mod store;
mod topic;

#[cfg(test)]
mod tests;

pub use config::{CleanupPolicy, FsyncPolicy, LogConfig, TopicConfig};
pub use error::{Error, Result};
pub use partition::{Partition, ReadResult};
pub use store::{Log, MaintenanceReport};
pub use topic::Topic;
