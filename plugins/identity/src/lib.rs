//! Identity transform on the typed `transform` world: every input record goes to the default
//! output unchanged. The reference for the boundary cost of the typed world.

wit_bindgen::generate!({ path: "../../wit", world: "transform" });

use exports::tidegate::plugin::{config, transformer};
use tidegate::plugin::types::{BatchContext, InputRecord, OutputRecord, TransformError};

struct Identity;

impl config::Guest for Identity {
    fn init(_config: Vec<(String, String)>) -> Result<(), String> {
        Ok(())
    }
}

impl transformer::Guest for Identity {
    fn transform(
        _ctx: BatchContext,
        batch: Vec<InputRecord>,
    ) -> Result<Vec<OutputRecord>, TransformError> {
        Ok(batch
            .into_iter()
            .map(|r| OutputRecord {
                message: r.message,
                output: None,
            })
            .collect())
    }
}

export!(Identity);
