//! A sink task: reads the connector's topics from its committed offsets, hands the plugin one
//! batch of one partition at a time (`put`, then `flush`), and commits the batch's offsets —
//! with the plugin's key-value changes — only after the plugin acknowledged it. At-least-once,
//! per-partition order kept: after a crash only uncommitted batches come again.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::policy::{self, Origin, Retry};
use super::{Stop, prepare};
use crate::broker::{
    BatchContext, Broker, ConnectorEntry, ConnectorKind, ConnectorOffsets, ConnectorSettings,
    PluginError, SinkInstance,
};
use crate::event::StoredRecord;
use crate::pipeline::batch_state::BatchState;
use crate::pipeline::read;

/// Longest idle wait before re-checking for input.
const IDLE_WAIT: Duration = Duration::from_millis(500);

struct Sink<'a> {
    broker: &'a Broker,
    entry: &'a ConnectorEntry,
    settings: ConnectorSettings,
    instance: SinkInstance,
    state: Arc<BatchState>,
    offsets: ConnectorOffsets,
    /// Every input (topic, partition).
    inputs: Vec<(String, u32)>,
    next: usize,
}

/// Runs the sink until cancelled (`Ok`) or it fails.
pub(crate) async fn run(
    broker: &Broker,
    entry: &ConnectorEntry,
    cancel: &CancellationToken,
) -> Result<(), Stop> {
    // What the connector reads and writes is checked against its creator's ACLs.
    let acting = broker.acting_for(entry.definition.owner.as_ref());
    let broker = &acting;
    let p = prepare(broker, entry, ConnectorKind::Sink).await?;
    let (settings, state) = (p.settings, p.state);
    let instance = p
        .plugin
        .open_sink(
            &p.config,
            settings.limits,
            Arc::clone(&state) as _,
            p.grants,
        )
        .await?;
    let mut inputs = Vec::new();
    for topic in &settings.topics {
        for partition in 0..broker.partition_count(topic)? {
            inputs.push((topic.clone(), partition));
        }
    }
    let mut sink = Sink {
        broker,
        entry,
        settings,
        instance,
        state,
        offsets: p.committed.offsets,
        inputs,
        next: 0,
    };
    let result = sink.run(cancel).await;
    sink.instance.close().await;
    result
}

