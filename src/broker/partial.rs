//! Partial produce (`?partial=true`): records that pass their topic's schema checks are
//! appended, refused ones are reported one by one and, when a rule or the topic names a
//! dead-letter topic, kept there with the reason in headers. The all-or-nothing path stays
//! in `produce`; this one never refuses a request for one record's content.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::storage::Storage;
use super::topic_schemas::{dead_letter_topic, with_rule_headers};
use super::{Broker, Prechecked, ProduceRecord, ProducedOffset, Result};
use crate::event::{Header, Record, TopicName};

/// One record's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordStatus {
    /// Appended where it was meant to go.
    Appended(ProducedOffset),
    /// Refused by its topic's schema or a data-contract rule.
    Refused {
        /// Why, as the all-or-nothing refusal would say it.
        message: String,
        /// Where it was kept instead: topic, partition and offset.
        dead_letter: Option<(String, ProducedOffset)>,
    },
}

impl Broker {
    /// Appends the records of `records` that pass their topic's checks and reports the rest
    /// per record (see the module doc).
    ///
    /// # Errors
    /// What `produce` refuses for the request as a whole (unknown or internal topic, empty,
    /// too many records, a record too large or naming a missing partition), storage failures.
    /// Values `prechecked` says passed ([`super::ValueCheck`]) are not checked again.
    pub async fn produce_partial(
        &self,
        topic: &str,
        mut records: Vec<ProduceRecord>,
        prechecked: &Prechecked,
    ) -> Result<Vec<RecordStatus>> {
        let name = self.check_request(topic, records.len())?;
        self.inner.storage.topic(&name)?;
        let refused = self.check_each(&name, &mut records, prechecked);
        let topic_dlq = self
            .topic_schema(name.as_str())
            .map(|s| s.dead_letter_topic)
            .filter(|t| !t.is_empty());
        let mut statuses: Vec<Option<RecordStatus>> = vec![None; records.len()];
        let mut kept = Vec::new();
        let mut kept_indexes = Vec::new();
        let mut refused = refused.into_iter().peekable();
        for (index, produced) in records.into_iter().enumerate() {
            let Some(r) = refused.next_if(|r| r.index == index) else {
                kept_indexes.push(index);
                kept.push(produced);
                continue;
            };
            let message = r.into_message();
            let (violation, message) = message;
            let target = dead_letter_topic(&violation)
                .map(str::to_owned)
                .map(|t| (t, with_rule_headers(&produced.record, &violation, &name)))
                .or_else(|| {
                    topic_dlq.clone().map(|t| {
                        (
                            t,
                            with_reason_headers(
                                &produced.record,
                                &message,
                                &violation,
                                &name,
                                index,
                            ),
                        )
                    })
                });
            let dead_letter = match target {
                None => None,
                Some((dlq, record)) => {
                    let dlq_name = TopicName::new(&dlq)?;
                    self.ensure_topic(&dlq_name, 1).await?;
                    let at = self
                        .produce(
                            &dlq,
                            vec![ProduceRecord {
                                record,
                                partition: None,
                            }],
                            None,
                        )
                        .await?;
                    at.into_iter().next().map(|at| (dlq, at))
                }
            };
            statuses[index] = Some(RecordStatus::Refused {
                message,
                dead_letter,
            });
        }
        if !kept.is_empty() {
            // Already checked (and Avro already encoded) above: append without checking again.
            let plan = self.plan(&name, kept, None).await?;
            let bases = self.append_groups(&name, &plan, &BTreeMap::new()).await?;
            let offsets = plan.offsets(&bases);
            for (index, at) in kept_indexes.into_iter().zip(offsets) {
                statuses[index] = Some(RecordStatus::Appended(at));
            }
        }
        Ok(statuses.into_iter().flatten().collect())
    }
}

impl super::topic_schemas::Refused {
    /// The violation and the message the all-or-nothing refusal would carry.
    fn into_message(self) -> (crate::schema::Violation, String) {
        let violation = self.violation.clone();
        (violation, self.into_error().to_string())
    }
}

/// The record with `tidegate.error.*` headers saying why its topic refused it.
fn with_reason_headers(
    record: &Record,
    message: &str,
    violation: &crate::schema::Violation,
    topic: &TopicName,
    index: usize,
) -> Record {
    let mut record = record.clone();
    let id = violation
        .schema_id
        .map(|id| id.to_string())
        .unwrap_or_default();
    let mut headers = BTreeMap::new();
    headers.insert("tidegate.error.reason", message.to_owned());
    headers.insert("tidegate.error.topic", topic.to_string());
    headers.insert("tidegate.error.subject", violation.subject.clone());
    headers.insert("tidegate.error.schema.id", id);
    headers.insert("tidegate.error.path", violation.path.clone());
    headers.insert("tidegate.error.index", index.to_string());
    for (name, value) in headers {
        record.headers.push(Header {
            name: name.to_owned(),
            value: Bytes::from(value),
        });
    }
    record
}
