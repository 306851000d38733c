//! Conversions between `crate::event` records and the WIT types of the typed world, and the
//! output checks both worlds share.
//!
//! Pure functions, no wasmtime calls. Must not allocate more than the data it converts.

use bytes::Bytes;

use super::bindings::tidegate::plugin::types as wit;
use super::{BatchContext, Limits, OutputRecord};
use crate::event::{ATTR_KEY_JSON, ATTR_VALUE_JSON, Header, Record, StoredRecord};

pub(crate) fn context(ctx: &BatchContext) -> wit::BatchContext {
    wit::BatchContext {
        topic: ctx.topic.clone(),
        partition: ctx.partition,
    }
}

pub(crate) fn encoding(attributes: u8) -> wit::Encoding {
    let mut e = wit::Encoding::empty();
    if attributes & ATTR_KEY_JSON != 0 {
        e |= wit::Encoding::KEY_JSON;
    }
    if attributes & ATTR_VALUE_JSON != 0 {
        e |= wit::Encoding::VALUE_JSON;
    }
    e
}

pub(crate) fn attributes(encoding: wit::Encoding) -> u8 {
    let mut a = 0;
    if encoding.contains(wit::Encoding::KEY_JSON) {
        a |= ATTR_KEY_JSON;
    }
    if encoding.contains(wit::Encoding::VALUE_JSON) {
        a |= ATTR_VALUE_JSON;
    }
    a
}

fn message(r: &Record) -> wit::Message {
    wit::Message {
        key: r.key.as_ref().map(|k| k.to_vec()),
        value: r.value.as_ref().map(|v| v.to_vec()),
        headers: r
            .headers
            .iter()
            .map(|h| wit::Header {
                name: h.name.clone(),
                value: h.value.to_vec(),
            })
            .collect(),
        timestamp: r.timestamp,
        encoding: encoding(r.attributes),
    }
}

/// The batch as typed WIT input records (copies the payloads once).
pub(crate) fn input(batch: &[StoredRecord]) -> Vec<wit::InputRecord> {
    batch
        .iter()
        .map(|s| wit::InputRecord {
            offset: s.offset,
            message: message(&s.record),
        })
        .collect()
}

pub(crate) fn record(m: wit::Message) -> Record {
    Record {
        key: m.key.map(Bytes::from),
        value: m.value.map(Bytes::from),
        headers: m
            .headers
            .into_iter()
            .map(|h| Header {
                name: h.name,
                value: Bytes::from(h.value),
            })
            .collect(),
        timestamp: m.timestamp,
        attributes: attributes(m.encoding),
    }
}

/// Checks the typed output and converts it (no payload copies: `Vec<u8>` becomes `Bytes`).
pub(crate) fn output(
    out: Vec<wit::OutputRecord>,
    limits: &Limits,
    outputs: Option<u32>,
) -> Result<Vec<OutputRecord>, String> {
    let mut check = OutputCheck::new(limits, outputs);
    check.count(out.len())?;
    out.into_iter()
        .map(|o| {
            let r = OutputRecord {
                record: record(o.message),
                output: o.output,
            };
            check.record(&r)?;
            Ok(r)
        })
        .collect()
}

/// Enforces `max_output_records`, `max_output_bytes` and the declared output count.
pub(crate) struct OutputCheck {
    max_records: usize,
    max_bytes: usize,
    outputs: Option<u32>,
    bytes: usize,
}

impl OutputCheck {
    pub(crate) fn new(limits: &Limits, outputs: Option<u32>) -> Self {
        Self {
            max_records: limits.max_output_records,
            max_bytes: limits.max_output_bytes,
            outputs,
            bytes: 0,
        }
    }

    /// Checks the announced record count before anything is converted.
    pub(crate) fn count(&self, n: usize) -> Result<(), String> {
        if n > self.max_records {
            return Err(format!("{n} records, the limit is {}", self.max_records));
        }
        Ok(())
    }

    pub(crate) fn record(&mut self, r: &OutputRecord) -> Result<(), String> {
        self.bytes = self.bytes.saturating_add(r.record.payload_len());
        if self.bytes > self.max_bytes {
            return Err(format!("more than {} payload bytes", self.max_bytes));
        }
        match (r.output, self.outputs) {
            (Some(i), Some(n)) if i >= n => Err(format!(
                "output index {i}, but the transform has {n} outputs"
            )),
            _ => Ok(()),
        }
    }
}
