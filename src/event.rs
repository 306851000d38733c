//! The shared vocabulary every layer speaks: records, topic names, partitions, offsets.
//!
//! This module owns plain data types and their validation rules. It must not depend on any
//! other module of the crate, and it does no I/O.

use std::fmt;

use bytes::Bytes;

/// A record attribute bit: the key bytes are compact JSON text (the native API stored JSON).
pub const ATTR_KEY_JSON: u8 = 0b01;
/// A record attribute bit: the value bytes are compact JSON text.
pub const ATTR_VALUE_JSON: u8 = 0b10;

/// One event: what producers send and consumers receive.
///
/// `value == None` is a tombstone (for compacted topics); `Some(empty)` is an empty value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    /// Optional key; keyed records are partitioned by `murmur2(key)`.
    pub key: Option<Bytes>,
    /// Value bytes, or `None` for a tombstone.
    pub value: Option<Bytes>,
    /// Ordered headers; names may repeat, as in Kafka.
    pub headers: Vec<Header>,
    /// Milliseconds since the Unix epoch (producer-supplied or assigned at append).
    pub timestamp: i64,
    /// Encoding hints (`ATTR_*` bits): which of key/value are JSON text.
    pub attributes: u8,
}

impl Record {
    /// Bytes this record occupies in payload terms (key + value + headers), used for limits.
    #[must_use]
    pub fn payload_len(&self) -> usize {
        let kv =
            self.key.as_ref().map_or(0, Bytes::len) + self.value.as_ref().map_or(0, Bytes::len);
        kv + self
            .headers
            .iter()
            .map(|h| h.name.len() + h.value.len())
            .sum::<usize>()
    }
}

/// One record header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Header name (UTF-8).
    pub name: String,
    /// Header value bytes.
    pub value: Bytes,
}

/// A record as stored in a partition: the record plus its assigned offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// Offset within the partition.
    pub offset: u64,
    /// The record itself.
    pub record: Record,
}

/// A validated topic name: `[A-Za-z0-9._-]{1,249}`, not `.` or `..`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicName(String);

/// Why a topic name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTopicName {
    /// Empty or longer than 249 bytes.
    #[error("topic name must be 1 to 249 characters long, got {0}")]
    Length(usize),
    /// `.` or `..`.
    #[error("topic name cannot be '.' or '..'")]
    Dots,
    /// A character outside `[A-Za-z0-9._-]`.
    #[error("topic name contains '{0}'; allowed are ASCII letters, digits, '.', '_' and '-'")]
    Character(char),
}

/// Longest topic name Kafka accepts.
pub const MAX_TOPIC_NAME_LEN: usize = 249;

impl TopicName {
    /// Validates and wraps a topic name.
    ///
    /// # Errors
    /// Returns why the name is not a legal topic name.
    pub fn new(name: &str) -> Result<Self, InvalidTopicName> {
        if name.is_empty() || name.len() > MAX_TOPIC_NAME_LEN {
            return Err(InvalidTopicName::Length(name.chars().count()));
        }
        if name == "." || name == ".." {
            return Err(InvalidTopicName::Dots);
        }
        if let Some(c) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(InvalidTopicName::Character(c));
        }
        Ok(Self(name.to_owned()))
    }

    /// The name as a string slice.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Internal topics (`__consumer_offsets`, …) start with two underscores.
    #[must_use]
    pub fn is_internal(&self) -> bool {
        self.0.starts_with("__")
    }
}

impl fmt::Display for TopicName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Kafka's murmur2 hash (the Java client's `Utils.murmur2`), so keys land on the same
/// partition a Java producer with the default partitioner would choose.
#[must_use]
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    #[expect(
        clippy::cast_possible_truncation,
        reason = "Kafka hashes the length as i32"
    )]
    let len = data.len() as u32;
    let mut h = SEED ^ len;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h.cast_signed()
}

/// The partition Kafka's default partitioner picks for a key:
/// `toPositive(murmur2(key)) % partitions`.
#[must_use]
pub fn partition_for_key(key: &[u8], partitions: u32) -> u32 {
    (murmur2(key).cast_unsigned() & 0x7fff_ffff) % partitions.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_kafka_test_vectors() {
        // From Kafka's UtilsTest.testMurmur2.
        assert_eq!(murmur2(b"21"), -973_932_308);
        assert_eq!(murmur2(b"foobar"), -790_332_482);
        assert_eq!(murmur2(b"a-little-bit-long-string"), -985_981_536);
        assert_eq!(murmur2(b"a-little-bit-longer-string"), -1_486_304_829);
        assert_eq!(
            murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"),
            -58_897_971
        );
        assert_eq!(murmur2(b"abc"), 479_470_107);
    }

    #[test]
    fn topic_names_follow_kafka_rules() {
        assert!(TopicName::new("orders.v1_EU-2").is_ok());
        assert_eq!(TopicName::new(""), Err(InvalidTopicName::Length(0)));
        assert_eq!(TopicName::new(".."), Err(InvalidTopicName::Dots));
        assert_eq!(TopicName::new("a/b"), Err(InvalidTopicName::Character('/')));
        assert!(TopicName::new(&"x".repeat(249)).is_ok());
        assert!(TopicName::new(&"x".repeat(250)).is_err());
    }
}

/// A registered schema's global id (Confluent's: a positive 32-bit integer, the same for the
/// same schema under every subject, never reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SchemaId(pub u32);

impl fmt::Display for SchemaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