impl Sink<'_> {
    async fn run(&mut self, cancel: &CancellationToken) -> Result<(), Stop> {
        while !cancel.is_cancelled() {
            match self.next_batch(cancel).await? {
                Some((topic, partition, records)) => {
                    self.deliver(&topic, partition, records, cancel).await?;
                }
                None => self.idle(cancel).await?,
            }
        }
        Ok(())
    }

    /// Where a partition is read from: the committed offset, moved up to the partition's start
    /// if retention passed it; the start (earliest) for a new connector, as Connect's sinks.
    fn position(&self, topic: &str, partition: u32) -> Result<u64, Stop> {
        let start = self
            .broker
            .partition_offsets(topic)?
            .get(partition as usize)
            .map_or(0, |p| p.start_offset);
        let at = self
            .offsets
            .sink
            .get(&(topic.to_owned(), partition))
            .copied()
            .unwrap_or(start);
        Ok(at.max(start))
    }

    /// The next batch of up to `tidegate.batch.max.records`, trying partitions round-robin and
    /// letting it fill for up to `tidegate.batch.max.wait.ms`.
    async fn next_batch(
        &mut self,
        cancel: &CancellationToken,
    ) -> Result<Option<(String, u32, Vec<StoredRecord>)>, Stop> {
        let max = self.settings.batch_max_records;
        let linger = Duration::from_millis(self.settings.batch_max_wait_ms);
        for i in 0..self.inputs.len() {
            let index = (self.next + i) % self.inputs.len();
            let (topic, partition) = self.inputs[index].clone();
            let from = self.position(&topic, partition)?;
            let mut records =
                read::read(self.broker, &topic, partition, from, max, Duration::ZERO).await?;
            if records.is_empty() {
                continue;
            }
            if records.len() < max {
                let after = records.last().map_or(from, |r| r.offset + 1);
                let want = max - records.len();
                records.extend(
                    read::linger(self.broker, &topic, partition, after, want, linger, cancel)
                        .await?,
                );
            }
            self.next = (index + 1) % self.inputs.len();
            return Ok(Some((topic, partition, records)));
        }
        Ok(None)
    }

    /// Waits for input on any topic (woken by the append path), or a while, or cancellation.
    async fn idle(&mut self, cancel: &CancellationToken) -> Result<(), Stop> {
        let mut waits = Vec::new();
        for topic in &self.settings.topics {
            let mut positions = BTreeMap::new();
            for (t, p) in &self.inputs {
                if t == topic {
                    positions.insert(*p, self.position(t, *p)?);
                }
            }
            let broker = self.broker;
            waits.push(Box::pin(async move {
                broker.wait_any(topic, &positions, IDLE_WAIT).await
            }));
        }
        tokio::select! {
            biased;
            () = cancel.cancelled() => Ok(()),
            (waited, _, _) = futures_util::future::select_all(waits) => { waited?; Ok(()) }
        }
    }

    /// Delivers one batch (retrying per policy), committing after each acknowledged part. A
    /// batch the plugin cannot hold within its memory cap is split in halves (down to single
    /// records) instead of being retried as is.
    async fn deliver(
        &mut self,
        topic: &str,
        partition: u32,
        records: Vec<StoredRecord>,
        cancel: &CancellationToken,
    ) -> Result<(), Stop> {
        let ctx = BatchContext {
            topic: topic.to_owned(),
            partition,
        };
        let mut pending = VecDeque::from([records]);
        while let Some(batch) = pending.pop_front() {
            let failed = match self.attempt(&ctx, &batch, cancel).await {
                Attempt::Delivered => None,
                Attempt::Cancelled => return Ok(()),
                Attempt::TooBig(_) if batch.len() > 1 => {
                    let mut first = batch;
                    let second = first.split_off(first.len() / 2);
                    tracing::warn!(connector = %self.entry.definition.name, records = first.len() + second.len(),
                        "Batch over the plugin's memory cap; splitting it.");
                    pending.push_front(second);
                    pending.push_front(first);
                    continue;
                }
                // One record alone is over the cap: nothing to split; the error policy decides.
                Attempt::TooBig(e) | Attempt::Failed(e) => Some(e),
            };
            self.commit(topic, partition, batch, failed).await?;
        }
        Ok(())
    }

    /// `put` + `flush`, retried per policy.
    async fn attempt(
        &mut self,
        ctx: &BatchContext,
        records: &[StoredRecord],
        cancel: &CancellationToken,
    ) -> Attempt {
        let mut retry = Retry::new();
        loop {
            self.state.discard();
            let attempt = async {
                self.instance.put(ctx, records).await?;
                self.instance.flush().await
            };
            // A batch in flight is finished and committed on a stop (graceful shutdown,
            // pause, delete), unless it takes longer than the grace period.
            let result = tokio::select! {
                r = attempt => r,
                () = policy::grace_over(cancel) => return Attempt::Cancelled,
            };
            match result {
                Ok(()) => return Attempt::Delivered,
                Err(e @ PluginError::MemoryLimit { .. }) => return Attempt::TooBig(e),
                Err(e) => {
                    if !retry
                        .again(&e, &self.settings, &self.entry.status, cancel)
                        .await
                    {
                        if cancel.is_cancelled() {
                            return Attempt::Cancelled;
                        }
                        return Attempt::Failed(e);
                    }
                }
            }
        }
    }

    /// Commits past `batch`: delivered, or (`failed`) handed to the error policy first.
    async fn commit(
        &mut self,
        topic: &str,
        partition: u32,
        batch: Vec<StoredRecord>,
        failed: Option<PluginError>,
    ) -> Result<(), Stop> {
        let status = &self.entry.status;
        let count = batch.len() as u64;
        let end = batch.last().map_or(0, |r| r.offset + 1);
        if let Some(error) = failed {
            self.state.discard();
            let origin = Origin {
                connector: &self.entry.definition.name,
                stage: "TASK_PUT",
                topic: Some((topic, partition)),
            };
            let failed = batch
                .into_iter()
                .map(|r| (Some(r.offset), r.record))
                .collect();
            policy::give_up(
                self.broker,
                &self.settings,
                status,
                &origin,
                &error.to_string(),
                failed,
            )
            .await?;
        } else {
            status.records.fetch_add(count, Ordering::Relaxed);
            status.batches.fetch_add(1, Ordering::Relaxed);
        }
        self.offsets.sink.insert((topic.to_owned(), partition), end);
        self.broker
            .commit_connector(
                &self.entry.definition.name,
                &self.offsets,
                self.state.changes(),
            )
            .await?;
        self.state.apply();
        Ok(())
    }
}

/// How one batch's delivery ended.
enum Attempt {
    Delivered,
    Cancelled,
    /// The plugin hit its memory cap on it.
    TooBig(PluginError),
    Failed(PluginError),
}
