//! Routes each record to one of the transform's outputs by a top-level field of its JSON value.
//!
//! Config: `field` (the JSON field) and `routes` (`value=index` pairs, comma-separated, e.g.
//! `eu=0,us=1`). A record whose field value has a route goes to that output index; all others
//! (no match, missing field, non-JSON value) go to the default output.

wit_bindgen::generate!({ path: "../../wit", world: "transform" });

use std::cell::RefCell;
use std::collections::HashMap;

use exports::tidegate::plugin::{config, transformer};
use tidegate::plugin::types::{BatchContext, InputRecord, OutputRecord, TransformError};

struct Route;

#[derive(Default)]
struct Settings {
    field: String,
    routes: HashMap<String, u32>,
}

thread_local! {
    static SETTINGS: RefCell<Settings> = RefCell::new(Settings::default());
}

fn parse_routes(spec: &str) -> Result<HashMap<String, u32>, String> {
    let mut routes = HashMap::new();
    for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (value, index) = pair
            .split_once('=')
            .ok_or_else(|| format!("route `{pair}` is not `value=index`"))?;
        let index = index
            .trim()
            .parse()
            .map_err(|_| format!("route `{pair}`: `{index}` is not an output index"))?;
        routes.insert(value.trim().to_owned(), index);
    }
    if routes.is_empty() {
        return Err("config `routes` must contain at least one `value=index` pair".into());
    }
    Ok(routes)
}

fn destination(value: Option<&[u8]>, s: &Settings) -> Option<u32> {
    let Some(Ok(serde_json::Value::Object(obj))) = value.map(serde_json::from_slice) else {
        return None;
    };
    let key = match obj.get(&s.field)? {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    s.routes.get(&key).copied()
}

impl config::Guest for Route {
    fn init(config: Vec<(String, String)>) -> Result<(), String> {
        let get = |key: &str| {
            config
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
                .ok_or_else(|| format!("missing required config `{key}`"))
        };
        let settings = Settings {
            field: get("field")?.to_owned(),
            routes: parse_routes(get("routes")?)?,
        };
        SETTINGS.set(settings);
        Ok(())
    }
}

impl transformer::Guest for Route {
    fn transform(
        _ctx: BatchContext,
        batch: Vec<InputRecord>,
    ) -> Result<Vec<OutputRecord>, TransformError> {
        SETTINGS.with_borrow(|s| {
            Ok(batch
                .into_iter()
                .map(|r| {
                    let output = destination(r.message.value.as_deref(), s);
                    OutputRecord {
                        message: r.message,
                        output,
                    }
                })
                .collect())
        })
    }
}

export!(Route);
