//! Schema validation on produce: which topics ask for it (settings kept in
//! `__tidegate_config`, `topic-schema/{topic}`, not in storage's topic config, so a
//! Kafka-backed engine need not carry them), and the check every front end's records and
//! the pipeline's appends go through. The rules of checking live in `crate::schema`.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::storage::Storage;
use super::{Broker, Error, Prechecked, Result};
use crate::event::{ATTR_KEY_JSON, ATTR_VALUE_JSON, Header, Record, TopicName};
use crate::schema::{Strategy, Violation};

/// The topic config keys this module owns (Confluent Server's names also accepted with their
/// `confluent.` prefix).
pub const KEYS: [&str; 5] = [
    "schema.dead.letter.topic",
    "key.schema.validation",
    "value.schema.validation",
    "key.subject.name.strategy",
    "value.subject.name.strategy",
];

/// A topic's schema validation settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicSchemaSettings {
    /// The topic.
    pub topic: String,
    /// Check keys.
    #[serde(default)]
    pub key_validation: bool,
    /// Check values.
    #[serde(default)]
    pub value_validation: bool,
    /// Subject name strategy of keys (`TopicNameStrategy` when empty).
    #[serde(default)]
    pub key_strategy: String,
    /// Subject name strategy of values.
    #[serde(default)]
    pub value_strategy: String,
    /// Where `?partial=true` produce keeps refused records (empty: nowhere).
    #[serde(default)]
    pub dead_letter_topic: String,
}

pub(super) fn strategy_of(name: &str) -> Option<Strategy> {
    match name.rsplit('.').next().unwrap_or(name) {
        "" | "TopicNameStrategy" => Some(Strategy::TopicName),
        "RecordNameStrategy" => Some(Strategy::RecordName),
        "TopicRecordNameStrategy" => Some(Strategy::TopicRecordName),
        _ => None,
    }
}

/// Takes this module's keys out of `config`; `None` when there are none.
pub(super) fn split_config(
    config: &BTreeMap<String, String>,
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut ours = BTreeMap::new();
    let mut rest = BTreeMap::new();
    for (key, value) in config {
        let bare = key.strip_prefix("confluent.").unwrap_or(key);
        if KEYS.contains(&bare) {
            ours.insert(bare.to_owned(), value.clone());
        } else {
            rest.insert(key.clone(), value.clone());
        }
    }
    (ours, rest)
}

impl TopicSchemaSettings {
    /// Applies `changes` (already split by [`split_config`]).
    pub(super) fn apply(&mut self, changes: &BTreeMap<String, String>) -> Result<()> {
        for (key, value) in changes {
            let bad = |problem: &str| Error::InvalidConfig {
                key: key.clone(),
                problem: problem.into(),
            };
            let flag = || match value.trim() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(bad("must be true or false")),
            };
            let named = || {
                strategy_of(value.trim()).map(|_| value.trim().to_owned()).ok_or_else(|| {
                    bad("must be TopicNameStrategy, RecordNameStrategy or TopicRecordNameStrategy")
                })
            };
            match key.as_str() {
                "key.schema.validation" => self.key_validation = flag()?,
                "value.schema.validation" => self.value_validation = flag()?,
                "key.subject.name.strategy" => self.key_strategy = named()?,
                "value.subject.name.strategy" => self.value_strategy = named()?,
                "schema.dead.letter.topic" => {
                    let name = value.trim();
                    if !name.is_empty() {
                        let valid = TopicName::new(name).map_err(|e| bad(&e.to_string()))?;
                        if valid.is_internal() || name == self.topic {
                            return Err(bad("must be another, non-internal topic"));
                        }
                    }
                    self.dead_letter_topic = name.to_owned();
                }
                _ => return Err(bad("unknown config key")),
            }
        }
        Ok(())
    }

    /// The settings as config strings (for topic descriptions).
    #[must_use]
    pub fn as_config(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        out.insert(
            "key.schema.validation".into(),
            self.key_validation.to_string(),
        );
        out.insert(
            "value.schema.validation".into(),
            self.value_validation.to_string(),
        );
        for (key, value) in [
            ("key.subject.name.strategy", &self.key_strategy),
            ("value.subject.name.strategy", &self.value_strategy),
        ] {
            let value = if value.is_empty() {
                "TopicNameStrategy"
            } else {
                value
            };
            out.insert(key.into(), value.to_owned());
        }
        if !self.dead_letter_topic.is_empty() {
            out.insert(
                "schema.dead.letter.topic".into(),
                self.dead_letter_topic.clone(),
            );
        }
        out
    }

    fn is_default(&self) -> bool {
        !self.key_validation && !self.value_validation
    }
}

