//! A connector's configuration as the host reads it: Kafka Connect's keys (`connector.class`,
//! `topics`/`topic`, `tasks.max`, `errors.*`) and ours (`tidegate.*`), parsed and checked into
//! [`ConnectorSettings`], with one [`FieldError`] per problem (the shape Connect's validate
//! endpoint reports). Every other key belongs to the plugin.
//!
//! Pure parsing: it must not look at topics, plugins or files (the use cases do).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::plugin::{AllowEntry, FieldError, Limits};

/// Sink or source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorKind {
    /// Moves records from topics to the outside world.
    Sink,
    /// Moves records from the outside world into a topic.
    Source,
}

/// What happens to records a connector could not handle (Connect's `errors.tolerance`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tolerance {
    /// The task fails (the default).
    None,
    /// Dead-letter the records (or skip them without a DLQ topic) and go on.
    All,
}

/// Default records per sink batch or source poll.
pub const DEFAULT_BATCH_RECORDS: usize = 500;
/// Largest `tidegate.batch.max.records`.
pub const MAX_BATCH_RECORDS: usize = 10_000;
/// Default call budget of a connector (calls do network I/O, unlike transforms).
pub const DEFAULT_CALL_TIMEOUT_MS: u64 = 30_000;

/// The host's reading of a connector config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorSettings {
    /// `connector.class`: the plugin name.
    pub plugin: String,
    /// Sink: `topics`; source: `[topic]`.
    pub topics: Vec<String>,
    /// `tasks.max` (one task runs whatever the value; see the README).
    pub tasks_max: u32,
    /// `errors.tolerance`.
    pub tolerance: Tolerance,
    /// `errors.deadletterqueue.topic.name`.
    pub dlq_topic: Option<String>,
    /// `errors.retry.timeout` in ms; `None` = retry retryable failures forever (-1, default).
    pub retry_timeout_ms: Option<u64>,
    /// `errors.retry.delay.max.ms`: the backoff cap.
    pub retry_delay_max_ms: u64,
    /// `tidegate.batch.max.records`.
    pub batch_max_records: usize,
    /// `tidegate.batch.max.wait.ms`: how long a sink lets a batch fill.
    pub batch_max_wait_ms: u64,
    /// `tidegate.call.timeout.ms`, `tidegate.max.memory.bytes`.
    pub limits: Limits,
    /// `tidegate.http.allow`.
    pub http_allow: Vec<AllowEntry>,
    /// `tidegate.dir`: a relative directory under the gateway's connector files root.
    pub dir: Option<String>,
}

/// Keys the host reads (or accepts and ignores, like the converters), with their meaning; the
/// validate endpoint lists them.
pub const HOST_KEYS: &[(&str, &str)] = &[
    (
        "connector.class",
        "The plugin name (a sink-connector or source-connector component).",
    ),
    (
        "name",
        "The connector name; must match the name in the URL if given.",
    ),
    (
        "tasks.max",
        "Accepted for compatibility; one task runs per connector.",
    ),
    ("topics", "Sinks: comma-separated topics to deliver."),
    ("topic", "Sources: the topic records are written to."),
    (
        "errors.tolerance",
        "none (fail the task, default) or all (dead-letter or skip and go on).",
    ),
    (
        "errors.deadletterqueue.topic.name",
        "Dead-letter topic (created if missing).",
    ),
    (
        "errors.deadletterqueue.context.headers.enable",
        "Accepted; context headers are always added.",
    ),
    (
        "errors.retry.timeout",
        "How long retryable failures are retried, ms; -1 = forever (default).",
    ),
    (
        "errors.retry.delay.max.ms",
        "Cap of the exponential backoff, ms (default 60000).",
    ),
    ("errors.log.enable", "Accepted; failures are always logged."),
    ("errors.log.include.messages", "Accepted and ignored."),
    (
        "key.converter",
        "Accepted and ignored: records cross as bytes with JSON flags.",
    ),
    (
        "value.converter",
        "Accepted and ignored: records cross as bytes with JSON flags.",
    ),
    (
        "tidegate.batch.max.records",
        "Records per sink batch or source poll (default 500).",
    ),
    (
        "tidegate.batch.max.wait.ms",
        "How long a sink batch may wait to fill, ms (default 100).",
    ),
    (
        "tidegate.call.timeout.ms",
        "Budget of one plugin call, ms (default 30000).",
    ),
    (
        "tidegate.max.memory.bytes",
        "Plugin memory cap (default 64 MiB).",
    ),
    (
        "tidegate.http.allow",
        "Comma-separated hosts or URL prefixes the plugin may call.",
    ),
    (
        "tidegate.dir",
        "A directory (relative name) the plugin sees at /data.",
    ),
];

/// Parses the host's keys of `config` for a connector of `kind`.
///
/// # Errors
/// Every problem found, one per field.
pub fn parse(
    config: &BTreeMap<String, String>,
    kind: Option<ConnectorKind>,
) -> Result<ConnectorSettings, Vec<FieldError>> {
    let (settings, errors) = read(config, kind);
    if errors.is_empty() {
        Ok(settings)
    } else {
        Err(errors)
    }
}

