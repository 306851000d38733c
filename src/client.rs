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

#[derive(Clone)]
struct Api {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
}

impl Api {
    fn new(server: &str) -> Result<Self> {
        let server = server.trim().trim_end_matches('/');
        let base = if server.starts_with("http://") {
            server.to_string()
        } else if server.starts_with("https://") {
            bail!("https is not supported by this client: {server}");
        } else {
            format!("http://{server}")
        };
        base.parse::<hyper::Uri>()
            .with_context(|| format!("invalid server address {base:?}"))?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
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
        let url = format!("{}{}", self.base, path);
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(&url)
            .header(header::ACCEPT, "application/json");
        let body = match body {
            Some(v) => {
                builder = builder.header(header::CONTENT_TYPE, "application/json");
                Full::new(Bytes::from(serde_json::to_vec(v)?))
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

/// Percent-encodes one URL path segment (topic / group names).
fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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

// ---------------------------------------------------------------------------------------------
// produce
// ---------------------------------------------------------------------------------------------

/// Runs `tidegate produce`: each stdin line becomes one record.
pub async fn produce(server: &str, args: ProduceArgs) -> Result<()> {
    let api = Api::new(server)?;
    let batch_size = args.batch.max(1);
    let path = format!("/v1/topics/{}/records", seg(&args.topic));

    // Read stdin on a plain thread so reading and sending overlap.
    let (tx, mut rx) = mpsc::channel::<std::io::Result<Vec<u8>>>(batch_size.saturating_mul(2));
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut input = stdin.lock();
        loop {
            let mut line = Vec::new();
            match input.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) => {
                    if line.last() == Some(&b'\n') {
                        line.pop();
                        if line.last() == Some(&b'\r') {
                            line.pop();
                        }
                    }
                    if tx.blocking_send(Ok(line)).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    break;
                }
            }
        }
    });

    let mut stats = ProduceStats::default();
    let mut batch: Vec<Value> = Vec::with_capacity(batch_size);
    let mut eof = false;
    while !eof {
        // Wait (without limit) for the first line of a batch, then keep collecting until the
        // batch is full, stdin closes, or stdin stays idle for a moment.
        match rx.recv().await {
            Some(line) => batch.push(make_record(&line.context("reading stdin")?, &args)),
            None => break,
        }
        while batch.len() < batch_size {
            match tokio::time::timeout(PRODUCE_IDLE_FLUSH, rx.recv()).await {
                Ok(Some(line)) => batch.push(make_record(&line.context("reading stdin")?, &args)),
                Ok(None) => {
                    eof = true;
                    break;
                }
                Err(_idle) => break,
            }
        }
        let body = json!({ "records": std::mem::take(&mut batch) });
        let result = api
            .call_json::<ProduceResponse>(Method::POST, &path, Some(&body))
            .await;
        match result {
            Ok(resp) => stats.add(&resp),
            Err(e) => {
                stats.report(&args.topic);
                return Err(e);
            }
        }
    }
    stats.report(&args.topic);
    Ok(())
}

fn make_record(line: &[u8], args: &ProduceArgs) -> Value {
    let mut record = Map::new();
    let mut value_part = line;
    if let Some(sep) = args.key_separator.as_deref().filter(|s| !s.is_empty()) {
        if let Some(pos) = find_subslice(line, sep.as_bytes()) {
            put_payload(&mut record, "key", &line[..pos]);
            value_part = &line[pos + sep.len()..];
        } else {
            record.insert("key".into(), Value::Null);
        }
    }
    put_payload(&mut record, "value", value_part);
    if let Some(p) = args.partition {
        record.insert("partition".into(), json!(p));
    }
    Value::Object(record)
}

/// Text that parses as JSON is sent as that JSON, other text as a JSON string, and bytes that
/// are not UTF-8 as `<field>_base64`.
fn put_payload(record: &mut Map<String, Value>, field: &str, bytes: &[u8]) {
    use base64::Engine as _;
    match std::str::from_utf8(bytes) {
        Ok(text) => {
            let value = serde_json::from_str::<Value>(text)
                .unwrap_or_else(|_| Value::String(text.to_string()));
            record.insert(field.to_string(), value);
        }
        Err(_) => {
            let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
            record.insert(format!("{field}_base64"), Value::String(b64));
        }
    }
}