/// What the checks work on: records as produce requests carry them, or bare records (the
/// pipeline's appends), without building a list of references per request.
pub(super) trait Checked {
    fn record(&self) -> &Record;
    fn record_mut(&mut self) -> &mut Record;
}

impl Checked for Record {
    fn record(&self) -> &Record {
        self
    }
    fn record_mut(&mut self) -> &mut Record {
        self
    }
}

impl Checked for super::ProduceRecord {
    fn record(&self) -> &Record {
        &self.record
    }
    fn record_mut(&mut self) -> &mut Record {
        &mut self.record
    }
}

/// A record refused by its topic's schema or a rule.
pub(super) struct Refused {
    pub(super) index: usize,
    pub(super) field: &'static str,
    pub(super) violation: Violation,
}

impl Refused {
    pub(super) fn into_error(self) -> Error {
        Error::InvalidRecord {
            index: self.index,
            field: self.field,
            violation: Box::new(self.violation),
        }
    }
}

/// A record a data-contract rule sent to its dead-letter topic.
pub(super) struct DeadLetter {
    pub(super) index: usize,
    pub(super) topic: TopicName,
    pub(super) record: Record,
    pub(super) violation: Violation,
}

impl Broker {
    /// `topic`'s settings, if it validates anything.
    pub(super) fn topic_schema(&self, topic: &str) -> Option<TopicSchemaSettings> {
        let table = self.inner.definitions.table.lock();
        table
            .topic_schemas
            .get(topic)
            .filter(|s| !s.is_default())
            .cloned()
    }

