//! Identity transform on the `transform-raw` world: decodes the packed batch with
//! `tidegate-raw` (zero-copy) and re-encodes every record for the default output.

wit_bindgen::generate!({ path: "../../wit", world: "transform-raw" });

use exports::tidegate::plugin::{config, transformer_raw};
use tidegate::plugin::types::{BatchContext, TransformError};

struct IdentityRaw;

impl config::Guest for IdentityRaw {
    fn init(_config: Vec<(String, String)>) -> Result<(), String> {
        Ok(())
    }
}

impl transformer_raw::Guest for IdentityRaw {
    fn transform(_ctx: BatchContext, batch: Vec<u8>) -> Result<Vec<u8>, TransformError> {
        let input = tidegate_raw::InputBatch::parse(&batch)
            .map_err(|e| TransformError::Fatal(e.to_string()))?;
        let mut out = tidegate_raw::OutputWriter::with_capacity(input.len(), batch.len());
        for record in input {
            let record = record.map_err(|e| TransformError::Fatal(e.to_string()))?;
            out.push(None, &record.message);
        }
        Ok(out.finish())
    }
}

export!(IdentityRaw);
