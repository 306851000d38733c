//! Exactly-once output within the built-in log.
//!
//! A batch's outputs are tagged with a header `tidegate.tx = {transform}/{partition}/{start}/
//! {end}/{index}`: the input range they came from and their index in the batch's output list.
//! After the outputs are written, the new input position, the end offsets of every output
//! partition and the plugin's state changes are committed in one append (see
//! `broker::commit_transform`). If the process dies in between, the next start scans each
//! output partition from its committed end for this transform's tags, re-runs exactly that
//! input range (with the committed state, so a deterministic plugin yields the same outputs),
//! and writes only the indexes that are missing — so nothing is lost or duplicated.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use bytes::Bytes;

use crate::broker::{self, Broker, CommittedState, OffsetSpec};
use crate::event::{Header, Record, StoredRecord, partition_for_key};

/// The header carrying a record's batch coordinates.
pub const TX_HEADER: &str = "tidegate.tx";
/// Records read per request while scanning.
const SCAN_RECORDS: usize = 10_000;
const SCAN_BYTES: usize = 16 << 20;

/// One record to write, with where it goes.
#[derive(Debug, Clone)]
pub struct Destination {
    pub topic: String,
    pub partition: u32,
    pub record: Record,
}

/// The input range of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchRange {
    pub partition: u32,
    pub start: u64,
    pub end: u64,
}

/// A batch whose outputs were (partly) written but not committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlight {
    pub range: BatchRange,
    /// Output indexes already in the log.
    pub present: HashSet<usize>,
}

/// The output partition for a record: keyed records by Kafka's partitioner, unkeyed ones by
/// the input partition — deterministic, so a re-run routes every output the same way.
pub fn route(record: &Record, input_partition: u32, partitions: u32) -> u32 {
    match &record.key {
        Some(key) => partition_for_key(key, partitions),
        None => input_partition % partitions.max(1),
    }
}

/// Tags `destinations` with their batch coordinates and writes those whose index is not in
/// `skip`, one append per output partition (in output order). Returns the records written.
pub async fn write(
    broker: &Broker,
    name: &str,
    range: BatchRange,
    destinations: Vec<Destination>,
    skip: &HashSet<usize>,
) -> broker::Result<u64> {
    let mut groups: BTreeMap<(String, u32), Vec<Record>> = BTreeMap::new();
    for (index, mut d) in destinations.into_iter().enumerate() {
        if skip.contains(&index) {
            continue;
        }
        let tag = format!(
            "{name}/{}/{}/{}/{index}",
            range.partition, range.start, range.end
        );
        d.record.headers.push(Header {
            name: TX_HEADER.into(),
            value: Bytes::from(tag),
        });
        groups
            .entry((d.topic, d.partition))
            .or_default()
            .push(d.record);
    }
    let mut written = 0;
    for ((topic, partition), records) in groups {
        broker.append_to(&topic, partition, &records).await?;
        written += records.len() as u64;
    }
    Ok(written)
}

/// Every output partition as `topic/partition` with its current end offset.
pub fn output_ends(broker: &Broker, topics: &[String]) -> broker::Result<BTreeMap<String, u64>> {
    broker.topic_ends(topics)
}

/// Looks for this transform's uncommitted batch in its output partitions.
pub async fn find_in_flight(
    broker: &Broker,
    name: &str,
    topics: &[String],
    committed: &CommittedState,
) -> broker::Result<Option<InFlight>> {
    let prefix = format!("{name}/");
    let mut found: Option<InFlight> = None;
    for (key, end) in output_ends(broker, topics)? {
        let Some((topic, partition)) = key.rsplit_once('/') else {
            continue;
        };
        let Ok(partition) = partition.parse::<u32>() else {
            continue;
        };
        let mut offset = committed.output_ends.get(&key).copied().unwrap_or(0);
        while offset < end {
            let read = broker
                .fetch(
                    topic,
                    partition,
                    OffsetSpec::At(offset),
                    SCAN_RECORDS,
                    SCAN_BYTES,
                    Duration::ZERO,
                )
                .await?;
            for stored in &read.records {
                let Some((range, index)) = tag_of(stored, &prefix) else {
                    continue;
                };
                let entry = found.get_or_insert_with(|| InFlight {
                    range,
                    present: HashSet::new(),
                });
                // Only the batch right after the committed position can be in flight.
                if entry.range == range {
                    entry.present.insert(index);
                }
            }
            if read.next_offset <= offset {
                break;
            }
            offset = read.next_offset;
        }
    }
    Ok(found.filter(|f| committed.positions.get(&f.range.partition) == Some(&f.range.start)))
}

fn tag_of(stored: &StoredRecord, prefix: &str) -> Option<(BatchRange, usize)> {
    let header = stored
        .record
        .headers
        .iter()
        .rev()
        .find(|h| h.name == TX_HEADER)?;
    let tag = std::str::from_utf8(&header.value)
        .ok()?
        .strip_prefix(prefix)?;
    let mut parts = tag.split('/').map(str::parse::<u64>);
    let (p, start, end, index) = (
        parts.next()?.ok()?,
        parts.next()?.ok()?,
        parts.next()?.ok()?,
        parts.next()?.ok()?,
    );
    let range = BatchRange {
        partition: u32::try_from(p).ok()?,
        start,
        end,
    };
    Some((range, usize::try_from(index).ok()?))
}
