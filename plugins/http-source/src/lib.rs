//! `http-source`: polls a URL that answers with a JSON array of objects and emits every new one
//! as a record (world `source-connector`).
//!
//! # Config
//!
//! * `url` (required): the `http://` or `https://` URL to poll; the connector's
//!   `tidegate.http.allow` must cover it.
//! * `poll.interval.ms` (default 1000): at most one request per interval (measured on the
//!   host's monotonic clock); polls in between return nothing.
//! * `id.field` (default `id`): the field of each object holding its id, a non-negative integer
//!   that grows with every new item. It is the source's cursor.
//! * `key.field` (optional): the field whose value (as JSON) becomes the record key.
//!
//! # Behaviour
//!
//! Each request is `GET <url>?after=<last id>` (`&after=` when the URL has a query already;
//! without `after` until the first item was emitted), with `accept: application/json`. The
//! answer must be a JSON array. Objects whose `id.field` is an integer greater than the last
//! emitted id are emitted in id order (the server may ignore `after`; items without a usable id
//! are skipped), at most `max-records` per `poll`; the rest wait for the next polls, which do
//! not request again until they are drained.
//!
//! Each record: value = the object as compact JSON (`value-json`); key = the `key.field` value
//! as JSON (`key-json`), no key if not configured or the object lacks the field; timestamp = the
//! wall clock at the poll; no headers. Position: source partition `{"url":"<url>"}`, offset
//! `{"id":<id>}`. `open` resumes after the committed offset of its `url`, so after a restart
//! (or a crash: the host writes records and offsets together) no item is emitted twice.
//!
//! Errors: a non-2xx answer or a transport error is `retryable` (the host backs off and polls
//! again); an answer that is not a JSON array is `fatal`.

wit_bindgen::generate!({ path: "../../wit", world: "source-connector" });

use std::cell::RefCell;
use std::collections::VecDeque;

use exports::tidegate::plugin::{source, validate};
use serde_json::{Value, json};
use tidegate::plugin::connector_types::{ConnectorError, SourceOffset};
use tidegate::plugin::types::{Encoding, Message};
use tidegate_connect::{config_get, http, monotonic_ms, now_ms};

struct HttpSource;

/// What `open` parsed from the config.
struct Settings {
    url: String,
    interval_ms: u64,
    id_field: String,
    key_field: Option<String>,
}

struct State {
    settings: Settings,
    /// The source partition, `{"url":"<url>"}`.
    partition: String,
    /// The last emitted (or committed) id.
    cursor: Option<u64>,
    /// When the last request was sent (monotonic ms).
    last_request_ms: Option<u64>,
    /// Items fetched but not emitted yet, in id order, all above `cursor`.
    pending: VecDeque<(u64, Value)>,
}

thread_local! {
    static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
}

const DEFAULT_INTERVAL_MS: u64 = 1000;

/// Reads the config, collecting a field error for everything wrong with it.
fn parse(config: &[(String, String)]) -> Result<Settings, Vec<validate::FieldError>> {
    let mut errors = Vec::new();
    let mut refuse = |field: &str, message: String| {
        errors.push(validate::FieldError {
            field: field.to_owned(),
            message,
        });
    };
    let url = match config_get(config, "url") {
        None => {
            refuse(
                "url",
                "required: the http:// or https:// URL to poll".into(),
            );
            String::new()
        }
        Some(url) => {
            if let Err(e) = http::check_url(url) {
                refuse("url", e);
            }
            url.to_owned()
        }
    };
    let interval_ms = match config_get(config, "poll.interval.ms").map(str::parse::<u64>) {
        None => DEFAULT_INTERVAL_MS,
        Some(Ok(ms)) => ms,
        Some(Err(_)) => {
            refuse(
                "poll.interval.ms",
                "must be a whole number of milliseconds".into(),
            );
            DEFAULT_INTERVAL_MS
        }
    };
    let settings = Settings {
        url,
        interval_ms,
        id_field: config_get(config, "id.field").unwrap_or("id").to_owned(),
        key_field: config_get(config, "key.field").map(str::to_owned),
    };
    if errors.is_empty() {
        Ok(settings)
    } else {
        Err(errors)
    }
}

impl validate::Guest for HttpSource {
    fn validate(config: Vec<(String, String)>) -> Vec<validate::FieldError> {
        parse(&config).err().unwrap_or_default()
    }
}

