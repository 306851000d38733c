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
    passed: Passed,
}

/// Which values of a request passed their topic's check while it was decoded.
#[derive(Debug, Default)]
pub struct Prechecked {
    topic: String,
    id: Option<SchemaId>,
    passed: Passed,
}

/// The indexes of the records whose values passed, one bit each.
#[derive(Debug, Default)]
pub(super) struct Passed(Vec<u64>);

impl Passed {
    fn insert(&mut self, index: usize) {
        let word = index / 64;
        if self.0.len() <= word {
            self.0.resize(word + 1, 0);
        }
        if let Some(bits) = self.0.get_mut(word) {
            *bits |= 1 << (index % 64);
        }
    }

    /// Whether record `index`'s value passed.
    pub(super) fn contains(&self, index: usize) -> bool {
        self.0
            .get(index / 64)
            .is_some_and(|bits| bits & (1 << (index % 64)) != 0)
    }
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
        // No schema yet: nothing to run here; produce refuses such records with the reason.
        validator.latest_id()?;
        Some(ValueCheck {
            validator,
            topic: topic.to_owned(),
            passed: Passed::default(),
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
        self.passed.insert(index);
        Some(checked.replacement)
    }

    /// The outcome, for produce.
    #[must_use]
    pub fn finish(self) -> Prechecked {
        Prechecked {
            topic: self.topic,
            id: self.validator.latest_id(),
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

    /// The values that passed the check produce would run now on `topic`, whose subject's
    /// latest schema is `latest`: none unless the check was of that topic against that schema.
    pub(super) fn trusted(&self, topic: &str, latest: Option<SchemaId>) -> Option<&Passed> {
        (self.id.is_some() && self.id == latest && self.topic == topic).then_some(&self.passed)
    }
}
