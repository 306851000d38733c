//! Checking values while a front end decodes them: a front end that reads a request body
//! itself asks for its topic's [`ValueCheck`], runs it on each JSON value where the value lies
//! in the body (so the value is read once, not skipped by the body's decoder and then read
//! again by the validator), and hands the [`Prechecked`] outcome to produce, which then skips
//! the values that passed.
//!
//! Owns only that hand-over. The rules of checking stay in `crate::schema`; what a failed or
//! undecided value means stays with produce, which checks it again in full.

use bytes::Bytes;

use super::Broker;
use super::topic_schemas::strategy_of;
use crate::event::SchemaId;
use crate::json_text::Reader;
use crate::schema::{Strategy, Validator};

/// A topic's value check, prepared for one request.
pub struct ValueCheck<'b> {
    validator: Validator<'b>,
    topic: String,
    id: SchemaId,
    passed: Vec<bool>,
}

/// Which values of a request passed their topic's check while it was decoded.
#[derive(Debug, Default)]
pub struct Prechecked {
    topic: String,
    id: Option<SchemaId>,
    passed: Vec<bool>,
}

impl Broker {
    /// The check `topic`'s values need, for a front end to run while it decodes them; `None`
    /// when its values are not checked, or not in a way a front end can run (another subject
    /// name strategy, no schema registered yet).
    #[must_use]
    pub fn value_check(&self, topic: &str) -> Option<ValueCheck<'_>> {
        let settings = self.topic_schema(topic)?;
        if !settings.value_validation
            || strategy_of(&settings.value_strategy) != Some(Strategy::TopicName)
        {
            return None;
        }
        let validator = self
            .inner
            .schemas
            .validator(topic, false, Strategy::TopicName);
        let id = validator.latest_id()?;
        Some(ValueCheck {
            validator,
            topic: topic.to_owned(),
            id,
            passed: Vec::new(),
        })
    }
}

impl ValueCheck<'_> {
    /// Checks the JSON value at `reader`'s position as the value of record `index`: `Some`
    /// when it passed, holding the bytes to store instead of its text when the schema stores
    /// something else (Avro's wire format); `None` when it did not pass or could not be judged
    /// here. The reader is then somewhere inside the value: the caller must decode the request
    /// again without this check, and produce judges and explains.
    pub fn read(&mut self, index: usize, reader: &mut Reader<'_>) -> Option<Option<Bytes>> {
        let checked = self.validator.check_in(reader)?;
        if self.passed.len() <= index {
            self.passed.resize(index + 1, false);
        }
        self.passed[index] = true;
        Some(checked.replacement)
    }

    /// The outcome, for produce.
    #[must_use]
    pub fn finish(self) -> Prechecked {
        Prechecked {
            topic: self.topic,
            id: Some(self.id),
            passed: self.passed,
        }
    }
}

impl Prechecked {
    /// Nothing checked: produce checks every record.
    #[must_use]
    pub fn none() -> Self {
        Self::default()
    }

    /// Whether record `index`'s value passed the check produce would run now: the same topic,
    /// and a subject whose latest schema is still `latest`.
    pub(super) fn passed(&self, topic: &str, latest: Option<SchemaId>, index: usize) -> bool {
        self.id.is_some()
            && self.id == latest
            && self.topic == topic
            && self.passed.get(index).copied().unwrap_or(false)
    }
}
