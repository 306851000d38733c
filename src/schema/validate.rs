//! Checking records against the registry: a key or value is either natural JSON (checked
//! against the subject's latest schema; Avro is encoded to Confluent's wire format) or
//! already in wire format (its id must belong to the subject and the whole payload must
//! decode). Then the schema's CEL rules run on the JSON form. Owns no storage: the broker
//! decides which topics ask for this and what happens to refused records.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use serde_json::Value;

use super::avro::{AvroSchema, binary, encode};
use super::capture::{Capture, Slots};
use super::parsed::Parsed;
use super::registry::Registry;
use super::rules::{OnFailure, Refusal, Rules};
use super::wire;
use crate::event::SchemaId;
use crate::json_text;

/// How a topic names the subject of its keys or values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// `<topic>-key` / `<topic>-value` (Confluent's default).
    #[default]
    TopicName,
    /// The record's full name (the schema id must come with the record).
    RecordName,
    /// `<topic>-<record full name>`.
    TopicRecordName,
}

/// Why a record was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The subject checked against (empty when it could not be determined).
    pub subject: String,
    /// The schema used, when one was.
    pub schema_id: Option<SchemaId>,
    /// JSON pointer or Avro path of the problem (`/` or `.` for the whole value).
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// The data-contract rule that refused it, and its dead-letter topic if it names one.
    /// Boxed: rare, and it would double the size of every `Result` carrying a violation.
    pub rule: Option<Box<(String, Option<String>)>>,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.rule.as_deref() {
            Some((rule, _)) => write!(
                f,
                "rule '{rule}' of subject '{}' refused it: {}",
                self.subject, self.message
            ),
            None => write!(
                f,
                "{}: {} (subject '{}')",
                self.path, self.message, self.subject
            ),
        }
    }
}

/// What to store instead, when checking changed the bytes (Avro JSON → wire format).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// Replacement bytes; `None` keeps the record's own.
    pub replacement: Option<Bytes>,
}

/// Replacements are carved from chunks that start small (a one-record request holds little)
/// and double up to the largest, so a big batch needs a few allocations, not one per record.
const ARENA_FIRST_CHUNK: usize = 2 << 10;
const ARENA_CHUNK: usize = 64 << 10;

/// A subject's latest schema resolved once, to check a batch of records against.
pub struct Validator<'r> {
    registry: &'r Registry,
    strategy: Strategy,
    topic_subject: String,
    topic: String,
    latest: Option<(SchemaId, Arc<Parsed>, Arc<Rules>)>,
    /// The last wire-format id resolved and found under its subject: a batch's framed
    /// records usually share one, so the lookups run once per batch.
    framed: Option<(SchemaId, String, Arc<Parsed>, Arc<Rules>)>,
    /// The fast path's buffers, reused from record to record.
    fast: Buffers,
}

/// What the fast path reuses from record to record, so that it allocates nothing per record.
#[derive(Default)]
struct Buffers {
    /// Where one record is encoded.
    scratch: Vec<u8>,
    /// The picked fields.
    slots: Slots,
    /// Where the latest Avro schema's record fields go among them, by field position.
    field_slots: Box<[Option<usize>]>,
    /// Where replacements are copied to and split off from.
    arena: Arena,
}

fn violation(
    subject: &str,
    id: Option<SchemaId>,
    path: &str,
    message: impl Into<String>,
) -> Violation {
    Violation {
        subject: subject.to_owned(),
        schema_id: id,
        path: path.to_owned(),
        message: message.into(),
        rule: None,
    }
}

