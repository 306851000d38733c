//! Internal topics (`__consumer_offsets`, `__idempotency`): single-partition topics of the same
//! log that hold the broker's own state as JSON values under byte keys, replayed at start.

use std::sync::Arc;

use bytes::Bytes;
use serde::de::DeserializeOwned;

use super::{Error, Result};
use crate::event::TopicName;
use crate::log::{self, Log, Partition, TopicConfig};

/// Largest read while replaying an internal topic.
const REPLAY_CHUNK_BYTES: usize = 8 << 20;

/// Opens (creating on first start, tuned by `tune`) the single partition of an internal topic.
pub(super) fn open(
    log: &Arc<Log>,
    name: &str,
    tune: impl FnOnce(&mut TopicConfig),
) -> Result<Arc<Partition>> {
    let name = TopicName::new(name)?;
    let topic = match log.topic(&name) {
        Ok(topic) => topic,
        Err(log::Error::UnknownTopic { .. }) => {
            let mut config = TopicConfig::defaults(log.config());
            tune(&mut config);
            log.create_topic(&name, 1, config)?
        }
        Err(e) => return Err(e.into()),
    };
    Ok(topic.partition(0)?)
}

/// Feeds every keyed record of `partition` to `apply` in offset order: `Some(value)` decoded
/// from JSON, `None` for a tombstone.
pub(super) fn replay<T: DeserializeOwned>(
    partition: &Partition,
    topic: &'static str,
    mut apply: impl FnMut(Bytes, Option<T>, i64),
) -> Result<()> {
    let mut offset = partition.start_offset();
    while offset < partition.end_offset() {
        let read = partition.read(offset, usize::MAX, REPLAY_CHUNK_BYTES)?;
        for stored in read.records {
            let Some(key) = stored.record.key else {
                continue;
            };
            let value = match stored.record.value {
                None => None,
                Some(v) => Some(
                    serde_json::from_slice(&v).map_err(|e| Error::InternalState {
                        topic,
                        offset: stored.offset,
                        problem: e.to_string(),
                    })?,
                ),
            };
            apply(key, value, stored.record.timestamp);
        }
        if read.next_offset <= offset {
            break;
        }
        offset = read.next_offset;
    }
    Ok(())
}
