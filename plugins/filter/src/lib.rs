//! Keeps the records whose JSON value has a top-level field `config.field` equal to
//! `config.equals`; drops all others (including tombstones and non-JSON values).
//!
//! A string field is compared with its content (`equals=eu` matches `"eu"`); any other JSON
//! value with its compact JSON text (`equals=true`, `equals=42`).

wit_bindgen::generate!({ path: "../../wit", world: "transform" });

use std::cell::RefCell;

use exports::tidegate::plugin::{config, transformer};
use tidegate::plugin::types::{BatchContext, InputRecord, OutputRecord, TransformError};

struct Filter;

struct Settings {
    field: String,
    equals: String,
}

thread_local! {
    static SETTINGS: RefCell<Option<Settings>> = const { RefCell::new(None) };
}

fn setting(config: &[(String, String)], key: &str) -> Result<String, String> {
    config
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .ok_or_else(|| format!("missing required config `{key}`"))
}

fn matches(value: Option<&[u8]>, s: &Settings) -> bool {
    let Some(Ok(serde_json::Value::Object(obj))) = value.map(serde_json::from_slice) else {
        return false;
    };
    match obj.get(&s.field) {
        Some(serde_json::Value::String(text)) => *text == s.equals,
        Some(other) => serde_json::to_string(other).is_ok_and(|text| text == s.equals),
        None => false,
    }
}

impl config::Guest for Filter {
    fn init(config: Vec<(String, String)>) -> Result<(), String> {
        let settings = Settings {
            field: setting(&config, "field")?,
            equals: setting(&config, "equals")?,
        };
        if settings.field.is_empty() {
            return Err("config `field` must not be empty".into());
        }
        SETTINGS.set(Some(settings));
        Ok(())
    }
}

impl transformer::Guest for Filter {
    fn transform(
        _ctx: BatchContext,
        batch: Vec<InputRecord>,
    ) -> Result<Vec<OutputRecord>, TransformError> {
        SETTINGS.with_borrow(|settings| {
            let s = settings
                .as_ref()
                .ok_or(TransformError::Fatal("init was not called".into()))?;
            Ok(batch
                .into_iter()
                .filter(|r| matches(r.message.value.as_deref(), s))
                .map(|r| OutputRecord {
                    message: r.message,
                    output: None,
                })
                .collect())
        })
    }
}

export!(Filter);
