//! `http-sink`: delivers each batch as one JSON `POST` to a webhook (world `sink-connector`).
//!
//! # Config
//!
//! * `url` (required): the `http://` or `https://` URL to POST to. The connector's
//!   `tidegate.http.allow` must cover it, or every request fails with `HttpRequestDenied`.
//! * `headers` (optional): extra request headers, `Name: value` pairs separated by `;` or
//!   newlines, e.g. `Authorization: Bearer abc; X-Source: tidegate`. A `Content-Type` here
//!   replaces the default one. Refused: hop-by-hop and framing headers (`Host`, `Connection`,
//!   `Content-Length`, `Transfer-Encoding`, …) and `Idempotency-Key` (the sink sets it).
//! * `timeout.ms` (optional): the longest wait to connect, and then for the first response byte
//!   and between bytes (the host caps these at 10 s and 30 s). The whole `put` is bounded by the
//!   connector's `tidegate.call.timeout.ms` anyway, so keep the two consistent.
//!
//! # Behaviour
//!
//! `put` sends one request per (non-empty) batch:
//!
//! ```text
//! POST <url>
//! content-type: application/json
//! idempotency-key: <topic>/<partition>/<first offset>-<last offset>
//! <configured headers>
//!
//! {"topic": "...", "partition": 0, "records": [<record>, ...]}
//! ```
//!
//! with each record as `{"topic", "partition", "offset", "timestamp", "key", "value",
//! "headers": [{"name", "value"}]}` (see `tidegate_connect::write_record_json`: JSON-flagged keys and
//! values embedded as JSON, others as strings). The key is stable across retries and
//! redeliveries (delivery is at-least-once), so a receiver can drop duplicates with it.
//!
//! A 2xx answer acknowledges the batch. 408, 429, 5xx and transport errors (refused connection,
//! timeout, a URL outside the allow-list) are `retryable`: the host backs off and sends the same
//! batch again. Any other status is `fatal` (dead-letter topic or task failure, per
//! `errors.tolerance`). Error messages carry the status and up to 200 bytes of the answer. An
//! empty batch is acknowledged without a request; `flush` has nothing to do (a 2xx answer is
//! the receiver's promise).

wit_bindgen::generate!({ path: "../../wit", world: "sink-connector" });

use std::cell::RefCell;
use std::time::Duration;

use exports::tidegate::plugin::{sink, validate};
use tidegate::plugin::connector_types::ConnectorError;
use tidegate::plugin::types::{BatchContext, Encoding, InputRecord};
use tidegate_connect::{RecordView, config_get, http, write_record_json};

struct HttpSink;

/// What `open` parsed from the config.
struct Settings {
    url: String,
    headers: Vec<(String, String)>,
    timeout: Option<Duration>,
}

thread_local! {
    static SETTINGS: RefCell<Option<Settings>> = const { RefCell::new(None) };
}

/// How much of an error answer goes into the error message.
const EXCERPT: usize = 200;

/// Headers a configuration may not set: framing and hop-by-hop headers (the host owns them)
/// and the idempotency key (the sink's own).
const RESERVED: &[&str] = &[
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "http2-settings",
    "content-length",
    "idempotency-key",
];

