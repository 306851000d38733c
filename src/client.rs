//! Command-line client subcommands: `tidegate topic …`, `tidegate produce`, `tidegate consume`.
//!
//! Everything here talks to a running server over its JSON HTTP API (see the HTTP contract
//! in the README). Errors returned by the server are surfaced with the server's `message`.

use std::collections::HashMap;
use std::fmt;
use std::io::{BufRead, Write};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode, header};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// Long-poll timeout used by `consume --follow`.
const FOLLOW_POLL_MS: u64 = 1000;
/// Records asked for per fetch request.
const FETCH_MAX_RECORDS: u64 = 1000;
/// How long stdin may stay idle before `produce` flushes a partial batch.
const PRODUCE_IDLE_FLUSH: Duration = Duration::from_millis(50);
/// Upper bound on a single HTTP exchange (on top of any long-poll timeout).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// `tidegate topic …` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum TopicCommand {
    /// Create a topic.
    Create {
        /// Topic name.
        name: String,
        /// Number of partitions.
        #[arg(long, default_value_t = 1)]
        partitions: u32,
        /// Topic config entry, e.g. `--config retention.ms=3600000 --config cleanup.policy=compact`.
        #[arg(long = "config", value_name = "KEY=VALUE")]
        config: Vec<String>,
    },
    /// List topics: name, partition count and total records.
    List,
    /// Print a topic's description (partitions, offsets, config) as JSON.
    Describe {
        /// Topic name.
        name: String,
    },
    /// Delete a topic and its data.
    Delete {
        /// Topic name.
        name: String,
    },
}

/// `tidegate produce`: one record per stdin line.
#[derive(Debug, clap::Args)]
pub struct ProduceArgs {
    /// Topic to produce to.
    pub topic: String,
    /// Split each line at the first occurrence of this separator into key and value.
    #[arg(long)]
    pub key_separator: Option<String>,
    /// Send every record to this partition (otherwise the server chooses).
    #[arg(long)]
    pub partition: Option<u32>,
    /// Maximum records per request.
    #[arg(long, default_value_t = 500)]
    pub batch: usize,
}

/// `tidegate consume`: print record values, one compact JSON per line.
#[derive(Debug, clap::Args)]
pub struct ConsumeArgs {
    /// Topic to consume from.
    pub topic: String,
    /// Where to start when there is no committed group offset: `earliest`, `latest` or an offset.
    #[arg(long, default_value = "earliest")]
    pub from: String,
    /// Consumer group: resume from its committed offsets and commit after each printed batch.
    #[arg(long)]
    pub group: Option<String>,
    /// Keep waiting for new records (until Ctrl-C) instead of stopping at the end.
    #[arg(long)]
    pub follow: bool,
    /// Only read this partition (default: all partitions).
    #[arg(long)]
    pub partition: Option<u32>,
    /// Stop after printing this many records.
    #[arg(long)]
    pub max_records: Option<u64>,
    /// Follow over a WebSocket subscription (`/v1/topics/{t}/subscribe`) instead of long
    /// polls: records arrive as they are appended; implies `--follow`.
    #[arg(long)]
    pub ws: bool,
}

// ---------------------------------------------------------------------------------------------
// HTTP plumbing
// ---------------------------------------------------------------------------------------------

/// An error response from the server (`{"error_code", "message"}`).
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub error_code: Option<i64>,
    pub message: String,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (HTTP {}", self.message, self.status.as_u16())?;
        if let Some(code) = self.error_code {
            write!(f, ", error_code {code}")?;
        }
        write!(f, ")")
    }
}

impl std::error::Error for ApiError {}

/// The credential every request carries (`--token`, `TIDEGATE_TOKEN`).
static TOKEN: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Sets the API key (or admin token) sent as `Authorization: Bearer` on every request.
pub fn set_token(token: Option<String>) {
    if let Some(token) = token.filter(|t| !t.is_empty()) {
        let _ = TOKEN.set(token);
    }
}

/// The token, for connections made outside [`Api`] (WebSocket).
fn token() -> Option<&'static str> {
    TOKEN.get().map(String::as_str)
}

#[derive(Clone)]
struct Api {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    base: String,
}

