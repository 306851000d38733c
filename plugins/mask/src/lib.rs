//! Redacts top-level fields of JSON object values: every field named in config `fields`
//! (comma-separated) that is present is replaced by the string `"***"`. Values that are not
//! JSON objects pass through unchanged.

wit_bindgen::generate!({ path: "../../wit", world: "transform" });

use std::cell::RefCell;

use exports::tidegate::plugin::{config, transformer};
use tidegate::plugin::types::{BatchContext, InputRecord, Message, OutputRecord, TransformError};

struct Mask;

thread_local! {
    static FIELDS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

const REDACTED: &str = "***";

fn mask(mut message: Message, fields: &[String]) -> Message {
    let Some(Ok(serde_json::Value::Object(mut obj))) =
        message.value.as_deref().map(serde_json::from_slice)
    else {
        return message;
    };
    let mut changed = false;
    for field in fields {
        if let Some(v) = obj.get_mut(field) {
            *v = serde_json::Value::String(REDACTED.to_owned());
            changed = true;
        }
    }
    if changed {
        message.value = serde_json::to_vec(&obj).ok();
    }
    message
}

impl config::Guest for Mask {
    fn init(config: Vec<(String, String)>) -> Result<(), String> {
        let fields = config
            .iter()
            .find(|(k, _)| k == "fields")
            .ok_or("missing required config `fields`")?;
        let fields: Vec<String> = fields
            .1
            .split(',')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(str::to_owned)
            .collect();
        if fields.is_empty() {
            return Err("config `fields` must name at least one field".into());
        }
        FIELDS.set(fields);
        Ok(())
    }
}

impl transformer::Guest for Mask {
    fn transform(
        _ctx: BatchContext,
        batch: Vec<InputRecord>,
    ) -> Result<Vec<OutputRecord>, TransformError> {
        FIELDS.with_borrow(|fields| {
            Ok(batch
                .into_iter()
                .map(|r| OutputRecord {
                    message: mask(r.message, fields),
                    output: None,
                })
                .collect())
        })
    }
}

export!(Mask);