/// Reads the host's keys of `config`, collecting every problem (not stopping at the first);
/// a bad value reads as its default, so later checks still run.
pub fn read(
    config: &BTreeMap<String, String>,
    kind: Option<ConnectorKind>,
) -> (ConnectorSettings, Vec<FieldError>) {
    let mut errors = Vec::new();
    let mut bad = |field: &str, message: String| {
        errors.push(FieldError {
            field: field.to_owned(),
            message,
        });
    };
    let get = |key: &str| config.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
    let plugin = get("connector.class").unwrap_or_default().to_owned();
    if plugin.is_empty() {
        bad(
            "connector.class",
            "required: the name of an uploaded connector plugin".into(),
        );
    }
    let list = |v: Option<&str>| -> Vec<String> {
        v.unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let topics = match kind {
        Some(ConnectorKind::Sink) => {
            if config.contains_key("topics.regex") {
                bad(
                    "topics.regex",
                    "not supported; list the topics in `topics`".into(),
                );
            }
            let topics = list(get("topics"));
            if topics.is_empty() {
                bad(
                    "topics",
                    "required for a sink: comma-separated topic names".into(),
                );
            }
            topics
        }
        Some(ConnectorKind::Source) => {
            let topic = list(get("topic"));
            if topic.len() != 1 {
                bad(
                    "topic",
                    "required for a source: exactly one topic name".into(),
                );
            }
            topic
        }
        None => Vec::new(),
    };
    let mut number = |key: &str, default: u64, range: std::ops::RangeInclusive<u64>| -> u64 {
        match get(key).map(str::parse::<u64>) {
            None => default,
            Some(Ok(n)) if range.contains(&n) => n,
            _ => {
                bad(
                    key,
                    format!(
                        "must be a whole number from {} to {}",
                        range.start(),
                        range.end()
                    ),
                );
                default
            }
        }
    };
    let tasks_max = u32::try_from(number("tasks.max", 1, 1..=1024)).unwrap_or(1);
    let retry_delay_max_ms = number("errors.retry.delay.max.ms", 60_000, 1..=3_600_000);
    let batch_max_records = usize::try_from(number(
        "tidegate.batch.max.records",
        DEFAULT_BATCH_RECORDS as u64,
        1..=MAX_BATCH_RECORDS as u64,
    ))
    .unwrap_or(DEFAULT_BATCH_RECORDS);
    let batch_max_wait_ms = number("tidegate.batch.max.wait.ms", 100, 0..=60_000);
    let limits = Limits {
        call_timeout_ms: number(
            "tidegate.call.timeout.ms",
            DEFAULT_CALL_TIMEOUT_MS,
            1..=300_000,
        ),
        max_memory_bytes: number("tidegate.max.memory.bytes", 64 << 20, 1 << 20..=4 << 30),
        ..Limits::default()
    };
    let retry_timeout_ms = match get("errors.retry.timeout") {
        None | Some("-1") => None,
        Some(v) => match v.parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => {
                bad(
                    "errors.retry.timeout",
                    "must be -1 (forever) or a number of ms".into(),
                );
                None
            }
        },
    };
    let tolerance = match get("errors.tolerance") {
        None | Some("none") => Tolerance::None,
        Some("all") => Tolerance::All,
        Some(other) => {
            bad("errors.tolerance", format!("'{other}': use none or all"));
            Tolerance::None
        }
    };
    let dlq_topic = get("errors.deadletterqueue.topic.name").map(str::to_owned);
    let http_allow = match AllowEntry::parse_list(get("tidegate.http.allow").unwrap_or_default()) {
        Ok(list) => list,
        Err(problem) => {
            bad("tidegate.http.allow", problem);
            Vec::new()
        }
    };
    let dir = get("tidegate.dir").map(str::to_owned);
    if let Some(d) = &dir {
        let path = std::path::Path::new(d);
        let plain = path
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
        if !plain {
            bad(
                "tidegate.dir",
                "must be a relative directory name without '..'".into(),
            );
        }
    }
    let settings = ConnectorSettings {
        plugin,
        topics,
        tasks_max,
        tolerance,
        dlq_topic,
        retry_timeout_ms,
        retry_delay_max_ms,
        batch_max_records,
        batch_max_wait_ms,
        limits,
        http_allow,
        dir,
    };
    (settings, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_and_connect_keys() {
        let s = parse(
            &config(&[("connector.class", "http-sink"), ("topics", "a, b")]),
            Some(ConnectorKind::Sink),
        )
        .expect("valid");
        assert_eq!(s.topics, ["a", "b"]);
        assert_eq!(s.tolerance, Tolerance::None);
        assert_eq!(s.retry_timeout_ms, None);
        assert_eq!(s.batch_max_records, DEFAULT_BATCH_RECORDS);
        assert_eq!(s.limits.call_timeout_ms, DEFAULT_CALL_TIMEOUT_MS);
    }

    #[test]
    fn every_problem_is_reported_per_field() {
        let errors = parse(
            &config(&[
                ("errors.tolerance", "some"),
                ("tasks.max", "0"),
                ("tidegate.dir", "../etc"),
                ("tidegate.http.allow", "ftp://x/"),
            ]),
            Some(ConnectorKind::Source),
        )
        .expect_err("invalid");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        for f in [
            "connector.class",
            "topic",
            "tasks.max",
            "errors.tolerance",
            "tidegate.dir",
            "tidegate.http.allow",
        ] {
            assert!(fields.contains(&f), "{f} missing from {fields:?}");
        }
    }
}
