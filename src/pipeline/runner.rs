//! One running transform: read a batch, call the plugin (with retries), write outputs or
//! dead letters, commit — in a loop, one input partition after another, until cancelled.
//!
//! Per-partition order is kept: a partition's batches are processed strictly in offset order
//! and each output partition receives them in that order.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use super::batch_state::BatchState;
use super::exactly_once::{self, BatchRange, Destination};
use crate::broker::{self, BUILTIN_IDENTITY, Broker, CommittedState, OnError, TransformEntry};
use crate::broker::{BatchContext, OutputRecord, PluginError, TransformInstance};
use crate::event::{Header, StoredRecord};

/// Attempts per batch before `on_error` applies.
const ATTEMPTS: u32 = 3;
/// First retry delay; doubled for each further retry.
const BACKOFF: Duration = Duration::from_millis(100);
/// Records read ahead per input partition (whatever the plugin batch size).
const READ_AHEAD_RECORDS: usize = 2_000;
/// Longest idle wait before re-checking for input.
const IDLE_WAIT: Duration = Duration::from_millis(500);

/// Why a run ended early.
#[derive(Debug, thiserror::Error)]
enum Stop {
    #[error(transparent)]
    Broker(#[from] broker::Error),
    #[error(transparent)]
    Plugin(#[from] PluginError),
    #[error("stopped by on_error=stop after: {0}")]
    Policy(String),
}

/// Runs the transform until `cancel` fires or it fails (then it is marked FAILED).
pub async fn run(broker: Broker, entry: TransformEntry, cancel: CancellationToken) {
    // Reads and writes run with the creator's rights (the gateway's without authentication).
    let broker = broker.acting_for(entry.definition.owner.as_ref());
    let name = entry.definition.name.clone();
    let status = Arc::clone(&entry.status);
    tracing::info!(transform = %name, "Transform starting.");
    let result = async {
        let mut runner = Runner::start(broker, entry).await?;
        runner.recover(&cancel).await?;
        runner.run(&cancel).await
    };
    match result.await {
        Ok(()) => tracing::info!(transform = %name, "Transform stopped."),
        Err(e) => {
            tracing::error!(transform = %name, error = %e, "Transform failed.");
            status.error(e.to_string());
            status.set_failed(true);
        }
    }
}

/// What runs a batch: a WebAssembly instance, or the native identity.
enum Engine {
    Wasm(Box<TransformInstance>),
    Identity,
}

impl Engine {
    async fn transform(
        &mut self,
        ctx: &BatchContext,
        batch: &[StoredRecord],
    ) -> Result<Vec<OutputRecord>, PluginError> {
        match self {
            Self::Wasm(instance) => instance.transform(ctx, batch).await,
            Self::Identity => Ok(batch
                .iter()
                .map(|r| OutputRecord {
                    record: r.record.clone(),
                    output: None,
                })
                .collect()),
        }
    }
}

struct Runner {
    broker: Broker,
    entry: TransformEntry,
    instance: Engine,
    state: Arc<BatchState>,
    committed: CommittedState,
    /// Output topics with their partition counts (index = output index).
    outputs: Vec<(String, u32)>,
    /// Every topic the transform writes to (outputs, then the DLQ if any).
    written_topics: Vec<String>,
    input_partitions: u32,
    next_partition: u32,
    /// Input records read but not yet processed, per partition.
    read_ahead: HashMap<u32, VecDeque<StoredRecord>>,
}

impl Runner {
    async fn start(broker: Broker, entry: TransformEntry) -> Result<Self, Stop> {
        let def = &entry.definition;
        let mut committed = broker.committed_state(&def.name);
        let state = Arc::new(BatchState::new(committed.kv.clone()));
        let instance = if def.digest == BUILTIN_IDENTITY {
            Engine::Identity
        } else {
            let plugin = broker.plugin_host().load(&def.digest).await?;
            let config: Vec<_> = def.config.clone().into_iter().collect();
            let outputs_len = u32::try_from(def.outputs.len()).unwrap_or(u32::MAX);
            let instance = plugin
                .instantiate(&config, def.limits, Arc::clone(&state) as _)
                .await?
                .with_outputs(outputs_len);
            Engine::Wasm(Box::new(instance))
        };
        let outputs = def
            .outputs
            .iter()
            .map(|t| broker.partition_count(t).map(|n| (t.clone(), n)))
            .collect::<Result<Vec<_>, _>>()?;
        let mut written_topics = def.outputs.clone();
        if def.on_error == OnError::Dlq {
            written_topics.push(dlq_topic(&def.name));
        }
        let input_partitions = broker.partition_count(&def.input)?;
        if committed.output_ends.is_empty() {
            // First start: record where input and outputs begin, so recovery can recognise the
            // first batch and never scans older output data.
            for p in broker.partition_offsets(&def.input)? {
                committed
                    .positions
                    .entry(p.partition)
                    .or_insert(p.start_offset);
            }
            committed.output_ends = exactly_once::output_ends(&broker, &written_topics)?;
            broker
                .commit_transform(&def.name, &committed, Vec::new())
                .await?;
        }
        entry.status.set_positions(&committed.positions);
        Ok(Self {
            broker,
            entry,
            instance,
            state,
            committed,
            outputs,
            written_topics,
            input_partitions,
            next_partition: 0,
            read_ahead: HashMap::new(),
        })
    }

    /// Completes a batch a crash left half-written, writing only its missing outputs.
    async fn recover(&mut self, cancel: &CancellationToken) -> Result<(), Stop> {
        let name = &self.entry.definition.name;
        let found =
            exactly_once::find_in_flight(&self.broker, name, &self.written_topics, &self.committed)
                .await?;
        let Some(in_flight) = found else {
            return Ok(());
        };
        tracing::warn!(transform = %name, range = ?in_flight.range, present = in_flight.present.len(),
            "Completing a batch interrupted by a crash.");
        let records =
            read_range(&self.broker, &self.entry.definition.input, in_flight.range).await?;
        self.process(in_flight.range, &records, &in_flight.present, cancel)
            .await
    }

    async fn run(&mut self, cancel: &CancellationToken) -> Result<(), Stop> {
        while !cancel.is_cancelled() {
            let Some((range, records)) = self.next_batch(cancel).await? else {
                let positions = self.committed.positions.clone();
                let input = self.entry.definition.input.clone();
                tokio::select! {
                    biased;
                    () = cancel.cancelled() => return Ok(()),
                    waited = self.broker.wait_any(&input, &positions, IDLE_WAIT) => { waited?; }
                }
                continue;
            };
            self.process(range, &records, &HashSet::new(), cancel)
                .await?;
        }
        Ok(())
    }

    /// The next non-empty batch, trying partitions round-robin; lingers up to `max_wait_ms`
    /// for a batch to fill.
    async fn next_batch(
        &mut self,
        cancel: &CancellationToken,
    ) -> Result<Option<(BatchRange, Vec<StoredRecord>)>, Stop> {
        let max = self.entry.definition.batch.max_records;
        let linger = Duration::from_millis(self.entry.definition.batch.max_wait_ms);
        let input = self.entry.definition.input.clone();
        for i in 0..self.input_partitions {
            let partition = (self.next_partition + i) % self.input_partitions;
            let start = self.position(partition)?;
            let buffer = self.read_ahead.entry(partition).or_default();
            // Anything before the position (processed, or deleted by retention) is stale.
            while buffer.front().is_some_and(|r| r.offset < start) {
                buffer.pop_front();
            }
            if buffer.len() < max {
                // Read well ahead: a fetch costs about a whole stored batch however few
                // records it returns, so small plugin batches must not mean small reads.
                let from = buffer.back().map_or(start, |r| r.offset + 1);
                let want = READ_AHEAD_RECORDS.max(max) - buffer.len();
                buffer.extend(
                    read(&self.broker, &input, partition, from, want, Duration::ZERO).await?,
                );
            }
            if buffer.is_empty() {
                continue;
            }
            if buffer.len() < max {
                let after = buffer.back().map_or(start, |r| r.offset + 1);
                let want = max - buffer.len();
                buffer.extend(
                    super::read::linger(
                        &self.broker,
                        &input,
                        partition,
                        after,
                        want,
                        linger,
                        cancel,
                    )
                    .await?,
                );
            }
            let records: Vec<StoredRecord> = buffer.drain(..max.min(buffer.len())).collect();
            self.next_partition = (partition + 1) % self.input_partitions;
            let end = records.last().map_or(start, |r| r.offset + 1);
            return Ok(Some((
                BatchRange {
                    partition,
                    start,
                    end,
                },
                records,
            )));
        }
        Ok(None)
    }

    /// The committed position of a partition, moved up to its start if retention passed it.
    fn position(&mut self, partition: u32) -> Result<u64, Stop> {
        let partitions = self
            .broker
            .partition_offsets(&self.entry.definition.input)?;
        let start = partitions
            .get(partition as usize)
            .map_or(0, |p| p.start_offset);
        let position = self
            .committed
            .positions
            .get(&partition)
            .copied()
            .unwrap_or(start);
        if position < start {
            tracing::warn!(transform = %self.entry.definition.name, partition, position, start,
                "Input records were deleted by retention before the transform read them.");
        }
        Ok(position.max(start))
    }
}

async fn read(
    broker: &Broker,
    input: &str,
    partition: u32,
    from: u64,
    max: usize,
    wait: Duration,
) -> Result<Vec<StoredRecord>, Stop> {
    Ok(super::read::read(broker, input, partition, from, max, wait).await?)
}

/// Every input record of `range` (compaction may have left gaps).
async fn read_range(
    broker: &Broker,
    input: &str,
    range: BatchRange,
) -> Result<Vec<StoredRecord>, Stop> {
    let mut records = Vec::new();
    let mut from = range.start;
    while from < range.end {
        let more = read(
            broker,
            input,
            range.partition,
            from,
            usize::MAX,
            Duration::ZERO,
        )
        .await?;
        let Some(last) = more.last().map(|r| r.offset) else {
            break;
        };
        records.extend(more.into_iter().filter(|r| r.offset < range.end));
        from = last + 1;
    }
    Ok(records)
}

impl Runner {
    /// Runs one batch through the plugin and the failure policy, writes, and commits.
    async fn process(
        &mut self,
        range: BatchRange,
        records: &[StoredRecord],
        already_written: &HashSet<usize>,
        cancel: &CancellationToken,
    ) -> Result<(), Stop> {
        let called = self.call(range.partition, records, cancel).await;
        let def = &self.entry.definition;
        let destinations = match called {
            Ok(destinations) => destinations,
            Err(_) if cancel.is_cancelled() => return Ok(()),
            Err(e) => match def.on_error {
                OnError::Dlq => dead_letters(def, &e, range.partition, records),
                OnError::Skip => Vec::new(),
                OnError::Stop => return Err(Stop::Policy(e.to_string())),
            },
        };
        let to_dlq = destinations
            .first()
            .is_some_and(|d| d.topic == dlq_topic(&def.name));
        let name = def.name.clone();
        let written =
            exactly_once::write(&self.broker, &name, range, destinations, already_written).await?;
        self.committed.positions.insert(range.partition, range.end);
        self.committed.output_ends = exactly_once::output_ends(&self.broker, &self.written_topics)?;
        self.broker
            .commit_transform(&name, &self.committed, self.state.changes())
            .await?;
        self.state.apply();
        let status = &self.entry.status;
        status
            .records_in
            .fetch_add(records.len() as u64, Ordering::Relaxed);
        let counter = if to_dlq {
            &status.records_dlq
        } else {
            &status.records_out
        };
        counter.fetch_add(written, Ordering::Relaxed);
        status.set_positions(&self.committed.positions);
        Ok(())
    }

    /// Calls the plugin, retrying retryable failures with backoff; state changes of failed
    /// attempts are dropped.
    async fn call(
        &mut self,
        partition: u32,
        records: &[StoredRecord],
        cancel: &CancellationToken,
    ) -> Result<Vec<Destination>, PluginError> {
        let ctx = BatchContext {
            topic: self.entry.definition.input.clone(),
            partition,
        };
        let mut delay = BACKOFF;
        let mut attempt = 1;
        loop {
            self.state.discard();
            let result = tokio::select! {
                biased;
                () = cancel.cancelled() => Err(PluginError::Runtime { reason: "transform stopping".into() }),
                r = self.instance.transform(&ctx, records) => r,
            };
            match result {
                Ok(outputs) => return Ok(self.route(partition, outputs)),
                Err(e) => {
                    self.entry.status.error(e.to_string());
                    if cancel.is_cancelled() || !e.is_retryable() || attempt >= ATTEMPTS {
                        return Err(e);
                    }
                    tracing::warn!(transform = %self.entry.definition.name, attempt, error = %e, "Batch failed; retrying.");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
            }
        }
    }

    fn route(&self, input_partition: u32, outputs: Vec<OutputRecord>) -> Vec<Destination> {
        outputs
            .into_iter()
            .map(|out| {
                let index = out.output.unwrap_or(0) as usize;
                let (topic, partitions) = &self.outputs[index.min(self.outputs.len() - 1)];
                let partition = exactly_once::route(&out.record, input_partition, *partitions);
                Destination {
                    topic: topic.clone(),
                    partition,
                    record: out.record,
                }
            })
            .collect()
    }
}

fn dlq_topic(name: &str) -> String {
    format!("{name}.dlq")
}

/// The batch's input records, bound for the dead-letter topic with the error and their source
/// coordinates in headers.
fn dead_letters(
    def: &crate::broker::TransformDefinition,
    error: &PluginError,
    partition: u32,
    records: &[StoredRecord],
) -> Vec<Destination> {
    let header = |name: &str, value: String| Header {
        name: name.into(),
        value: Bytes::from(value),
    };
    records
        .iter()
        .map(|stored| {
            let mut record = stored.record.clone();
            record.headers.extend([
                header("tidegate.error", error.to_string()),
                header("tidegate.plugin", def.plugin.clone()),
                header("tidegate.plugin.digest", def.digest.clone()),
                header("tidegate.source.topic", def.input.clone()),
                header("tidegate.source.partition", partition.to_string()),
                header("tidegate.source.offset", stored.offset.to_string()),
            ]);
            Destination {
                topic: dlq_topic(&def.name),
                partition: 0,
                record,
            }
        })
        .collect()
}
