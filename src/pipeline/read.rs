//! Reading input for transforms and sink connectors: one fetch through the broker, and the
//! linger that lets a batch fill (each read woken by the append path, not by polling).
//!
//! Owns only reads; batching policy and positions belong to the callers.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::broker::{self, Broker, OffsetSpec};
use crate::event::StoredRecord;

/// Most bytes one read returns.
const READ_BYTES: usize = 16 << 20;

/// Up to `max` records of one partition from `from`, waiting up to `wait` at the end.
pub(crate) async fn read(
    broker: &Broker,
    topic: &str,
    partition: u32,
    from: u64,
    max: usize,
    wait: Duration,
) -> broker::Result<Vec<StoredRecord>> {
    let read = broker
        .fetch(
            topic,
            partition,
            OffsetSpec::At(from),
            max,
            READ_BYTES,
            wait,
        )
        .await?;
    Ok(read.records)
}

/// Records after offset `after`, until there are `want` of them, `linger` has passed, the
/// partition has nothing more within it, or `cancel` fires.
pub(crate) async fn linger(
    broker: &Broker,
    topic: &str,
    partition: u32,
    after: u64,
    want: usize,
    linger: Duration,
    cancel: &CancellationToken,
) -> broker::Result<Vec<StoredRecord>> {
    let deadline = Instant::now() + linger;
    let mut records: Vec<StoredRecord> = Vec::new();
    while records.len() < want && !cancel.is_cancelled() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let from = records.last().map_or(after, |r| r.offset + 1);
        let more = read(broker, topic, partition, from, want - records.len(), left).await?;
        if more.is_empty() {
            break;
        }
        records.extend(more);
    }
    Ok(records)
}
