//! `file-sink`: appends every record as one JSON line to a file in the connector's granted
//! directory (world `sink-connector`).
//!
//! # Config
//!
//! * `file` (default `out.jsonl`): a relative path (no leading `/`, no `.` or `..` parts) under
//!   the granted directory. Missing parent directories are created.
//!
//! The plugin sees the directory the connector's `tidegate.dir` grants at `/data`, and nothing
//! else of the host's filesystem. Without a grant, `open` fails with "no directory granted: set
//! tidegate.dir in the connector config".
//!
//! # Behaviour
//!
//! `open` opens the file for appending (creating it). `put` appends one line per record,
//! `{"topic", "partition", "offset", "timestamp", "key", "value", "headers": [{"name",
//! "value"}]}` (see `tidegate_connect::write_record_json`), all lines of a batch in one write; if the
//! write fails, the file is cut back to its previous length so no half line stays, and the
//! error is `retryable`. `flush` calls `sync_data`, so the host commits offsets only for
//! records on disk. Delivery is at-least-once: after a crash, the last uncommitted batches may
//! be appended again (the `topic`/`partition`/`offset` fields identify duplicates).

wit_bindgen::generate!({ path: "../../wit", world: "sink-connector" });

use std::cell::RefCell;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

use exports::tidegate::plugin::{sink, validate};
use tidegate::plugin::connector_types::ConnectorError;
use tidegate::plugin::types::{BatchContext, Encoding, InputRecord};
use tidegate_connect::{RecordView, config_get, write_record_json};

struct FileSink;

/// The open file and its path (for messages).
struct Output {
    file: File,
    path: String,
}

thread_local! {
    static OUTPUT: RefCell<Option<Output>> = const { RefCell::new(None) };
}

/// Where the granted directory appears inside the sandbox.
const ROOT: &str = "/data";

/// The configured file name, checked to stay inside the granted directory.
fn file_name(config: &[(String, String)]) -> Result<&str, String> {
    let name = config_get(config, "file").unwrap_or("out.jsonl");
    let inside = !name.starts_with('/')
        && !name.contains('\\')
        && !name.contains('\0')
        && name
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..");
    if inside {
        Ok(name)
    } else {
        Err(format!(
            "'{name}': must be a relative path inside the granted directory (no leading '/', \
             no '.' or '..' parts)"
        ))
    }
}

impl validate::Guest for FileSink {
    fn validate(config: Vec<(String, String)>) -> Vec<validate::FieldError> {
        match file_name(&config) {
            Ok(_) => Vec::new(),
            Err(message) => vec![validate::FieldError {
                field: "file".into(),
                message,
            }],
        }
    }
}

/// The record in `tidegate_connect`'s terms.
fn view(r: &InputRecord) -> RecordView<'_> {
    tidegate_connect::record_view!(r)
}

impl Output {
    /// Appends `bytes` whole or not at all (as far as the filesystem lets us).
    fn append(&mut self, bytes: &[u8]) -> Result<(), ConnectorError> {
        let before = self.file.metadata().map(|m| m.len()).ok();
        if let Err(e) = self.file.write_all(bytes) {
            let cut = match before {
                Some(len) => self.file.set_len(len).map_or_else(
                    |e| format!(" (and cutting it back failed: {e})"),
                    |()| String::new(),
                ),
                None => String::new(),
            };
            return Err(ConnectorError::Retryable(format!(
                "writing {}: {e}{cut}",
                self.path
            )));
        }
        Ok(())
    }
}

impl sink::Guest for FileSink {
    fn open(config: Vec<(String, String)>) -> Result<(), String> {
        let name = file_name(&config)?;
        if std::fs::metadata(ROOT).is_err() {
            return Err("no directory granted: set tidegate.dir in the connector config".into());
        }
        let path = format!("{ROOT}/{name}");
        if let Some(parent) = Path::new(&path).parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| format!("cannot open {path}: {e}"))?;
        OUTPUT.set(Some(Output { file, path }));
        Ok(())
    }

    fn put(ctx: BatchContext, batch: Vec<InputRecord>) -> Result<(), ConnectorError> {
        let mut lines = Vec::new();
        for r in &batch {
            write_record_json(&mut lines, &ctx.topic, ctx.partition, &view(r));
            lines.push(b'\n');
        }
        if lines.is_empty() {
            return Ok(());
        }
        OUTPUT.with_borrow_mut(|output| match output {
            Some(out) => out.append(&lines),
            None => Err(ConnectorError::Fatal("put before open".into())),
        })
    }

    fn flush() -> Result<(), ConnectorError> {
        OUTPUT.with_borrow_mut(|output| match output {
            Some(out) => out
                .file
                .sync_data()
                .map_err(|e| ConnectorError::Retryable(format!("syncing {}: {e}", out.path))),
            None => Ok(()),
        })
    }

    fn close() {
        OUTPUT.set(None);
    }
}

export!(FileSink);
