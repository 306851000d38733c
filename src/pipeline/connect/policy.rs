//! What a connector task does about a failed call: retry with exponential backoff (Connect's
//! `errors.retry.timeout` and `errors.retry.delay.max.ms`), and dead-letter records with
//! Connect's context headers (`errors.deadletterqueue.topic.name`).
//!
//! Owns the retry decision and the dead-letter record shape; it must not call plugins.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use crate::broker::{Broker, ConnectorSettings, ConnectorStatus, PluginError, Tolerance};
use crate::event::{Header, Record, partition_for_key};

use super::Stop;

/// First retry delay; doubled per retry up to `errors.retry.delay.max.ms`.
const FIRST_DELAY: Duration = Duration::from_millis(100);
/// Traps and timeouts (a fresh instance each time) before the failure counts as fatal: a
/// deterministic crash must not loop forever.
const MAX_POISONED_ATTEMPTS: u32 = 3;

/// How long a stopping task lets its call in flight finish (so its batch is committed).
const GRACE: Duration = Duration::from_secs(5);

/// Completes [`GRACE`] after `cancel` fires.
pub(crate) async fn grace_over(cancel: &CancellationToken) {
    cancel.cancelled().await;
    tokio::time::sleep(GRACE).await;
}

/// The retry state of one call sequence.
pub(crate) struct Retry {
    started: Instant,
    delay: Duration,
    poisoned: u32,
}

impl Retry {
    pub(crate) fn new() -> Self {
        Self {
            started: Instant::now(),
            delay: FIRST_DELAY,
            poisoned: 0,
        }
    }

    /// Whether `error` may be retried; if so, waits the backoff (or until cancelled) first.
    pub(crate) async fn again(
        &mut self,
        error: &PluginError,
        settings: &ConnectorSettings,
        status: &ConnectorStatus,
        cancel: &CancellationToken,
    ) -> bool {
        status.error(error.to_string());
        if error.poisons_instance() {
            self.poisoned += 1;
        }
        let within = settings
            .retry_timeout_ms
            .is_none_or(|limit| self.started.elapsed() < Duration::from_millis(limit));
        if !error.is_retryable() || self.poisoned >= MAX_POISONED_ATTEMPTS || !within {
            return false;
        }
        status.retries.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(error = %error, delay_ms = self.delay.as_millis(), "Connector call failed; retrying.");
        tokio::select! {
            () = cancel.cancelled() => return false,
            () = tokio::time::sleep(self.delay) => {}
        }
        self.delay = (self.delay * 2).min(Duration::from_millis(settings.retry_delay_max_ms));
        true
    }
}

/// Where a failed record came from, for its dead-letter headers.
pub(crate) struct Origin<'a> {
    /// Connector name.
    pub connector: &'a str,
    /// `TASK_PUT` (sink) or `TASK_POLL` / `TASK_WRITE` (source).
    pub stage: &'static str,
    /// Sink input coordinates.
    pub topic: Option<(&'a str, u32)>,
}

/// Handles records that failed for good: under `errors.tolerance=all` they go to the
/// dead-letter topic (or are skipped without one); under `none` the task fails.
///
/// # Errors
/// `Stop::Policy` under `none`; storage errors writing dead letters.
pub(crate) async fn give_up(
    broker: &Broker,
    settings: &ConnectorSettings,
    status: &ConnectorStatus,
    origin: &Origin<'_>,
    error: &str,
    records: Vec<(Option<u64>, Record)>,
) -> Result<(), Stop> {
    if settings.tolerance == Tolerance::None {
        return Err(Stop::Policy(format!(
            "Tolerance exceeded in error handler (errors.tolerance=none): {error}"
        )));
    }
    let count = records.len() as u64;
    let Some(dlq) = &settings.dlq_topic else {
        tracing::warn!(
            connector = origin.connector,
            records = count,
            error,
            "Records skipped."
        );
        status.skipped.fetch_add(count, Ordering::Relaxed);
        return Ok(());
    };
    let partitions = broker.partition_count(dlq)?;
    let mut by_partition: std::collections::BTreeMap<u32, Vec<Record>> = Default::default();
    for (offset, mut record) in records {
        record
            .headers
            .extend(context_headers(origin, offset, error));
        let p = match (&record.key, origin.topic) {
            (Some(key), _) => partition_for_key(key, partitions),
            (None, Some((_, input))) => input % partitions.max(1),
            (None, None) => 0,
        };
        by_partition.entry(p).or_default().push(record);
    }
    for (p, records) in by_partition {
        broker.append_to(dlq, p, &records).await?;
    }
    status.dead_letters.fetch_add(count, Ordering::Relaxed);
    tracing::warn!(
        connector = origin.connector,
        records = count,
        dlq,
        error,
        "Records dead-lettered."
    );
    Ok(())
}

/// Kafka Connect's dead-letter context headers.
fn context_headers(origin: &Origin<'_>, offset: Option<u64>, error: &str) -> Vec<Header> {
    let header = |name: &str, value: String| Header {
        name: name.to_owned(),
        value: Bytes::from(value),
    };
    let mut headers = vec![
        header(
            "__connect.errors.connector.name",
            origin.connector.to_owned(),
        ),
        header("__connect.errors.task.id", "0".into()),
        header("__connect.errors.stage", origin.stage.to_owned()),
        header("__connect.errors.exception.message", error.to_owned()),
    ];
    if let Some((topic, partition)) = origin.topic {
        headers.push(header("__connect.errors.topic", topic.to_owned()));
        headers.push(header("__connect.errors.partition", partition.to_string()));
    }
    if let Some(offset) = offset {
        headers.push(header("__connect.errors.offset", offset.to_string()));
    }
    headers
}