impl Api {
    fn new(server: &str) -> Result<Self> {
        let server = server.trim().trim_end_matches('/');
        let base = if server.starts_with("http://") || server.starts_with("https://") {
            server.to_string()
        } else {
            format!("http://{server}")
        };
        base.parse::<hyper::Uri>()
            .with_context(|| format!("invalid server address {base:?}"))?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.enforce_http(false);
        let config = tls::config(&[], base.starts_with("https://"))?;
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Self { client, base })
    }

    /// Sends a request and returns the parsed JSON body (None for an empty body).
    /// Non-2xx responses become an [`ApiError`].
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Option<Value>> {
        self.call_with_timeout(method, path, body, REQUEST_TIMEOUT)
            .await
    }

    async fn call_with_timeout(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        timeout: Duration,
    ) -> Result<Option<Value>> {
        let body = match body {
            Some(v) => Some((Bytes::from(serde_json::to_vec(v)?), "application/json")),
            None => None,
        };
        self.send(method, path, body, timeout).await
    }

    /// Sends `body` (bytes and content type) and returns the parsed JSON answer.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<(Bytes, &str)>,
        timeout: Duration,
    ) -> Result<Option<Value>> {
        let url = format!("{}{}", self.base, path);
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(&url)
            .header(header::ACCEPT, "application/json");
        if let Some(token) = token() {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match body {
            Some((bytes, content_type)) => {
                builder = builder.header(header::CONTENT_TYPE, content_type);
                Full::new(bytes)
            }
            None => Full::new(Bytes::new()),
        };
        let req = builder
            .body(body)
            .with_context(|| format!("building request {url}"))?;

        let exchange = async {
            let resp = self
                .client
                .request(req)
                .await
                .with_context(|| format!("{method} {url} failed (is the server running?)"))?;
            let status = resp.status();
            let bytes = resp
                .into_body()
                .collect()
                .await
                .with_context(|| format!("reading response of {method} {url}"))?
                .to_bytes();
            anyhow::Ok((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| anyhow!("{method} {url} timed out after {timeout:?}"))??;

        if !status.is_success() {
            return Err(api_error(status, &bytes).into());
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        let value = serde_json::from_slice(&bytes)
            .with_context(|| format!("invalid JSON in response of {method} {url}"))?;
        Ok(Some(value))
    }

    /// Like [`Api::call`] but requires a JSON body and decodes it into `T`.
    async fn call_json<T: for<'de> Deserialize<'de>>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<T> {
        let value = self
            .call(method, path, body)
            .await?
            .ok_or_else(|| anyhow!("empty response from {path}"))?;
        serde_json::from_value(value)
            .with_context(|| format!("unexpected response shape from {path}"))
    }
}

fn api_error(status: StatusCode, body: &[u8]) -> ApiError {
    #[derive(Deserialize)]
    struct ErrorBody {
        error_code: Option<i64>,
        message: Option<String>,
    }
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody {
            error_code,
            message: Some(message),
        }) => ApiError {
            status,
            error_code,
            message,
        },
        Ok(ErrorBody {
            error_code,
            message: None,
        }) => ApiError {
            status,
            error_code,
            message: status.canonical_reason().unwrap_or("error").to_string(),
        },
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            let message = if text.is_empty() {
                status.canonical_reason().unwrap_or("error").to_string()
            } else {
                text.chars().take(500).collect()
            };
            ApiError {
                status,
                error_code: None,
                message,
            }
        }
    }
}

fn is_status(err: &anyhow::Error, status: StatusCode) -> bool {
    err.downcast_ref::<ApiError>()
        .is_some_and(|e| e.status == status)
}

/// Characters left as they are in a path segment: RFC 3986 unreserved ones.
const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes one URL path segment (topic / group names).
fn seg(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, UNRESERVED).to_string()
}

// ---------------------------------------------------------------------------------------------
// Response shapes
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct TopicDescription {
    name: String,
    #[serde(default)]
    partitions: Vec<PartitionDescription>,
}

#[derive(Debug, Deserialize)]
struct PartitionDescription {
    partition: u32,
    start_offset: u64,
    end_offset: u64,
}

#[derive(Debug, Deserialize)]
struct ProduceResponse {
    #[serde(default)]
    offsets: Vec<ProducedOffset>,
}

#[derive(Debug, Deserialize)]
struct ProducedOffset {
    partition: u32,
    offset: u64,
}

#[derive(Debug, Deserialize)]
struct FetchResponse {
    #[serde(default)]
    records: Vec<FetchedRecord>,
    next_offset: u64,
}

#[derive(Debug, Deserialize)]
struct FetchedRecord {
    offset: u64,
    #[serde(default)]
    value: Option<Value>,
    #[serde(default)]
    value_base64: Option<String>,
}

#[derive(Debug, Deserialize)]
struct GroupOffsets {
    #[serde(default)]
    offsets: Vec<GroupOffset>,
}

#[derive(Debug, Deserialize)]
struct GroupOffset {
    topic: String,
    partition: u32,
    offset: u64,
}

// ---------------------------------------------------------------------------------------------
// topic
// ---------------------------------------------------------------------------------------------

