//! The schema registry's persistence: a [`Store`] over the internal topic `__schemas`
//! (one partition, compacted, JSON values under the registry's keys), replayed at start.
//! The registry's rules live in `crate::schema`; this module only moves its entries.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;

use super::internal::InternalTopic;
use super::storage::{CleanupPolicy, Engine};
use super::{Error, Result};
use crate::event::{ATTR_VALUE_JSON, Record};
use crate::schema::{Entry, Registry, Store};

/// The internal topic holding subjects, versions, configuration and modes.
pub const TOPIC: &str = "__schemas";

struct TopicStore {
    topic: InternalTopic,
}

impl Store for TopicStore {
    fn append<'a>(
        &'a self,
        entries: &'a [Entry],
    ) -> Pin<Box<dyn Future<Output = std::result::Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            let now = super::now_ms();
            let records: Vec<Record> = entries
                .iter()
                .map(|e| Record {
                    key: Some(Bytes::from(e.key.clone())),
                    value: e.value.clone().map(Bytes::from),
                    timestamp: now,
                    attributes: if e.value.is_some() {
                        ATTR_VALUE_JSON
                    } else {
                        0
                    },
                    ..Record::default()
                })
                .collect();
            // One batch: a registration's version and its id counter land together or not at all.
            self.topic
                .append(&records)
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        })
    }
}

/// Opens `__schemas` and rebuilds the registry from it.
pub(super) async fn open(storage: &Arc<Engine>) -> Result<Registry> {
    let topic = InternalTopic::open(storage, TOPIC, |c| {
        c.cleanup_policy = CleanupPolicy::Compact;
    })
    .await?;
    let mut entries = Vec::new();
    topic
        .replay_raw(|key, value, _, offset| {
            let key = String::from_utf8(key.to_vec()).map_err(|e| Error::InternalState {
                topic: TOPIC,
                offset,
                problem: e.to_string(),
            })?;
            entries.push((
                offset,
                Entry {
                    key,
                    value: value.map(|v| v.to_vec()),
                },
            ));
            Ok(())
        })
        .await?;
    let registry = Registry::new(Arc::new(TopicStore { topic }));
    for (offset, entry) in &entries {
        registry
            .replay(entry)
            .map_err(|problem| Error::InternalState {
                topic: TOPIC,
                offset: *offset,
                problem,
            })?;
    }
    Ok(registry)
}
