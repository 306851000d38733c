//! A subscription's own transform plugin (`transform=<plugin>&config=…`): filters or reshapes
//! each record before it leaves the server, in the same sandbox and limits as transforms.
//!
//! Owns calling the plugin per record, so every output keeps the offset (and, when the plugin
//! sets none, the timestamp) of the record it came from, and resume positions stay exact
//! whatever the plugin emits: nothing (dropped), one record (reshaped) or several. The
//! instance and its key-value state live as long as the subscription; nothing is persisted.
//! Also owns the order in which a read is refined: the subscription's filter, then the plugin.
//! It must not choose records to read.

use std::sync::Arc;

use super::{Delivery, Subscription};
use crate::broker::{BatchContext, Broker, Error, Result};
use crate::event::{StoredRecord, TopicName};
use crate::plugin::{MemoryStateStore, TransformInstance, World};

/// Which uploaded plugin to run, with its `init` configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginFilter {
    /// The plugin's name (as uploaded).
    pub plugin: String,
    /// Key-value configuration handed to the plugin's `init`.
    pub config: Vec<(String, String)>,
}

/// A live instance for one subscription.
pub(super) struct Reshaper {
    /// In a mutex only to make the subscription `Sync` (front ends hold `&Subscription` across
    /// awaits); reached through `get_mut`, so it is never locked.
    instance: std::sync::Mutex<TransformInstance>,
}

impl Broker {
    /// Loads and instantiates the plugin (a bad config fails here, before the subscription).
    pub(super) async fn reshaper(&self, wanted: &PluginFilter) -> Result<Reshaper> {
        let definition = self.get_plugin(&wanted.plugin)?;
        let host = &self.inner.plugins;
        let plugin = host.load(&definition.digest).await?;
        if !matches!(plugin.info().world, World::Transform | World::TransformRaw) {
            return Err(Error::InvalidSubscription(format!(
                "plugin '{}' targets the {} world; a subscription runs transform plugins",
                wanted.plugin,
                plugin.info().world.as_str()
            )));
        }
        let state = Arc::new(MemoryStateStore::default());
        let instance = plugin
            .instantiate(&wanted.config, host.limits(), state)
            .await?
            .with_outputs(1);
        Ok(Reshaper {
            instance: std::sync::Mutex::new(instance),
        })
    }
}

impl Reshaper {
    /// What the plugin makes of `records` (one call per record).
    ///
    /// # Errors
    /// The plugin failed (trap, timeout, memory limit, its own error): the subscription ends.
    pub(super) async fn apply(
        &mut self,
        topic: &TopicName,
        partition: u32,
        records: Vec<StoredRecord>,
    ) -> Result<Vec<StoredRecord>> {
        let ctx = BatchContext {
            topic: topic.as_str().to_owned(),
            partition,
        };
        let instance = self
            .instance
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = Vec::with_capacity(records.len());
        for input in records {
            let outputs = instance
                .transform(&ctx, std::slice::from_ref(&input))
                .await?;
            for output in outputs {
                let mut record = output.record;
                if record.timestamp == 0 {
                    record.timestamp = input.record.timestamp;
                }
                out.push(StoredRecord {
                    offset: input.offset,
                    record,
                });
            }
        }
        Ok(out)
    }
}

impl Subscription {
    /// What leaves the server of `read`: the filter, then the plugin (whose outputs are new
    /// records, so they share no encoding).
    pub(super) async fn refine(&mut self, read: Vec<Delivery>) -> Result<Vec<Delivery>> {
        let mut read = read;
        if self.decode {
            // Decoded records are this subscriber's own: no shared encoding.
            read = read
                .into_iter()
                .map(|d| {
                    let mut record = d.record;
                    self.broker
                        .decode_records(std::slice::from_mut(&mut record));
                    Delivery::new(d.partition, record, false)
                })
                .collect();
        }
        let filter = &self.filter;
        let kept = read
            .into_iter()
            .filter(|d| filter.matches(&d.record.record));
        let Some(reshaper) = &mut self.reshape else {
            return Ok(kept.collect());
        };
        let mut out = Vec::new();
        for d in kept {
            let outputs = reshaper
                .apply(&self.topic, d.partition, vec![d.record])
                .await?;
            out.extend(
                outputs
                    .into_iter()
                    .map(|record| Delivery::new(d.partition, record, false)),
            );
        }
        Ok(out)
    }
}
