//! Hostile test plugin: spins forever when a record's value is `loop`.
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
    if triggered(batch, b"loop") {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
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