/// Runs a `tidegate topic …` subcommand.
pub async fn topic(server: &str, cmd: TopicCommand) -> Result<()> {
    let api = Api::new(server)?;
    match cmd {
        TopicCommand::Create {
            name,
            partitions,
            config,
        } => {
            let mut cfg = Map::new();
            for entry in &config {
                let (k, v) = entry
                    .split_once('=')
                    .ok_or_else(|| anyhow!("invalid --config {entry:?}: expected KEY=VALUE"))?;
                cfg.insert(k.trim().to_string(), config_value(v.trim()));
            }
            let body = json!({ "name": name, "partitions": partitions, "config": cfg });
            api.call(Method::POST, "/v1/topics", Some(&body)).await?;
            println!(
                "created topic {name} ({partitions} partition{})",
                plural(partitions.into())
            );
        }
        TopicCommand::List => {
            let topics: Vec<TopicDescription> =
                api.call_json(Method::GET, "/v1/topics", None).await?;
            let width = topics.iter().map(|t| t.name.len()).max().unwrap_or(0);
            let mut out = std::io::stdout().lock();
            for t in &topics {
                let records: u64 = t
                    .partitions
                    .iter()
                    .map(|p| p.end_offset.saturating_sub(p.start_offset))
                    .sum();
                let line = format!(
                    "{:<width$}  partitions={}  records={}",
                    t.name,
                    t.partitions.len(),
                    records
                );
                if !write_line(&mut out, &line)? {
                    return Ok(());
                }
            }
            finish_stdout(&mut out)?;
        }
        TopicCommand::Describe { name } => {
            let desc = api
                .call(Method::GET, &format!("/v1/topics/{}", seg(&name)), None)
                .await?
                .unwrap_or(Value::Null);
            let mut out = std::io::stdout().lock();
            if write_line(&mut out, &serde_json::to_string_pretty(&desc)?)? {
                finish_stdout(&mut out)?;
            }
        }
        TopicCommand::Delete { name } => {
            api.call(Method::DELETE, &format!("/v1/topics/{}", seg(&name)), None)
                .await?;
            println!("deleted topic {name}");
        }
    }
    Ok(())
}

/// Config values that look like numbers / booleans are sent as such, everything else as strings.
fn config_value(v: &str) -> Value {
    if let Ok(n) = v.parse::<i64>() {
        return json!(n);
    }
    match v {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => Value::String(v.to_string()),
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Writes a line; returns Ok(false) if stdout is a closed pipe (the reader went away).
fn write_line(out: &mut impl Write, line: &str) -> Result<bool> {
    match writeln!(out, "{line}") {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e).context("writing to stdout"),
    }
}

/// Flushes stdout; returns Ok(false) on a closed pipe.
fn finish_stdout(out: &mut impl Write) -> Result<bool> {
    match out.flush() {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e).context("writing to stdout"),
    }
}

mod acl;
mod auth;
mod connector;
mod consume;
mod plugin;
mod produce;
mod tls;

pub use acl::{AclCommand, acl};
pub use auth::{AuthCommand, auth};
pub use connector::{ConnectorCommand, connector};
pub use consume::consume;

mod consume_ws;
pub use plugin::{PluginCommand, plugin};
pub use produce::produce;
pub use tls::{TlsFiles, set_files as set_tls};

#[cfg(test)]
mod tests {
    use super::consume::*;
    use super::produce::*;
    use super::*;

    fn args(sep: Option<&str>) -> ProduceArgs {
        ProduceArgs {
            topic: "t".into(),
            key_separator: sep.map(str::to_string),
            partition: None,
            batch: 10,
        }
    }

    #[test]
    fn records_from_lines() {
        assert_eq!(
            make_record(b"hello", &args(None)),
            json!({"value": "hello"})
        );
        assert_eq!(
            make_record(br#"{"a":1}"#, &args(None)),
            json!({"value": {"a": 1}})
        );
        assert_eq!(make_record(b"42", &args(None)), json!({"value": 42}));
        assert_eq!(
            make_record(b"k1:{\"a\":1}", &args(Some(":"))),
            json!({"key": "k1", "value": {"a": 1}})
        );
        assert_eq!(
            make_record(b"7::x::y", &args(Some("::"))),
            json!({"key": 7, "value": "x::y"})
        );
        assert_eq!(
            make_record(b"nokey", &args(Some(":"))),
            json!({"key": null, "value": "nokey"})
        );
        assert_eq!(
            make_record(&[0xff, 0x00], &args(None)),
            json!({"value_base64": "/wA="})
        );
    }

    #[test]
    fn config_values_and_segments() {
        assert_eq!(config_value("1000"), json!(1000));
        assert_eq!(config_value("compact"), json!("compact"));
        assert_eq!(seg("a b/c"), "a%20b%2Fc");
        assert!(matches!(parse_from("12"), Ok(StartFrom::Offset(12))));
        assert!(parse_from("nope").is_err());
    }

    #[test]
    fn server_error_message() {
        let e = api_error(
            StatusCode::CONFLICT,
            br#"{"error_code":36,"message":"topic exists"}"#,
        );
        assert_eq!(e.to_string(), "topic exists (HTTP 409, error_code 36)");
        let e = api_error(StatusCode::BAD_GATEWAY, b"");
        assert_eq!(e.message, "Bad Gateway");
    }
}