fn partition(url: &str) -> String {
    json!({"url": url}).to_string()
}

impl State {
    /// `url` with `after=<cursor>` appended once there is a cursor.
    fn request_url(&self) -> String {
        let url = &self.settings.url;
        match self.cursor {
            None => url.clone(),
            Some(c) if url.contains('?') => format!("{url}&after={c}"),
            Some(c) => format!("{url}?after={c}"),
        }
    }

    /// Requests the items and queues those above the cursor, in id order.
    fn fetch(&mut self) -> Result<(), ConnectorError> {
        let url = self.request_url();
        let response = http::request("GET", &url, &[("accept", "application/json")], None)
            .map_err(|e| ConnectorError::Retryable(format!("GET {url}: {e}")))?;
        if !response.is_success() {
            return Err(ConnectorError::Retryable(format!(
                "GET {url} answered {}: {}",
                response.status,
                response.body_excerpt(200)
            )));
        }
        let items = match serde_json::from_slice::<Value>(&response.body) {
            Ok(Value::Array(items)) => items,
            Ok(_) => {
                return Err(ConnectorError::Fatal(format!(
                    "GET {url} answered something other than a JSON array: {}",
                    response.body_excerpt(200)
                )));
            }
            Err(e) => {
                return Err(ConnectorError::Fatal(format!("GET {url}: not JSON: {e}")));
            }
        };
        let field = self.settings.id_field.as_str();
        let mut fresh: Vec<(u64, Value)> = items
            .into_iter()
            .filter_map(|item| item.get(field).and_then(Value::as_u64).map(|id| (id, item)))
            .filter(|(id, _)| self.cursor.is_none_or(|c| *id > c))
            .collect();
        fresh.sort_by_key(|(id, _)| *id);
        fresh.dedup_by_key(|(id, _)| *id);
        self.pending = fresh.into();
        Ok(())
    }

    /// Turns queued item `id` into a record.
    fn record(&self, id: u64, item: &Value, timestamp: i64) -> source::SourceRecord {
        let key = self
            .settings
            .key_field
            .as_deref()
            .and_then(|f| item.get(f))
            .map(|k| k.to_string().into_bytes());
        let mut encoding = Encoding::VALUE_JSON;
        if key.is_some() {
            encoding |= Encoding::KEY_JSON;
        }
        source::SourceRecord {
            message: Message {
                key,
                value: Some(item.to_string().into_bytes()),
                headers: Vec::new(),
                timestamp,
                encoding,
            },
            position: SourceOffset {
                partition: self.partition.clone(),
                offset: json!({"id": id}).to_string(),
            },
        }
    }
}

impl source::Guest for HttpSource {
    fn open(config: Vec<(String, String)>, committed: Vec<SourceOffset>) -> Result<(), String> {
        let settings = parse(&config).map_err(|errors| {
            errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; ")
        })?;
        let partition = partition(&settings.url);
        let cursor = committed
            .iter()
            .filter(|o| o.partition == partition)
            .filter_map(|o| serde_json::from_str::<Value>(&o.offset).ok())
            .filter_map(|v| v.get("id").and_then(Value::as_u64))
            .next_back();
        STATE.set(Some(State {
            settings,
            partition,
            cursor,
            last_request_ms: None,
            pending: VecDeque::new(),
        }));
        Ok(())
    }

    fn poll(max_records: u32) -> Result<Vec<source::SourceRecord>, ConnectorError> {
        STATE.with_borrow_mut(|state| {
            let Some(st) = state else {
                return Err(ConnectorError::Fatal("poll before open".into()));
            };
            if st.pending.is_empty() {
                let now = monotonic_ms();
                let due = st
                    .last_request_ms
                    .is_none_or(|last| now.saturating_sub(last) >= st.settings.interval_ms);
                if !due {
                    return Ok(Vec::new());
                }
                st.last_request_ms = Some(now);
                st.fetch()?;
            }
            let take = st
                .pending
                .len()
                .min(usize::try_from(max_records).unwrap_or(usize::MAX));
            let timestamp = now_ms();
            let mut out = Vec::with_capacity(take);
            for _ in 0..take {
                let Some((id, item)) = st.pending.pop_front() else {
                    break;
                };
                out.push(st.record(id, &item, timestamp));
                st.cursor = Some(id);
            }
            Ok(out)
        })
    }

    fn commit(_offsets: Vec<SourceOffset>) {}

    fn close() {}
}

export!(HttpSource);
