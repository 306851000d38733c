//! `null-sink`: acknowledges every batch and does nothing else. The baseline of the connector
//! benchmark: what the host costs per record (read, convert, call, commit) without any plugin
//! work. No config.

wit_bindgen::generate!({ path: "../../wit", world: "sink-connector" });

use exports::tidegate::plugin::{sink, validate};
use tidegate::plugin::connector_types::ConnectorError;
use tidegate::plugin::types::{BatchContext, InputRecord};

struct NullSink;

impl validate::Guest for NullSink {
    fn validate(_config: Vec<(String, String)>) -> Vec<validate::FieldError> {
        Vec::new()
    }
}

impl sink::Guest for NullSink {
    fn open(_config: Vec<(String, String)>) -> Result<(), String> {
        Ok(())
    }

    fn put(_ctx: BatchContext, _batch: Vec<InputRecord>) -> Result<(), ConnectorError> {
        Ok(())
    }

    fn flush() -> Result<(), ConnectorError> {
        Ok(())
    }

    fn close() {}
}

export!(NullSink);