impl Registry {
    /// A validator for the keys (`is_key`) or values of `topic` under `strategy`.
    #[must_use]
    pub fn validator(&self, topic: &str, is_key: bool, strategy: Strategy) -> Validator<'_> {
        let topic_subject = format!("{topic}-{}", if is_key { "key" } else { "value" });
        let latest = match strategy {
            Strategy::TopicName => self.latest_compiled(&topic_subject),
            Strategy::RecordName | Strategy::TopicRecordName => None,
        };
        // Where the latest schema's record fields go among the picked ones, found once.
        let field_slots = match &latest {
            Some((_, parsed, rules)) => match (&**parsed, rules.fast_fields()) {
                (
                    Parsed::Avro(AvroSchema {
                        plan: Some(plan), ..
                    }),
                    Some(fields),
                ) => plan.field_slots(fields),
                _ => Box::default(),
            },
            None => Box::default(),
        };
        Validator {
            registry: self,
            strategy,
            topic_subject,
            topic: topic.to_owned(),
            latest,
            framed: None,
            fast: Buffers {
                field_slots,
                ..Buffers::default()
            },
        }
    }

    fn latest_compiled(&self, subject: &str) -> Option<(SchemaId, Arc<Parsed>, Arc<Rules>)> {
        let id = self.latest_id(subject)?;
        let parsed = self.parsed_by_id(id).ok()?;
        let rules = self.rules_by_id(id).ok()?;
        Some((id, parsed, rules))
    }

    /// `json` serialized with schema `id` in Confluent's wire format: Avro binary (the JSON may
    /// use Avro's JSON encoding), or the JSON text after a JSON Schema check. Rules are not
    /// run here: they run where the record is produced.
    ///
    /// # Errors
    /// An unknown id, or why the value does not fit.
    pub fn serialize(&self, id: SchemaId, json: &Value) -> Result<Vec<u8>, String> {
        let parsed = self.parsed_by_id(id).map_err(|e| e.to_string())?;
        let mut out = Vec::with_capacity(64);
        wire::write_header(id, &mut out);
        match &*parsed {
            Parsed::Avro(avro) => {
                encode::encode(&avro.schema, &avro.names, json, &mut out)
                    .map_err(|e| e.to_string())?;
            }
            Parsed::Json(schema) => {
                schema.check(json).map_err(|v| v.to_string())?;
                out.extend_from_slice(json.to_string().as_bytes());
            }
        }
        Ok(out)
    }

    /// Decodes an Avro value in wire format to JSON text; `None` when `bytes` are not framed,
    /// name an unknown or non-Avro schema, or do not decode.
    #[must_use]
    pub fn decode_avro(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        let (id, payload) = wire::split(bytes)?;
        let parsed = self.parsed_by_id(id).ok()?;
        let Parsed::Avro(avro) = &*parsed else {
            return None;
        };
        let json = binary::decode(&avro.schema, &avro.names, payload).ok()?;
        serde_json::to_vec(&json).ok()
    }
}

impl Registry {
    /// The JSON text of a JSON Schema value in wire format; `None` when `bytes` are not
    /// framed or name an unknown or non-JSON schema.
    #[must_use]
    pub fn json_payload<'a>(&self, bytes: &'a [u8]) -> Option<&'a [u8]> {
        let (id, payload) = wire::split(bytes)?;
        let parsed = self.parsed_by_id(id).ok()?;
        matches!(&*parsed, Parsed::Json(_)).then_some(payload)
    }
}

/// The full name a schema's records carry (Avro named type, JSON Schema `title`).
fn record_name(parsed: &Parsed) -> Option<String> {
    match parsed {
        Parsed::Avro(a) => match &a.schema {
            apache_avro::Schema::Record(r) => Some(r.name.fullname(None)),
            apache_avro::Schema::Enum(e) => Some(e.name.fullname(None)),
            apache_avro::Schema::Fixed(f) => Some(f.name.fullname(None)),
            _ => None,
        },
        Parsed::Json(j) => j
            .value
            .get("title")
            .and_then(Value::as_str)
            .map(str::to_owned),
    }
}

