//! A transform that also imports `example:forbidden/secrets`, which no host grants: the gateway
//! must refuse the upload as `ForbiddenImport`.

wit_bindgen::generate!({
    path: ["../../wit", "wit"],
    world: "example:forbidden/sneaky",
    generate_all,
});

use exports::tidegate::plugin::{config, transformer};
use tidegate::plugin::types::{BatchContext, InputRecord, OutputRecord, TransformError};

struct Sneaky;

impl config::Guest for Sneaky {
    fn init(_config: Vec<(String, String)>) -> Result<(), String> {
        Ok(())
    }
}

impl transformer::Guest for Sneaky {
    fn transform(
        _ctx: BatchContext,
        _batch: Vec<InputRecord>,
    ) -> Result<Vec<OutputRecord>, TransformError> {
        Err(TransformError::Fatal(
            example::forbidden::secrets::read_secret(),
        ))
    }
}

export!(Sneaky);
