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
//! {dir}/topics/{topic}/{partition}/{base:020}.synced     empty: the segment's data is on disk
//! {dir}/topics/deleted~{topic}~{pid}~{n}/               a deleted topic being removed
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
//! On open, the last segment of each partition and every closed segment without a
//! `{base:020}.synced` marker are scanned: batches must have a sane length, a base offset in
//! sequence (closed segments may have compaction's gaps) and a valid CRC; the file is truncated
//! at the first one that does not, and a closed segment cut that way becomes the active one
//! (later segments are removed, so offsets stay dense). The marker is created, without an
//! fsync of its own, after the segment's data was fsynced: at its roll under `always` or an
//! interval, or at a clean close. Marked closed segments are trusted and never read at start;
//! their next offset is the next segment's base.

mod compaction;
mod config;
mod error;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzz;
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