/// An HTTP token (RFC 9110 §5.6.2), the syntax of a header name.
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Parses `Name: value` pairs separated by `;` or newlines.
fn parse_headers(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut headers = Vec::new();
    for pair in text
        .split([';', '\n'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let Some((name, value)) = pair.split_once(':') else {
            return Err(format!("'{pair}' is not `Name: value`"));
        };
        let (name, value) = (name.trim(), value.trim());
        if !is_token(name) {
            return Err(format!("'{name}' is not a valid header name"));
        }
        if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name)) {
            return Err(format!(
                "'{name}' cannot be configured (set by the sink or the host)"
            ));
        }
        if value.chars().any(|c| c.is_control() && c != '\t') {
            return Err(format!("the value of '{name}' contains control characters"));
        }
        headers.push((name.to_owned(), value.to_owned()));
    }
    Ok(headers)
}

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
                "required: the http:// or https:// URL to POST batches to".into(),
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
    let headers = match parse_headers(config_get(config, "headers").unwrap_or_default()) {
        Ok(headers) => headers,
        Err(e) => {
            refuse("headers", e);
            Vec::new()
        }
    };
    let timeout = match config_get(config, "timeout.ms").map(str::parse::<u64>) {
        None => None,
        Some(Ok(ms)) if ms > 0 => Some(Duration::from_millis(ms)),
        Some(_) => {
            refuse(
                "timeout.ms",
                "must be a whole number of milliseconds > 0".into(),
            );
            None
        }
    };
    if errors.is_empty() {
        Ok(Settings {
            url,
            headers,
            timeout,
        })
    } else {
        Err(errors)
    }
}

impl validate::Guest for HttpSink {
    fn validate(config: Vec<(String, String)>) -> Vec<validate::FieldError> {
        parse(&config).err().unwrap_or_default()
    }
}

/// The record in `tidegate_connect`'s terms.
fn view(r: &InputRecord) -> RecordView<'_> {
    tidegate_connect::record_view!(r)
}

/// Sends `body` and classifies the outcome.
fn deliver(s: &Settings, key: &str, body: &[u8]) -> Result<(), ConnectorError> {
    let configured_type = s
        .headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"));
    let mut headers: Vec<(&str, &str)> = Vec::with_capacity(s.headers.len() + 2);
    if !configured_type {
        headers.push(("content-type", "application/json"));
    }
    headers.push(("idempotency-key", key));
    headers.extend(s.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    let response = http::request_with_timeout("POST", &s.url, &headers, Some(body), s.timeout)
        .map_err(|e| ConnectorError::Retryable(format!("POST {}: {e}", s.url)))?;
    if response.is_success() {
        return Ok(());
    }
    let status = response.status;
    let message = format!(
        "POST {} answered {status}: {}",
        s.url,
        response.body_excerpt(EXCERPT)
    );
    if status == 408 || status == 429 || status >= 500 {
        Err(ConnectorError::Retryable(message))
    } else {
        Err(ConnectorError::Fatal(message))
    }
}

/// Joins field errors into one line for `open`.
fn one_line(errors: &[validate::FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl sink::Guest for HttpSink {
    fn open(config: Vec<(String, String)>) -> Result<(), String> {
        let settings = parse(&config).map_err(|errors| one_line(&errors))?;
        SETTINGS.set(Some(settings));
        Ok(())
    }

    fn put(ctx: BatchContext, batch: Vec<InputRecord>) -> Result<(), ConnectorError> {
        let (Some(first), Some(last)) = (batch.first(), batch.last()) else {
            return Ok(());
        };
        let key = format!(
            "{}/{}/{}-{}",
            ctx.topic, ctx.partition, first.offset, last.offset
        );
        // Written directly (no `Value` tree): JSON payloads are copied verbatim.
        let mut body = Vec::with_capacity(batch.len() * 256);
        body.extend_from_slice(b"{\"topic\":");
        body.extend_from_slice(&serde_json::to_vec(&ctx.topic).unwrap_or_default());
        body.extend_from_slice(
            format!(",\"partition\":{},\"records\":[", ctx.partition).as_bytes(),
        );
        for (i, r) in batch.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            write_record_json(&mut body, &ctx.topic, ctx.partition, &view(r));
        }
        body.extend_from_slice(b"]}");
        SETTINGS.with_borrow(|settings| match settings {
            Some(s) => deliver(s, &key, &body),
            None => Err(ConnectorError::Fatal("put before open".into())),
        })
    }

    fn flush() -> Result<(), ConnectorError> {
        Ok(())
    }

    fn close() {}
}

export!(HttpSink);