    /// Stores `changes` to `topic`'s settings (after the topic itself accepted its own).
    pub(super) async fn alter_topic_schema(
        &self,
        topic: &TopicName,
        changes: &BTreeMap<String, String>,
    ) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let _writer = self.inner.definitions.writer().await;
        let mut settings = self
            .inner
            .definitions
            .table
            .lock()
            .topic_schemas
            .get(topic.as_str())
            .cloned()
            .unwrap_or_else(|| TopicSchemaSettings {
                topic: topic.to_string(),
                ..TopicSchemaSettings::default()
            });
        settings.apply(changes)?;
        let stored = (!settings.is_default()).then_some(settings);
        self.inner
            .definitions
            .put_topic_schema(topic.as_str(), stored)
            .await
    }

    /// Forgets a deleted topic's settings.
    pub(super) async fn forget_topic_schema(&self, topic: &TopicName) -> Result<()> {
        let known = self
            .inner
            .definitions
            .table
            .lock()
            .topic_schemas
            .contains_key(topic.as_str());
        if known {
            let _writer = self.inner.definitions.writer().await;
            self.inner
                .definitions
                .put_topic_schema(topic.as_str(), None)
                .await?;
        }
        Ok(())
    }

    /// Checks every record against the schemas `topic` requires, rewriting Avro JSON into
    /// wire format; returns each refused record's first violation, in index order.
    ///
    /// Values `prechecked` says passed the check this would run are not checked again.
    pub(super) fn check_each(
        &self,
        topic: &TopicName,
        records: &mut [impl Checked],
        prechecked: &Prechecked,
    ) -> Vec<Refused> {
        let Some(settings) = self.topic_schema(topic.as_str()) else {
            return Vec::new();
        };
        let registry = &self.inner.schemas;
        let sides = [
            (settings.key_validation, true, &settings.key_strategy),
            (settings.value_validation, false, &settings.value_strategy),
        ];
        let mut refused: Vec<Refused> = Vec::new();
        for (enabled, is_key, strategy_name) in sides {
            if !enabled {
                continue;
            }
            let mut validator = registry.validator(
                topic.as_str(),
                is_key,
                strategy_of(strategy_name).unwrap_or_default(),
            );
            let trusted = (!is_key)
                .then(|| prechecked.trusted(topic.as_str(), validator.latest_id()))
                .flatten();
            for (index, record) in records.iter_mut().enumerate() {
                if trusted.is_some_and(|passed| passed.contains(index))
                    || refused.iter().any(|r| r.index == index)
                {
                    continue;
                }
                let record = record.record_mut();
                let (bytes, flag) = if is_key {
                    (&mut record.key, ATTR_KEY_JSON)
                } else {
                    (&mut record.value, ATTR_VALUE_JSON)
                };
                // Tombstones and absent keys carry nothing to check.
                let Some(payload) = bytes.as_ref() else {
                    continue;
                };
                match validator.check(payload, record.attributes & flag != 0) {
                    Ok(checked) => {
                        if let Some(replacement) = checked.replacement {
                            *bytes = Some(replacement);
                            record.attributes &= !flag;
                        }
                    }
                    Err(violation) => refused.push(Refused {
                        index,
                        field: if is_key { "key" } else { "value" },
                        violation,
                    }),
                }
            }
        }
        refused.sort_by_key(|r| r.index);
        refused
    }

    /// All-or-nothing checking: records a rule sends to its dead-letter topic are returned
    /// (with `__rule.*` headers); any other refusal refuses the whole request.
    pub(super) fn check_schemas(
        &self,
        topic: &TopicName,
        records: &mut [impl Checked],
        prechecked: &Prechecked,
    ) -> Result<Vec<DeadLetter>> {
        let mut dead = Vec::new();
        for refused in self.check_each(topic, records, prechecked) {
            let Some(dlq) = dead_letter_topic(&refused.violation) else {
                return Err(refused.into_error());
            };
            let Some(record) = records.get(refused.index) else {
                continue;
            };
            dead.push(DeadLetter {
                index: refused.index,
                topic: TopicName::new(dlq)?,
                record: with_rule_headers(record.record(), &refused.violation, topic),
                violation: refused.violation,
            });
        }
        Ok(dead)
    }

    /// A dry run of produce's checks on `records`: the indexes a rule would dead-letter, or
    /// the refusal a produce would get. Appends nothing. Values `prechecked` says passed are
    /// not checked again, as in produce: an Avro value already encoded would otherwise be
    /// judged as wire format, its defaulted fields filled in, not as the client sent it.
    ///
    /// # Errors
    /// Unknown or internal topic; [`Error::InvalidRecord`].
    pub fn validate(
        &self,
        topic: &str,
        mut records: Vec<super::ProduceRecord>,
        prechecked: &Prechecked,
    ) -> Result<Vec<usize>> {
        self.authorize(super::ResourceType::Topic, topic, super::Operation::Write)?;
        let name = TopicName::new(topic)?;
        if name.is_internal() {
            return Err(Error::InternalTopic(name));
        }
        self.inner.storage.topic(&name)?;
        Ok(self
            .check_schemas(&name, &mut records, prechecked)?
            .into_iter()
            .map(|d| d.index)
            .collect())
    }

    /// Values (and keys) in Avro wire format decoded to JSON text, for consumers asking for
    /// `decode=true`; other records are left as they are.
    pub fn decode_records(&self, records: &mut [crate::event::StoredRecord]) {
        let registry = &self.inner.schemas;
        for stored in records {
            let record = &mut stored.record;
            for (is_key, flag) in [(true, ATTR_KEY_JSON), (false, ATTR_VALUE_JSON)] {
                let bytes = if is_key {
                    &mut record.key
                } else {
                    &mut record.value
                };
                if record.attributes & flag != 0 {
                    continue;
                }
                if let Some(json) = bytes.as_ref().and_then(|b| registry.decode_avro(b)) {
                    *bytes = Some(Bytes::from(json));
                    record.attributes |= flag;
                }
            }
        }
    }
}

pub(super) fn dead_letter_topic(violation: &Violation) -> Option<&str> {
    violation
        .rule
        .as_deref()
        .and_then(|(_, dlq)| dlq.as_deref())
}

/// The record with Confluent's rule-failure headers (`__rule.name`, …).
pub(super) fn with_rule_headers(
    record: &Record,
    violation: &Violation,
    topic: &TopicName,
) -> Record {
    let mut record = record.clone();
    let rule = violation
        .rule
        .as_deref()
        .map_or("", |(name, _)| name.as_str());
    for (name, value) in [
        ("__rule.name", rule),
        ("__rule.mode", "WRITE"),
        ("__rule.subject", violation.subject.as_str()),
        ("__rule.topic", topic.as_str()),
        ("__rule.exception", violation.message.as_str()),
    ] {
        record.headers.push(Header {
            name: name.to_owned(),
            value: Bytes::from(value.to_owned()),
        });
    }
    record
}
