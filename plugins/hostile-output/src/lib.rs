//! Hostile test plugin: for a record valued `records` returns 200 000 output records;
//! for `bytes`, 48 records of 1 MiB each.
//!
//! Any other batch is passed through unchanged, so tests can check that a fresh instance of
//! this plugin works after the host stopped it.

wit_bindgen::generate!({ path: "../../wit", world: "transform" });

use exports::tidegate::plugin::{config, transformer};
use tidegate::plugin::types::{BatchContext, InputRecord, OutputRecord, TransformError};

struct Hostile;

impl config::Guest for Hostile {
    fn init(_config: Vec<(String, String)>) -> Result<(), String> {
        Ok(())
    }
}

fn misbehave(batch: &[InputRecord]) -> Option<Vec<OutputRecord>> {
    let template = batch.first()?;
    let many = |n: usize, size: usize| {
        (0..n)
            .map(|_| {
                let mut message = template.message.clone();
                message.value = Some(vec![b'x'; size]);
                OutputRecord {
                    message,
                    output: None,
                }
            })
            .collect()
    };
    if triggered(batch, b"records") {
        return Some(many(200_000, 0));
    }
    if triggered(batch, b"bytes") {
        return Some(many(48, 1 << 20));
    }
    None
}

impl transformer::Guest for Hostile {
    fn transform(
        _ctx: BatchContext,
        batch: Vec<InputRecord>,
    ) -> Result<Vec<OutputRecord>, TransformError> {
        if let Some(out) = misbehave(&batch) {
            return Ok(out);
        }
        Ok(batch
            .into_iter()
            .map(|r| OutputRecord {
                message: r.message,
                output: None,
            })
            .collect())
    }
}

fn triggered(batch: &[InputRecord], trigger: &[u8]) -> bool {
    batch
        .iter()
        .any(|r| r.message.value.as_deref() == Some(trigger))
}

export!(Hostile);
