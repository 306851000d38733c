//! A source task: polls the plugin, writes each poll's records to the connector's topic with
//! their source offsets in headers, then commits the offsets (with the plugin's key-value
//! changes) and tells the plugin.
//!
//! Exactly-once into the built-in log: every record carries `tidegate.connect.tx =
//! {connector}/{seq}/{index}` and its source partition and offset. A poll is written as runs of
//! consecutive records bound for the same partition, one append per run, in order; so after a
//! crash the log holds a prefix of the poll, and recovery reads the offsets of exactly that
//! prefix back from the records written after the last commit. A restart then neither loses
//! nor re-emits anything the log holds.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use super::policy::{self, Origin, Retry};
use super::{Stop, prepare};
use crate::broker::{
    self, Broker, ConnectorEntry, ConnectorKind, ConnectorOffsets, ConnectorSettings, OffsetSpec,
    SourceInstance, SourceOffset, SourceRecord,
};
use crate::event::{Header, Record, StoredRecord, partition_for_key};
use crate::pipeline::batch_state::BatchState;

/// Header naming a source record's poll and index.
pub const TX_HEADER: &str = "tidegate.connect.tx";
/// Header carrying the record's source partition (JSON text).
pub const PARTITION_HEADER: &str = "tidegate.source.partition";
/// Header carrying the source offset after the record (JSON text).
pub const OFFSET_HEADER: &str = "tidegate.source.offset";
/// Idle backoff between empty polls: from the first to the last, doubling.
const IDLE_FIRST: Duration = Duration::from_millis(10);
const IDLE_MAX: Duration = Duration::from_secs(1);
const SCAN_RECORDS: usize = 10_000;
const SCAN_BYTES: usize = 16 << 20;

struct Source<'a> {
    broker: &'a Broker,
    entry: &'a ConnectorEntry,
    settings: ConnectorSettings,
    topic: String,
    instance: SourceInstance,
    state: Arc<BatchState>,
    offsets: ConnectorOffsets,
}

/// Runs the source until cancelled (`Ok`) or it fails.
pub(crate) async fn run(
    broker: &Broker,
    entry: &ConnectorEntry,
    cancel: &CancellationToken,
) -> Result<(), Stop> {
    // What the connector reads and writes is checked against its creator's ACLs.
    let acting = broker.acting_for(entry.definition.owner.as_ref());
    let broker = &acting;
    let p = prepare(broker, entry, ConnectorKind::Source).await?;
    let (settings, state) = (p.settings, p.state);
    let topic = settings.topics.first().cloned().unwrap_or_default();
    let offsets = recover(broker, &entry.definition.name, &topic, p.committed.offsets).await?;
    let instance = p
        .plugin
        .open_source(
            &p.config,
            as_list(&offsets),
            settings.limits,
            Arc::clone(&state) as _,
            p.grants,
        )
        .await?;
    let mut source = Source {
        broker,
        entry,
        settings,
        topic,
        instance,
        state,
        offsets,
    };
    let result = source.run(cancel).await;
    source.instance.close().await;
    result
}

fn as_list(offsets: &ConnectorOffsets) -> Vec<SourceOffset> {
    offsets
        .source
        .iter()
        .map(|(partition, offset)| SourceOffset {
            partition: partition.clone(),
            offset: offset.clone(),
        })
        .collect()
}