impl Validator<'_> {
    /// The subject checked under the topic-name strategy.
    #[must_use]
    pub fn subject(&self) -> &str {
        &self.topic_subject
    }

    /// Checks one key or value: `is_json` says the bytes are JSON text the client sent.
    ///
    /// # Errors
    /// The [`Violation`].
    pub fn check(&mut self, bytes: &[u8], is_json: bool) -> Result<Checked, Violation> {
        if !is_json {
            if let Some((id, payload)) = wire::split(bytes) {
                return self.check_framed(id, payload);
            }
        }
        let Some((id, parsed, rules)) = &self.latest else {
            let message = match self.strategy {
                Strategy::TopicName => format!(
                    "subject '{}' has no schema: register one before producing to this topic",
                    self.topic_subject
                ),
                _ => "the subject name strategy takes the subject from the schema, so the \
                      record must be in Confluent wire format (magic byte 0, schema id)"
                    .to_owned(),
            };
            return Err(violation(&self.topic_subject, None, "/", message));
        };
        let subject = &self.topic_subject;
        if let Some(checked) = self.fast.check(*id, parsed, rules, Source::Bytes(bytes)) {
            return Ok(checked);
        }
        let json: Value = serde_json::from_slice(bytes).map_err(|e| {
            violation(
                subject,
                Some(*id),
                "/",
                format!("neither JSON nor Confluent wire format: {e}"),
            )
        })?;
        let replacement = match &**parsed {
            Parsed::Avro(avro) => {
                let mut out = Vec::with_capacity(bytes.len() + wire::HEADER_LEN);
                wire::write_header(*id, &mut out);
                encode::encode(&avro.schema, &avro.names, &json, &mut out)
                    .map_err(|e| violation(subject, Some(*id), &e.path, e.message))?;
                Some(Bytes::from(out))
            }
            Parsed::Json(schema) => {
                schema
                    .check(&json)
                    .map_err(|v| violation(subject, Some(*id), &v.path, v.message))?;
                None
            }
        };
        apply_rules(rules, &json, subject, *id)?;
        Ok(Checked { replacement })
    }

    /// The id of the schema natural JSON is checked against (the subject's latest when this
    /// validator was made), if there is one.
    #[must_use]
    pub fn latest_id(&self) -> Option<SchemaId> {
        self.latest.as_ref().map(|(id, ..)| *id)
    }

    /// Checks the JSON value at `reader`'s position in a larger text (a produce body) on the
    /// fast path alone, reading it once: `Some` when it passed (with what to store for Avro);
    /// `None` when it did not or the fast path cannot tell. The reader is then somewhere inside
    /// the value, and the caller starts over with [`Validator::check`] on the value's text,
    /// which decides and explains.
    pub fn check_in(&mut self, reader: &mut json_text::Reader<'_>) -> Option<Checked> {
        let (id, parsed, rules) = self.latest.as_ref()?;
        self.fast.check(*id, parsed, rules, Source::Reader(reader))
    }

    fn check_framed(&mut self, id: SchemaId, payload: &[u8]) -> Result<Checked, Violation> {
        if self
            .framed
            .as_ref()
            .is_none_or(|(cached, ..)| *cached != id)
        {
            let (subject, parsed, rules) = self.resolve_framed(id)?;
            self.framed = Some((id, subject, parsed, rules));
        }
        let (subject, parsed, rules) = match &self.framed {
            Some((_, subject, parsed, rules)) => (subject, parsed, rules),
            None => {
                return Err(violation(
                    &self.topic_subject,
                    Some(id),
                    "/",
                    "schema lookup failed",
                ));
            }
        };
        let json = match &**parsed {
            Parsed::Avro(avro) => {
                if rules.is_empty() {
                    binary::validate(&avro.schema, &avro.names, payload)
                        .map_err(|e| violation(subject, Some(id), &e.path, e.message))?;
                    return Ok(Checked { replacement: None });
                }
                binary::decode(&avro.schema, &avro.names, payload)
                    .map_err(|e| violation(subject, Some(id), &e.path, e.message))?
            }
            Parsed::Json(schema) => {
                let json: Value = serde_json::from_slice(payload).map_err(|e| {
                    violation(
                        subject,
                        Some(id),
                        "/",
                        format!("the payload is not JSON: {e}"),
                    )
                })?;
                schema
                    .check(&json)
                    .map_err(|v| violation(subject, Some(id), &v.path, v.message))?;
                json
            }
        };
        apply_rules(rules, &json, subject, id)?;
        Ok(Checked { replacement: None })
    }
}

/// Where the fast path reads a record: its own bytes, or a reader inside a larger text.
enum Source<'a, 'r, 'de> {
    Bytes(&'a [u8]),
    Reader(&'r mut json_text::Reader<'de>),
}

impl Buffers {
    /// The common case without a JSON tree: the record streams through the Avro plan (in
    /// wire format, the replacement then carved from the arena) or the JSON Schema fast
    /// validator, and the rules' fast evaluator passes it on the fields picked on the way.
    /// `None` when any of them cannot say yes; the tree path then decides and explains.
    fn check(
        &mut self,
        id: SchemaId,
        parsed: &Parsed,
        rules: &Rules,
        source: Source<'_, '_, '_>,
    ) -> Option<Checked> {
        if !fast_check(
            id,
            parsed,
            rules,
            source,
            &mut self.scratch,
            &mut self.slots,
            &self.field_slots,
        ) {
            return None;
        }
        let replacement = match parsed {
            Parsed::Avro(_) => Some(self.arena.carve(&self.scratch)),
            Parsed::Json(_) => None,
        };
        Some(Checked { replacement })
    }
}