fn find_subslice(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > haystack.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[derive(Default)]
struct ProduceStats {
    records: u64,
    requests: u64,
    /// partition -> (first offset, last offset)
    ranges: HashMap<u32, (u64, u64)>,
}

impl ProduceStats {
    fn add(&mut self, resp: &ProduceResponse) {
        self.requests += 1;
        self.records += resp.offsets.len() as u64;
        for o in &resp.offsets {
            let r = self
                .ranges
                .entry(o.partition)
                .or_insert((o.offset, o.offset));
            r.0 = r.0.min(o.offset);
            r.1 = r.1.max(o.offset);
        }
    }

    fn report(&self, topic: &str) {
        let mut parts: Vec<_> = self.ranges.iter().collect();
        parts.sort_by_key(|(p, _)| **p);
        let detail: Vec<String> = parts
            .iter()
            .map(|(p, (lo, hi))| format!("p{p}:{lo}..={hi}"))
            .collect();
        let detail = if detail.is_empty() {
            String::new()
        } else {
            format!(" [{}]", detail.join(" "))
        };
        eprintln!(
            "produced {} record{} to {topic} in {} request{}{detail}",
            self.records,
            plural(self.records),
            self.requests,
            plural(self.requests)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// consume
// ---------------------------------------------------------------------------------------------

enum StartFrom {
    Earliest,
    Latest,
    Offset(u64),
}

fn parse_from(s: &str) -> Result<StartFrom> {
    match s.trim() {
        "earliest" | "beginning" => Ok(StartFrom::Earliest),
        "latest" | "end" => Ok(StartFrom::Latest),
        n => n
            .parse()
            .map(StartFrom::Offset)
            .map_err(|_| anyhow!("invalid --from {s:?}: expected earliest, latest or an offset")),
    }
}

/// A batch of fetched records from one partition's reader task.
struct Fetched {
    partition: u32,
    records: Vec<FetchedRecord>,
    next_offset: u64,
}

/// Runs `tidegate consume`.
pub async fn consume(server: &str, args: ConsumeArgs) -> Result<()> {
    let api = Api::new(server)?;
    let from = parse_from(&args.from)?;
    let topic_path = format!("/v1/topics/{}", seg(&args.topic));
    let desc: TopicDescription = api.call_json(Method::GET, &topic_path, None).await?;

    let mut partitions: Vec<&PartitionDescription> = match args.partition {
        Some(p) => {
            let found = desc
                .partitions
                .iter()
                .find(|d| d.partition == p)
                .ok_or_else(|| {
                    anyhow!(
                        "topic {} has no partition {p} ({} partitions)",
                        desc.name,
                        desc.partitions.len()
                    )
                })?;
            vec![found]
        }
        None => desc.partitions.iter().collect(),
    };
    partitions.sort_by_key(|p| p.partition);

    let group_path = args
        .group
        .as_deref()
        .map(|g| format!("/v1/groups/{}/offsets", seg(g)));
    let mut committed: HashMap<u32, u64> = HashMap::new();
    if let Some(path) = &group_path {
        match api.call_json::<GroupOffsets>(Method::GET, path, None).await {
            Ok(go) => {
                for o in go.offsets.into_iter().filter(|o| o.topic == args.topic) {
                    committed.insert(o.partition, o.offset);
                }
            }
            // An unknown group simply has no committed offsets yet.
            Err(e) if is_status(&e, StatusCode::NOT_FOUND) => {}
            Err(e) => return Err(e),
        }
    }

    if args.max_records == Some(0) {
        return Ok(());
    }
    let per_fetch = args
        .max_records
        .map_or(FETCH_MAX_RECORDS, |m| m.min(FETCH_MAX_RECORDS));

    // One reader task per partition; the main task prints and commits.
    let (tx, mut rx) = mpsc::channel::<Result<Fetched>>(partitions.len().max(1) * 2);
    let mut readers = JoinSet::new();
    for p in &partitions {
        let start = match committed.get(&p.partition) {
            Some(&o) => o,
            None => match from {
                StartFrom::Earliest => p.start_offset,
                StartFrom::Latest => p.end_offset,
                StartFrom::Offset(n) => n,
            },
        };
        let stop_at = if args.follow {
            None
        } else {
            Some(p.end_offset)
        };
        if stop_at.is_some_and(|end| start >= end) {
            continue;
        }
        let reader = PartitionReader {
            api: api.clone(),
            path: format!("{topic_path}/partitions/{}/records", p.partition),
            partition: p.partition,
            position: start,
            stop_at,
            per_fetch,
            timeout_ms: if args.follow { FOLLOW_POLL_MS } else { 0 },
        };
        readers.spawn(reader.run(tx.clone()));
    }
    drop(tx);

    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout());
    let mut printed: u64 = 0;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let batch = tokio::select! {
            b = rx.recv() => b,
            _ = &mut ctrl_c => break,
        };
        let Some(batch) = batch else { break };
        let batch = batch?;

        let mut next_commit = None;
        let mut closed = false;
        for rec in &batch.records {
            if args.max_records.is_some_and(|m| printed >= m) {
                break;
            }
            let line = match (&rec.value, &rec.value_base64) {
                (_, Some(b64)) => b64.clone(),
                (Some(v), None) => serde_json::to_string(v)?,
                (None, None) => "null".to_string(),
            };
            if !write_line(&mut out, &line)? {
                closed = true;
                break;
            }
            printed += 1;
            next_commit = Some(rec.offset + 1);
        }
        if !closed && !finish_stdout(&mut out)? {
            closed = true;
        }
        if closed {
            // The reader of our stdout went away; nothing printed since the last flush is
            // guaranteed to have been seen, so don't commit it.
            return Ok(());
        }
        // Commit the next offset to read: after a fully printed batch that is the server's
        // next_offset (it may skip compacted gaps), otherwise the one after the last printed.
        let fully_printed =
            next_commit.is_some() && batch.records.last().map(|r| r.offset + 1) == next_commit;
        let commit = if fully_printed {
            Some(batch.next_offset)
        } else {
            next_commit
        };
        if let (Some(path), Some(offset)) = (&group_path, commit) {
            let body = json!({ "offsets": [
                { "topic": args.topic, "partition": batch.partition, "offset": offset }
            ]});
            api.call(Method::POST, path, Some(&body))
                .await
                .context("committing group offsets")?;
        }
        if args.max_records.is_some_and(|m| printed >= m) {
            break;
        }
    }
    readers.abort_all();
    let _ = finish_stdout(&mut out);
    Ok(())
}

struct PartitionReader {
    api: Api,
    path: String,
    partition: u32,
    position: u64,
    /// Stop once this offset is reached (None = follow forever).
    stop_at: Option<u64>,
    per_fetch: u64,
    timeout_ms: u64,
}

impl PartitionReader {
    async fn run(mut self, tx: mpsc::Sender<Result<Fetched>>) {
        loop {
            if self.stop_at.is_some_and(|end| self.position >= end) {
                return;
            }
            let result = self.fetch().await;
            let stop = match &result {
                Ok(f) => {
                    let stalled = f.records.is_empty() && f.next_offset <= self.position;
                    self.position = self.position.max(f.next_offset);
                    // Without --follow, an empty answer that doesn't advance means the end.
                    stalled && self.stop_at.is_some()
                }
                Err(_) => true,
            };
            let empty = result.as_ref().is_ok_and(|f| f.records.is_empty());
            if !empty && tx.send(result).await.is_err() {
                return;
            }
            if stop {
                return;
            }
        }
    }

    async fn fetch(&self) -> Result<Fetched> {
        let path = format!(
            "{}?offset={}&max_records={}&timeout_ms={}",
            self.path, self.position, self.per_fetch, self.timeout_ms
        );
        let timeout = REQUEST_TIMEOUT + Duration::from_millis(self.timeout_ms);
        let value = self
            .api
            .call_with_timeout(Method::GET, &path, None, timeout)
            .await?
            .ok_or_else(|| anyhow!("empty fetch response"))?;
        let mut resp: FetchResponse =
            serde_json::from_value(value).context("unexpected fetch response shape")?;
        if let Some(end) = self.stop_at {
            // Without --follow we stop at the end offsets seen at start.
            resp.records.retain(|r| r.offset < end);
            resp.next_offset = resp.next_offset.min(end);
        }
        Ok(Fetched {
            partition: self.partition,
            records: resp.records,
            next_offset: resp.next_offset,
        })
    }
}

#[cfg(test)]
mod tests {
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