/// Reads back the offsets of records written after the last commit (a crash between writing
/// and committing), and commits them, so the plugin resumes right after what the log holds.
async fn recover(
    broker: &Broker,
    name: &str,
    topic: &str,
    mut offsets: ConnectorOffsets,
) -> Result<ConnectorOffsets, Stop> {
    let ends = broker.topic_ends(&[topic.to_owned()])?;
    if offsets.ends.is_empty() {
        // Never committed: nothing of this connector can be in the topic yet (records of an
        // earlier connector with the same name are not its own). Record where it starts, so
        // a crash before its first commit is recovered from here, not from offset 0.
        offsets.ends = ends;
        broker.commit_connector(name, &offsets, Vec::new()).await?;
        return Ok(offsets);
    }
    let prefix = format!("{name}/");
    let mut latest: BTreeMap<String, ((u64, u64), String)> = BTreeMap::new();
    for (key, end) in &ends {
        let Some(partition) = key
            .rsplit_once('/')
            .and_then(|(_, p)| p.parse::<u32>().ok())
        else {
            continue;
        };
        // A partition added since the last commit is scanned from its start.
        let mut at = offsets.ends.get(key).copied().unwrap_or(0);
        while at < *end {
            let read = broker
                .fetch(
                    topic,
                    partition,
                    OffsetSpec::At(at),
                    SCAN_RECORDS,
                    SCAN_BYTES,
                    Duration::ZERO,
                )
                .await?;
            for stored in &read.records {
                if let Some((order, source_partition, offset)) = tag_of(stored, &prefix)
                    && order.0 > offsets.seq
                    && latest
                        .get(&source_partition)
                        .is_none_or(|(o, _)| *o < order)
                {
                    latest.insert(source_partition, (order, offset));
                }
            }
            if read.next_offset <= at {
                break;
            }
            at = read.next_offset;
        }
    }
    if latest.is_empty() {
        return Ok(offsets);
    }
    if let Some(seq) = latest.values().map(|((seq, _), _)| *seq).max() {
        tracing::warn!(
            connector = name,
            seq,
            partitions = latest.len(),
            "Recovering source offsets written before a crash."
        );
        offsets.seq = seq;
    }
    for (partition, (_, offset)) in latest {
        offsets.source.insert(partition, offset);
    }
    offsets.ends = ends;
    broker.commit_connector(name, &offsets, Vec::new()).await?;
    Ok(offsets)
}

/// `((seq, index), partition, offset)` of one of this connector's records.
fn tag_of(stored: &StoredRecord, prefix: &str) -> Option<((u64, u64), String, String)> {
    let header = |name: &str| {
        stored
            .record
            .headers
            .iter()
            .rev()
            .find(|h| h.name == name)
            .and_then(|h| std::str::from_utf8(&h.value).ok())
    };
    let tag = header(TX_HEADER)?.strip_prefix(prefix)?;
    let (seq, index) = tag.split_once('/')?;
    let order = (seq.parse().ok()?, index.parse().ok()?);
    Some((
        order,
        header(PARTITION_HEADER)?.to_owned(),
        header(OFFSET_HEADER)?.to_owned(),
    ))
}