/// [`Buffers::check`]'s pass: `true` when the record passed, encoded into `out` for Avro.
fn fast_check(
    id: SchemaId,
    parsed: &Parsed,
    rules: &Rules,
    source: Source<'_, '_, '_>,
    out: &mut Vec<u8>,
    slots: &mut Slots,
    field_slots: &[Option<usize>],
) -> bool {
    let Some(fields) = rules.fast_fields() else {
        return false;
    };
    match parsed {
        Parsed::Avro(avro) => {
            let Some(plan) = &avro.plan else {
                return false;
            };
            let mut capture = Capture::new(fields, slots).by_field(field_slots);
            out.clear();
            wire::write_header(id, out);
            let passed = match source {
                Source::Bytes(bytes) => plan.encode_json(bytes, out, &mut capture),
                Source::Reader(reader) => plan.encode_in(reader, out, &mut capture),
            };
            passed && rules.pass_fast(&capture)
        }
        Parsed::Json(schema) => {
            let mut capture = Capture::new(fields, slots);
            let passed = match source {
                Source::Bytes(bytes) => schema.fast_check(bytes, &mut capture),
                Source::Reader(reader) => schema.fast_check_in(reader, &mut capture),
            };
            passed && rules.pass_fast(&capture)
        }
    }
}

/// Where replacements are copied to and split off from.
#[derive(Default)]
struct Arena {
    buf: BytesMut,
    /// The size of the last chunk taken (0 before the first).
    chunk: usize,
}

impl Arena {
    /// `bytes` copied into the current chunk and split off as their own `Bytes`; a full
    /// chunk is left to the records that share it and a twice bigger one is taken.
    fn carve(&mut self, bytes: &[u8]) -> Bytes {
        if self.buf.capacity() - self.buf.len() < bytes.len() {
            self.chunk = (self.chunk * 2).clamp(ARENA_FIRST_CHUNK, ARENA_CHUNK);
            self.buf = BytesMut::with_capacity(self.chunk.max(bytes.len()));
        }
        self.buf.extend_from_slice(bytes);
        self.buf.split().freeze()
    }
}

impl Validator<'_> {
    /// The subject, schema and rules of a framed record's id, refusing an id its subject
    /// does not hold.
    fn resolve_framed(&self, id: SchemaId) -> Result<(String, Arc<Parsed>, Arc<Rules>), Violation> {
        let parsed = self.registry.parsed_by_id(id).map_err(|_| {
            violation(
                &self.topic_subject,
                Some(id),
                "/",
                format!("schema id {id} is not registered"),
            )
        })?;
        let subject = match self.strategy {
            Strategy::TopicName => self.topic_subject.clone(),
            Strategy::RecordName | Strategy::TopicRecordName => {
                let name = record_name(&parsed).ok_or_else(|| {
                    violation(
                        "",
                        Some(id),
                        "/",
                        format!("schema {id} has no record name for the subject"),
                    )
                })?;
                if self.strategy == Strategy::RecordName {
                    name
                } else {
                    format!("{}-{name}", self.topic)
                }
            }
        };
        if !self.registry.subject_has(&subject, id) {
            return Err(violation(
                &subject,
                Some(id),
                "/",
                format!("schema id {id} is not registered under subject '{subject}'"),
            ));
        }
        let rules = self
            .registry
            .rules_by_id(id)
            .map_err(|e| violation(&subject, Some(id), "/", e.to_string()))?;
        Ok((subject, parsed, rules))
    }
}

fn apply_rules(rules: &Rules, json: &Value, subject: &str, id: SchemaId) -> Result<(), Violation> {
    match rules.check(json) {
        None => Ok(()),
        Some(Refusal {
            rule,
            message,
            on_failure,
        }) => {
            let dead_letter = match on_failure {
                OnFailure::DeadLetter(topic) => Some(topic),
                OnFailure::Error | OnFailure::None => None,
            };
            Err(Violation {
                subject: subject.to_owned(),
                schema_id: Some(id),
                path: "/".into(),
                message,
                rule: Some(Box::new((rule, dead_letter))),
            })
        }
    }
}

#[cfg(test)]
mod arena_tests {
    use super::*;

    #[test]
    fn carved_records_keep_their_bytes_and_chunks_grow_from_small() {
        let mut arena = Arena::default();
        let first = arena.carve(b"one");
        assert_eq!(
            arena.chunk, ARENA_FIRST_CHUNK,
            "a small request takes a small chunk"
        );
        let records: Vec<Bytes> = (0..20_000u32)
            .map(|i| arena.carve(format!("record-{i}").as_bytes()))
            .collect();
        assert_eq!(
            arena.chunk, ARENA_CHUNK,
            "a big batch grows to the largest chunk"
        );
        assert_eq!(&first[..], b"one");
        for (i, record) in records.iter().enumerate() {
            assert_eq!(record[..], *format!("record-{i}").as_bytes());
        }
        let big = vec![7u8; ARENA_CHUNK * 2];
        assert_eq!(
            arena.carve(&big)[..],
            big[..],
            "a record bigger than a chunk fits"
        );
    }
}
