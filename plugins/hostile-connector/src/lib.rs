//! `hostile-connector`: a sink that misbehaves on request, for the gateway's containment tests
//! (world `sink-connector`). Not for production use.
//!
//! # Config
//!
//! * `fail.open` = `true`: `open` fails with "refusing to open: fail.open is set";
//! * `reject` (any value): `validate` refuses the config with a field error on `reject`
//!   ("rejected on request").
//!
//! # Behaviour
//!
//! `put` looks at each record's value in batch order: a JSON string value (`"loop"`, as the
//! produce API stores `{"value": "loop"}`) counts as its text, anything else as (lossy) UTF-8:
//!
//! * `loop`: spins forever (the host's call budget must stop it);
//! * `grow`: allocates 1 MiB blocks without bound (the memory limit must stop it);
//! * `panic`: panics with "hostile panic" (a trap);
//! * `http:<url>`: sends `GET <url>` and fails the batch as `fatal` with `probe http: ok
//!   <status>` or `probe http: error <why>` (a URL outside `tidegate.http.allow` gives
//!   `HttpRequestDenied`);
//! * `read:<path>`: `std::fs::read_to_string(path)`, then `fatal` with `probe read: ok <n>
//!   bytes` or `probe read: error <why>`;
//! * `write:<path>`: `std::fs::write(path, "x")`, then `fatal` with `probe write: ok` or
//!   `probe write: error <why>`;
//! * anything else (and tombstones): accepted.
//!
//! The first probe ends the batch, so with `errors.tolerance=all` and one record per batch each
//! probe's outcome lands in the dead-letter topic's `__connect.errors.exception.message`
//! header. `flush` always succeeds, `close` does nothing.

wit_bindgen::generate!({ path: "../../wit", world: "sink-connector" });

use exports::tidegate::plugin::{sink, validate};
use tidegate::plugin::connector_types::ConnectorError;
use tidegate::plugin::types::{BatchContext, InputRecord};
use tidegate_connect::{config_get, http};

struct Hostile;

impl validate::Guest for Hostile {
    fn validate(config: Vec<(String, String)>) -> Vec<validate::FieldError> {
        if config.iter().any(|(k, _)| k == "reject") {
            vec![validate::FieldError {
                field: "reject".into(),
                message: "rejected on request".into(),
            }]
        } else {
            Vec::new()
        }
    }
}

fn probe(value: &str) -> Option<String> {
    if let Some(url) = value.strip_prefix("http:") {
        return Some(match http::request("GET", url, &[], None) {
            Ok(r) => format!("probe http: ok {}", r.status),
            Err(e) => format!("probe http: error {e}"),
        });
    }
    if let Some(path) = value.strip_prefix("read:") {
        return Some(match std::fs::read_to_string(path) {
            Ok(text) => format!("probe read: ok {} bytes", text.len()),
            Err(e) => format!("probe read: error {e}"),
        });
    }
    if let Some(path) = value.strip_prefix("write:") {
        return Some(match std::fs::write(path, b"x") {
            Ok(()) => "probe write: ok".to_owned(),
            Err(e) => format!("probe write: error {e}"),
        });
    }
    None
}

#[allow(clippy::infinite_loop, reason = "hostile on purpose")]
fn spin() -> ! {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

thread_local! {
    /// Where `grow` keeps what it allocates (never freed).
    static HOARD: std::cell::RefCell<Vec<Vec<u8>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Allocates (and touches) 1 MiB blocks until the host's memory limit stops the instance.
#[allow(clippy::infinite_loop, reason = "hostile on purpose")]
fn grow() -> ! {
    loop {
        HOARD.with_borrow_mut(|hoard| hoard.push(std::hint::black_box(vec![1; 1 << 20])));
    }
}

impl sink::Guest for Hostile {
    fn open(config: Vec<(String, String)>) -> Result<(), String> {
        if config_get(&config, "fail.open") == Some("true") {
            return Err("refusing to open: fail.open is set".into());
        }
        Ok(())
    }

    fn put(_ctx: BatchContext, batch: Vec<InputRecord>) -> Result<(), ConnectorError> {
        for record in &batch {
            let bytes = record.message.value.as_deref().unwrap_or_default();
            // A JSON string value (`"loop"`) counts as its text.
            let value = match serde_json::from_slice::<serde_json::Value>(bytes) {
                Ok(serde_json::Value::String(text)) => text,
                _ => String::from_utf8_lossy(bytes).into_owned(),
            };
            match value.as_str() {
                "loop" => spin(),
                "grow" => grow(),
                "panic" => panic!("hostile panic"),
                other => {
                    if let Some(outcome) = probe(other) {
                        return Err(ConnectorError::Fatal(outcome));
                    }
                }
            }
        }
        Ok(())
    }

    fn flush() -> Result<(), ConnectorError> {
        Ok(())
    }

    fn close() {}
}

export!(Hostile);