impl Source<'_> {
    async fn run(&mut self, cancel: &CancellationToken) -> Result<(), Stop> {
        let mut idle = IDLE_FIRST;
        while !cancel.is_cancelled() {
            let polled = self.poll(cancel).await?;
            if polled.is_empty() {
                tokio::select! {
                    biased;
                    () = cancel.cancelled() => return Ok(()),
                    () = tokio::time::sleep(idle) => {}
                }
                idle = (idle * 2).min(IDLE_MAX);
                continue;
            }
            idle = IDLE_FIRST;
            self.write(polled).await?;
        }
        Ok(())
    }

    /// One poll, retried per policy; a poll that fails for good yields nothing (tolerance
    /// `all`) or fails the task.
    async fn poll(&mut self, cancel: &CancellationToken) -> Result<Vec<SourceRecord>, Stop> {
        let max = u32::try_from(self.settings.batch_max_records).unwrap_or(u32::MAX);
        let mut retry = Retry::new();
        loop {
            self.state.discard();
            let result = tokio::select! {
                r = self.instance.poll(max) => r,
                () = policy::grace_over(cancel) => return Ok(Vec::new()),
            };
            match result {
                Ok(records) => return Ok(records),
                Err(e) => {
                    if !retry
                        .again(&e, &self.settings, &self.entry.status, cancel)
                        .await
                    {
                        if cancel.is_cancelled() {
                            return Ok(Vec::new());
                        }
                        let origin = self.origin("TASK_POLL");
                        policy::give_up(
                            self.broker,
                            &self.settings,
                            &self.entry.status,
                            &origin,
                            &e.to_string(),
                            Vec::new(),
                        )
                        .await?;
                        return Ok(Vec::new());
                    }
                }
            }
        }
    }

    fn origin(&self, stage: &'static str) -> Origin<'_> {
        Origin {
            connector: &self.entry.definition.name,
            stage,
            topic: None,
        }
    }

    /// Writes one poll (runs of same-partition records, in order), then commits.
    async fn write(&mut self, polled: Vec<SourceRecord>) -> Result<(), Stop> {
        let name = self.entry.definition.name.clone();
        let seq = self.offsets.seq + 1;
        let partitions = self.broker.partition_count(&self.topic)?;
        // Unkeyed records of one poll stick to one partition (Kafka's sticky partitioner), so
        // a poll is usually one append.
        let sticky = u32::try_from(seq % u64::from(partitions.max(1))).unwrap_or(0);
        let mut advanced: BTreeMap<String, String> = BTreeMap::new();
        let mut runs: Vec<(u32, Vec<Record>)> = Vec::new();
        let count = polled.len() as u64;
        for (index, r) in polled.into_iter().enumerate() {
            let mut record = r.record;
            let partition = record
                .key
                .as_ref()
                .map_or(sticky, |k| partition_for_key(k, partitions));
            record.headers.extend([
                header(TX_HEADER, format!("{name}/{seq}/{index}")),
                header(PARTITION_HEADER, r.position.partition.clone()),
                header(OFFSET_HEADER, r.position.offset.clone()),
            ]);
            advanced.insert(r.position.partition, r.position.offset);
            match runs.last_mut() {
                Some((p, run)) if *p == partition => run.push(record),
                _ => runs.push((partition, vec![record])),
            }
        }
        let mut written = 0;
        for (partition, run) in runs {
            written += self.append_run(partition, run).await?;
        }
        self.offsets.seq = seq;
        self.offsets.source.extend(advanced.clone());
        self.offsets.ends = self.broker.topic_ends(std::slice::from_ref(&self.topic))?;
        self.broker
            .commit_connector(&name, &self.offsets, self.state.changes())
            .await?;
        self.state.apply();
        let status = &self.entry.status;
        status.records.fetch_add(written, Ordering::Relaxed);
        status.batches.fetch_add(1, Ordering::Relaxed);
        let advanced: Vec<SourceOffset> = advanced
            .into_iter()
            .map(|(partition, offset)| SourceOffset { partition, offset })
            .collect();
        if let Err(e) = self
            .instance
            .commit(as_list(&self.offsets), &advanced)
            .await
        {
            // The offsets are durable; the plugin only missed the notification.
            tracing::warn!(connector = %name, error = %e, "Source commit notification failed.");
            status.error(e.to_string());
        }
        debug_assert!(written <= count);
        Ok(())
    }

    /// Appends one run; if the log refuses it as too large, appends its records one by one
    /// and hands the refused ones to the error policy. Returns the records written.
    async fn append_run(&mut self, partition: u32, run: Vec<Record>) -> Result<u64, Stop> {
        match self.broker.append_to(&self.topic, partition, &run).await {
            Ok(_) => return Ok(run.len() as u64),
            Err(e) if !refuses_records(&e) => return Err(e.into()),
            Err(_) => {}
        }
        let mut written = 0;
        for record in run {
            match self
                .broker
                .append_to(&self.topic, partition, std::slice::from_ref(&record))
                .await
            {
                Ok(_) => written += 1,
                Err(e) if refuses_records(&e) => {
                    let origin = self.origin("TASK_WRITE");
                    policy::give_up(
                        self.broker,
                        &self.settings,
                        &self.entry.status,
                        &origin,
                        &e.to_string(),
                        vec![(None, record)],
                    )
                    .await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(written)
    }
}

/// Whether the log refused the records themselves (not an I/O failure).
fn refuses_records(e: &broker::Error) -> bool {
    matches!(
        e,
        broker::Error::RecordTooLarge { .. }
            | broker::Error::Storage(broker::StorageError::BatchTooLarge { .. })
    )
}

fn header(name: &str, value: String) -> Header {
    Header {
        name: name.to_owned(),
        value: Bytes::from(value),
    }
}
