//! Run with:
//!
//! ```text
//! # peak produce throughput (closed loop: each connection sends as soon as the last answered)
//! cargo run --release --example loadgen -- produce --server http://127.0.0.1:8080 \
//!     --topic bench --partitions 4 --connections 64 --batch 100 --record-bytes 1024 --duration 10s
//! # produce at a fixed 2000 requests/s (open loop, latency from the scheduled send time)
//! cargo run --release --example loadgen -- produce --server http://127.0.0.1:8080 \
//!     --topic bench --connections 64 --batch 100 --record-bytes 1024 --duration 10s --rate 2000
//! # plain-HTTP floor
//! cargo run --release --example loadgen -- get --server http://127.0.0.1:8080 \
//!     --path /healthz --connections 64 --duration 10s
//! # write 1 GiB, then read it back
//! cargo run --release --example loadgen -- fill --server http://127.0.0.1:8080 \
//!     --topic fetchbench --bytes 1GiB --record-bytes 1024 --batch 1000 --connections 4
//! cargo run --release --example loadgen -- fetch --server http://127.0.0.1:8080 \
//!     --topic fetchbench --partition 0 --max-records 2000 [--connections 4]
//! ```
//!
//! Every mode prints one small table: requests, records/s, MB/s (payload = records ×
//! record-bytes / 1e6 per second), latency p50/p90/p99/max and errors (non-2xx with the first
//! error body, and transport/connection errors). Runs are bounded by `--duration` and, if
//! given, `--max-requests`. Use `--threads N` to size the tokio runtime (default: all cores).
//!
//! The produced value of each record is a JSON string whose JSON encoding (quotes included)
//! is exactly `--record-bytes` bytes long.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use clap::{Args, Parser, Subcommand};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, header};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::net::TcpStream;
use tokio::time::Instant;

#[derive(Parser)]
#[command(about = "HTTP load generator for Tidegate")]
struct Cli {
    /// Tokio worker threads (default: number of cores).
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// POST batches of records (closed loop, or open loop with --rate).
    Produce(ProduceOpts),
    /// Trivial GET (default /healthz): the plain-HTTP floor.
    Get(GetOpts),
    /// Read a partition from its start to its end offset.
    Fetch(FetchOpts),
    /// Produce a given amount of data (e.g. for the fetch benchmark).
    Fill(FillOpts),
}

#[derive(Args, Clone)]
struct Common {
    /// Server base URL.
    #[arg(long, env = "TIDEGATE_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// Number of HTTP/1.1 connections (one in-flight request each).
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Stop after this long (e.g. 10s, 500ms, 2m).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Stop after this many requests in total.
    #[arg(long)]
    max_requests: Option<u64>,
}

#[derive(Args)]
struct ProduceOpts {
    #[command(flatten)]
    common: Common,
    /// Topic (created if missing).
    #[arg(long)]
    topic: String,
    /// Partitions when the topic has to be created.
    #[arg(long, default_value_t = 1)]
    partitions: u32,
    /// Records per request.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Size of each record value (its JSON encoding), e.g. 1024 or 1KiB.
    #[arg(long, default_value = "1024", value_parser = parse_bytes)]
    record_bytes: u64,
    /// Open loop: total requests per second, scheduled at fixed intervals.
    #[arg(long)]
    rate: Option<f64>,
}

#[derive(Args)]
struct GetOpts {
    #[command(flatten)]
    common: Common,
    /// Path to GET.
    #[arg(long, default_value = "/healthz")]
    path: String,
    /// Open loop: total requests per second.
    #[arg(long)]
    rate: Option<f64>,
}

#[derive(Args)]
struct FetchOpts {
    /// Server base URL.
    #[arg(long, env = "TIDEGATE_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    #[arg(long)]
    topic: String,
    #[arg(long, default_value_t = 0)]
    partition: u32,
    /// max_records per fetch request.
    #[arg(long, default_value_t = 2000)]
    max_records: u64,
    /// max_bytes per fetch request (server default: 4 MiB).
    #[arg(long, value_parser = parse_bytes)]
    max_bytes: Option<u64>,
    /// Connections reading disjoint offset ranges.
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// Stop after this long.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    duration: Duration,
    /// Stop after this many requests in total.
    #[arg(long)]
    max_requests: Option<u64>,
}

#[derive(Args)]
struct FillOpts {
    /// Server base URL.
    #[arg(long, env = "TIDEGATE_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    #[arg(long)]
    topic: String,
    /// Partitions when the topic has to be created.
    #[arg(long, default_value_t = 1)]
    partitions: u32,
    /// Total payload to write, e.g. 1GiB, 500MB.
    #[arg(long, value_parser = parse_bytes)]
    bytes: u64,
    #[arg(long, default_value = "1024", value_parser = parse_bytes)]
    record_bytes: u64,
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Give up after this long.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    duration: Duration,
}

fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if let Some(n) = cli.threads {
        rt.worker_threads(n.max(1));
    }
    let rt = rt.build()?;
    rt.block_on(async move {
        match cli.mode {
            Mode::Produce(o) => produce(o).await,
            Mode::Get(o) => get(o).await,
            Mode::Fetch(o) => fetch(o).await,
            Mode::Fill(o) => fill(o).await,
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Parsing helpers
// ---------------------------------------------------------------------------------------------

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("invalid duration {s:?}"))?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "ms" => n / 1e3,
        "us" => n / 1e6,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        u => return Err(format!("unknown duration unit {u:?} (use ms, s, m, h)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("invalid duration {s:?}: {e}"))
}

fn parse_bytes(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("invalid size {s:?}"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        u => {
            return Err(format!(
                "unknown size unit {u:?} (use B, KB, KiB, MB, MiB, GB, GiB)"
            ));
        }
    };
    Ok((n * mult).round() as u64)
}

// ---------------------------------------------------------------------------------------------
// Connections
// ---------------------------------------------------------------------------------------------

/// Where to connect and what to put in the Host header.
#[derive(Clone)]
struct Target {
    addr: SocketAddr,
    host: String,
}

impl Target {
    async fn resolve(server: &str) -> Result<Self> {
        let server = server.trim().trim_end_matches('/');
        let uri: hyper::Uri = if server.contains("://") {
            server.parse()
        } else {
            format!("http://{server}").parse()
        }
        .with_context(|| format!("invalid --server {server:?}"))?;
        if uri.scheme_str().is_some_and(|s| s != "http") {
            bail!("only http:// servers are supported");
        }
        let authority = uri
            .authority()
            .ok_or_else(|| anyhow!("--server needs a host"))?;
        let port = authority.port_u16().unwrap_or(80);
        let addr = tokio::net::lookup_host((authority.host(), port))
            .await
            .with_context(|| format!("resolving {authority}"))?
            .next()
            .ok_or_else(|| anyhow!("{authority} resolved to no address"))?;
        Ok(Self {
            addr,
            host: authority.to_string(),
        })
    }

    async fn connect(&self) -> Result<Conn> {
        let stream = TcpStream::connect(self.addr)
            .await
            .with_context(|| format!("connecting to {}", self.addr))?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP handshake")?;
        tokio::spawn(async move {
            // Errors surface through the sender; nothing to do here.
            let _ = conn.await;
        });
        Ok(Conn {
            sender,
            target: self.clone(),
        })
    }
}

struct Conn {
    sender: SendRequest<Full<Bytes>>,
    target: Target,
}

/// A completed exchange: status plus the whole body.
struct Reply {
    status: u16,
    body: Bytes,
}

impl Conn {
    async fn send(&mut self, method: Method, path: &str, body: Option<Bytes>) -> Result<Reply> {
        self.sender.ready().await.context("connection closed")?;
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, &self.target.host);
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let req = req.body(Full::new(body.unwrap_or_default()))?;
        let resp = self
            .sender
            .send_request(req)
            .await
            .context("request failed")?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .context("reading response body")?
            .to_bytes();
        Ok(Reply { status, body })
    }
}

/// Simple one-shot request on a fresh connection (setup calls).
async fn one_shot(
    target: &Target,
    method: Method,
    path: &str,
    body: Option<Bytes>,
) -> Result<Reply> {
    let mut conn = target.connect().await?;
    conn.send(method, path, body).await
}

fn body_text(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    let s = s.trim();
    if s.chars().count() > 300 {
        format!("{}…", s.chars().take(300).collect::<String>())
    } else {
        s.to_string()
    }
}

async fn ensure_topic(target: &Target, topic: &str, partitions: u32) -> Result<()> {
    let body = serde_json::to_vec(&serde_json::json!({ "name": topic, "partitions": partitions }))?;
    let reply = one_shot(target, Method::POST, "/v1/topics", Some(body.into())).await?;
    match reply.status {
        200..=299 => eprintln!("created topic {topic} ({partitions} partitions)"),
        409 => eprintln!("topic {topic} exists"),
        s => bail!(
            "creating topic {topic}: HTTP {s}: {}",
            body_text(&reply.body)
        ),
    }
    Ok(())
}

/// Characters left as they are in a path segment: RFC 3986 unreserved ones.
const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn percent_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, UNRESERVED).to_string()
}

// ---------------------------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct Stats {
    requests: u64,
    ok: u64,
    records: u64,
    payload_bytes: u64,
    response_bytes: u64,
    latencies_us: Vec<u64>,
    http_errors: u64,
    first_http_error: Option<String>,
    transport_errors: u64,
    first_transport_error: Option<String>,
    /// Open loop: requests that came due while every connection was busy.
    delayed: u64,
    /// Open loop: requests scheduled before the deadline but never sent (backlog at the end).
    unsent: u64,
}

impl Stats {
    fn merge(&mut self, o: Stats) {
        self.requests += o.requests;
        self.ok += o.ok;
        self.records += o.records;
        self.payload_bytes += o.payload_bytes;
        self.response_bytes += o.response_bytes;
        self.latencies_us.extend(o.latencies_us);
        self.http_errors += o.http_errors;
        self.first_http_error = self.first_http_error.take().or(o.first_http_error);
        self.transport_errors += o.transport_errors;
        self.first_transport_error = self
            .first_transport_error
            .take()
            .or(o.first_transport_error);
        self.delayed += o.delayed;
    }

    fn http_error(&mut self, status: u16, body: &[u8]) {
        self.http_errors += 1;
        if self.first_http_error.is_none() {
            self.first_http_error = Some(format!("HTTP {status}: {}", body_text(body)));
        }
    }

    fn transport_error(&mut self, e: &anyhow::Error) {
        self.transport_errors += 1;
        if self.first_transport_error.is_none() {
            self.first_transport_error = Some(format!("{e:#}"));
        }
    }

    fn print(mut self, title: &str, elapsed: Duration, payload_label: &str) {
        let secs = elapsed.as_secs_f64().max(1e-9);
        self.latencies_us.sort_unstable();
        let pct = |p: f64| -> String {
            if self.latencies_us.is_empty() {
                return "-".into();
            }
            let idx = ((self.latencies_us.len() as f64 * p).ceil() as usize)
                .saturating_sub(1)
                .min(self.latencies_us.len() - 1);
            fmt_us(self.latencies_us[idx])
        };
        let max = self.latencies_us.last().map_or("-".into(), |&m| fmt_us(m));
        println!("{title}");
        println!("  {:<10} {:.2} s", "elapsed", secs);
        println!(
            "  {:<10} {} ({:.1}/s, {} ok)",
            "requests",
            self.requests,
            self.requests as f64 / secs,
            self.ok
        );
        if self.records > 0 {
            println!(
                "  {:<10} {} ({:.0}/s)",
                "records",
                self.records,
                self.records as f64 / secs
            );
        }
        if self.payload_bytes > 0 {
            println!(
                "  {:<10} {:.1} MB/s ({:.1} MB {payload_label})",
                "payload",
                self.payload_bytes as f64 / 1e6 / secs,
                self.payload_bytes as f64 / 1e6
            );
        }
        println!(
            "  {:<10} {:.1} MB/s ({:.1} MB)",
            "responses",
            self.response_bytes as f64 / 1e6 / secs,
            self.response_bytes as f64 / 1e6
        );
        println!(
            "  {:<10} p50 {}  p90 {}  p99 {}  max {}",
            "latency",
            pct(0.50),
            pct(0.90),
            pct(0.99),
            max
        );
        if self.unsent > 0 {
            println!(
                "  {:<10} {} scheduled requests never sent (backlog at the deadline)",
                "unsent", self.unsent
            );
        }
        if self.delayed > 0 {
            println!(
                "  {:<10} {} requests waited for a free connection",
                "delayed", self.delayed
            );
        }
        println!(
            "  {:<10} {} non-2xx, {} transport",
            "errors", self.http_errors, self.transport_errors
        );
        if let Some(e) = &self.first_http_error {
            println!("  {:<10} {e}", "first");
        }
        if let Some(e) = &self.first_transport_error {
            println!("  {:<10} {e}", "first");
        }
    }
}

fn conns(n: usize) -> String {
    format!("{n} connection{}", if n == 1 { "" } else { "s" })
}

fn fmt_us(us: u64) -> String {
    if us >= 1_000_000 {
        format!("{:.2}s", us as f64 / 1e6)
    } else if us >= 1000 {
        format!("{:.2}ms", us as f64 / 1e3)
    } else {
        format!("{us}µs")
    }
}

// ---------------------------------------------------------------------------------------------
// Request-loop engine shared by produce / get / fill
// ---------------------------------------------------------------------------------------------

/// What every request of a run looks like.
struct Workload {
    method: Method,
    path: String,
    body: Option<Bytes>,
    /// Records (and payload bytes) credited per successful request.
    records_per_request: u64,
    payload_per_request: u64,
}

struct RunPlan {
    connections: usize,
    duration: Duration,
    max_requests: Option<u64>,
    rate: Option<f64>,
}

async fn run_load(target: &Target, workload: Workload, plan: RunPlan) -> Result<(Stats, Duration)> {
    if plan.connections == 0 {
        bail!("--connections must be at least 1");
    }
    if plan.rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
        bail!("--rate must be positive");
    }
    let workload = Arc::new(workload);
    let issued = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + plan.duration;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..plan.connections {
        let w = Arc::clone(&workload);
        let issued = Arc::clone(&issued);
        let target = target.clone();
        let max = plan.max_requests;
        let rate = plan.rate;
        tasks.spawn(async move { worker(target, w, issued, max, rate, start, deadline).await });
    }
    let mut stats = Stats::default();
    while let Some(res) = tasks.join_next().await {
        match res {
            Ok(s) => stats.merge(s),
            Err(e) => stats.transport_error(&anyhow!("worker task failed: {e}")),
        }
    }
    if let Some(r) = plan.rate {
        let mut scheduled = (plan.duration.as_secs_f64() * r).ceil() as u64;
        if let Some(m) = plan.max_requests {
            scheduled = scheduled.min(m);
        }
        stats.unsent = scheduled.saturating_sub(stats.requests);
    }
    Ok((stats, start.elapsed()))
}

async fn worker(
    target: Target,
    w: Arc<Workload>,
    issued: Arc<AtomicU64>,
    max_requests: Option<u64>,
    rate: Option<f64>,
    start: Instant,
    deadline: Instant,
) -> Stats {
    let mut stats = Stats::default();
    let mut conn: Option<Conn> = None;
    loop {
        // Claim the next request (shared counter: exact --max-requests, and in open-loop mode
        // the request's index fixes its scheduled send time).
        let i = issued.fetch_add(1, Ordering::Relaxed);
        if max_requests.is_some_and(|m| i >= m) {
            break;
        }
        let scheduled = match rate {
            Some(r) => {
                let t = start + Duration::from_secs_f64(i as f64 / r);
                if t >= deadline || Instant::now() >= deadline {
                    break;
                }
                // Claiming a slot after its scheduled time means every connection was busy
                // when it came due: it waited, and its latency includes that wait.
                if Instant::now() > t {
                    stats.delayed += 1;
                } else {
                    tokio::time::sleep_until(t).await;
                }
                t
            }
            None => {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                now
            }
        };

        if conn.is_none() {
            match target.connect().await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    stats.transport_error(&e);
                    stats.requests += 1;
                    // Back off a little rather than hammering a server that refuses us.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        let result = tokio::time::timeout_at(
            deadline + Duration::from_secs(30),
            c.send(w.method.clone(), &w.path, w.body.clone()),
        )
        .await;
        stats.requests += 1;
        match result {
            Ok(Ok(reply)) => {
                stats
                    .latencies_us
                    .push(scheduled.elapsed().as_micros() as u64);
                stats.response_bytes += reply.body.len() as u64;
                if (200..300).contains(&reply.status) {
                    stats.ok += 1;
                    stats.records += w.records_per_request;
                    stats.payload_bytes += w.payload_per_request;
                } else {
                    stats.http_error(reply.status, &reply.body);
                }
            }
            Ok(Err(e)) => {
                stats.transport_error(&e);
                conn = None;
            }
            Err(_) => {
                stats.transport_error(&anyhow!("request still unanswered 30s after the deadline"));
                break;
            }
        }
    }
    stats
}

fn produce_body(batch: usize, record_bytes: u64) -> Result<Bytes> {
    // A JSON string whose encoding is exactly record_bytes long (no escapes needed).
    let inner = record_bytes.saturating_sub(2) as usize;
    let alphabet = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let value: String = (0..inner)
        .map(|i| alphabet[(i * 7 + i / 61) % alphabet.len()] as char)
        .collect();
    let record = serde_json::to_string(&serde_json::json!({ "value": value }))?;
    let mut body = String::with_capacity(16 + batch * (record.len() + 1));
    body.push_str("{\"records\":[");
    for i in 0..batch {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&record);
    }
    body.push_str("]}");
    Ok(Bytes::from(body))
}

async fn produce(o: ProduceOpts) -> Result<()> {
    if o.batch == 0 {
        bail!("--batch must be at least 1");
    }
    let target = Target::resolve(&o.common.server).await?;
    ensure_topic(&target, &o.topic, o.partitions).await?;
    let workload = Workload {
        method: Method::POST,
        path: format!("/v1/topics/{}/records", percent_encode(&o.topic)),
        body: Some(produce_body(o.batch, o.record_bytes)?),
        records_per_request: o.batch as u64,
        payload_per_request: o.batch as u64 * o.record_bytes,
    };
    let plan = RunPlan {
        connections: o.common.connections,
        duration: o.common.duration,
        max_requests: o.common.max_requests,
        rate: o.rate,
    };
    let (stats, elapsed) = run_load(&target, workload, plan).await?;
    let mode = match o.rate {
        Some(r) => format!("open loop, {r} req/s"),
        None => "closed loop".into(),
    };
    stats.print(
        &format!(
            "produce {} ({mode}, {}, batch {}, {} B records)",
            o.topic,
            conns(o.common.connections),
            o.batch,
            o.record_bytes
        ),
        elapsed,
        "record values",
    );
    Ok(())
}

async fn get(o: GetOpts) -> Result<()> {
    let target = Target::resolve(&o.common.server).await?;
    let path = if o.path.starts_with('/') {
        o.path.clone()
    } else {
        format!("/{}", o.path)
    };
    let workload = Workload {
        method: Method::GET,
        path: path.clone(),
        body: None,
        records_per_request: 0,
        payload_per_request: 0,
    };
    let plan = RunPlan {
        connections: o.common.connections,
        duration: o.common.duration,
        max_requests: o.common.max_requests,
        rate: o.rate,
    };
    let (stats, elapsed) = run_load(&target, workload, plan).await?;
    stats.print(
        &format!("GET {path} ({})", conns(o.common.connections)),
        elapsed,
        "",
    );
    Ok(())
}

async fn fill(o: FillOpts) -> Result<()> {
    if o.batch == 0 || o.record_bytes == 0 {
        bail!("--batch and --record-bytes must be at least 1");
    }
    let target = Target::resolve(&o.server).await?;
    ensure_topic(&target, &o.topic, o.partitions).await?;
    let records = o.bytes.div_ceil(o.record_bytes);
    let requests = records.div_ceil(o.batch as u64);
    eprintln!(
        "filling {}: {requests} requests × {} records × {} B (≥ {} bytes)",
        o.topic, o.batch, o.record_bytes, o.bytes
    );
    let workload = Workload {
        method: Method::POST,
        path: format!("/v1/topics/{}/records", percent_encode(&o.topic)),
        body: Some(produce_body(o.batch, o.record_bytes)?),
        records_per_request: o.batch as u64,
        payload_per_request: o.batch as u64 * o.record_bytes,
    };
    let plan = RunPlan {
        connections: o.connections,
        duration: o.duration,
        max_requests: Some(requests),
        rate: None,
    };
    let (stats, elapsed) = run_load(&target, workload, plan).await?;
    let failed = stats.ok < requests;
    stats.print(
        &format!("fill {} ({})", o.topic, conns(o.connections)),
        elapsed,
        "record values",
    );
    if failed {
        bail!("fill incomplete: not every request succeeded");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// fetch
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct TopicDescription {
    partitions: Vec<PartitionDescription>,
}

#[derive(Deserialize)]
struct PartitionDescription {
    partition: u32,
    start_offset: u64,
    end_offset: u64,
}

#[derive(Deserialize)]
struct FetchResponse<'a> {
    #[serde(borrow)]
    records: Vec<FetchedRecord<'a>>,
    next_offset: u64,
}

#[derive(Deserialize)]
struct FetchedRecord<'a> {
    offset: u64,
    #[serde(borrow, default)]
    value: Option<&'a RawValue>,
    #[serde(borrow, default)]
    value_base64: Option<std::borrow::Cow<'a, str>>,
}

async fn fetch(o: FetchOpts) -> Result<()> {
    if o.connections == 0 || o.max_records == 0 {
        bail!("--connections and --max-records must be at least 1");
    }
    let target = Target::resolve(&o.server).await?;
    let topic_path = format!("/v1/topics/{}", percent_encode(&o.topic));
    let reply = one_shot(&target, Method::GET, &topic_path, None).await?;
    if !(200..300).contains(&reply.status) {
        bail!(
            "describing {}: HTTP {}: {}",
            o.topic,
            reply.status,
            body_text(&reply.body)
        );
    }
    let desc: TopicDescription =
        serde_json::from_slice(&reply.body).context("topic description")?;
    let p = desc
        .partitions
        .iter()
        .find(|p| p.partition == o.partition)
        .ok_or_else(|| anyhow!("topic {} has no partition {}", o.topic, o.partition))?;
    let (start_off, end_off) = (p.start_offset, p.end_offset);
    eprintln!(
        "reading {} partition {} offsets {start_off}..{end_off}",
        o.topic, o.partition
    );

    let span = end_off.saturating_sub(start_off);
    let per_conn = span.div_ceil(o.connections as u64).max(1);
    let issued = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + o.duration;
    let mut tasks = tokio::task::JoinSet::new();
    let mut lo = start_off;
    while lo < end_off {
        let hi = (lo + per_conn).min(end_off);
        let target = target.clone();
        let path = format!("{topic_path}/partitions/{}/records", o.partition);
        let extra = o
            .max_bytes
            .map_or(String::new(), |b| format!("&max_bytes={b}"));
        let issued = Arc::clone(&issued);
        let (max_records, max_requests) = (o.max_records, o.max_requests);
        tasks.spawn(async move {
            let range = FetchRange {
                lo,
                hi,
                max_records,
                extra,
            };
            fetch_range(target, path, range, issued, max_requests, deadline).await
        });
        lo = hi;
    }
    let mut stats = Stats::default();
    while let Some(res) = tasks.join_next().await {
        match res {
            Ok(s) => stats.merge(s),
            Err(e) => stats.transport_error(&anyhow!("reader task failed: {e}")),
        }
    }
    let elapsed = start.elapsed();
    let read = stats.records;
    stats.print(
        &format!(
            "fetch {} partition {} ({}, max_records {})",
            o.topic,
            o.partition,
            conns(o.connections),
            o.max_records
        ),
        elapsed,
        "record values",
    );
    if read < span {
        eprintln!(
            "note: read {} of {span} offsets (stopped early or compacted gaps)",
            read
        );
    }
    Ok(())
}

/// One reader's share of the partition: offsets `lo..hi`.
struct FetchRange {
    lo: u64,
    hi: u64,
    max_records: u64,
    /// Extra query parameters, e.g. `&max_bytes=N`.
    extra: String,
}

async fn fetch_range(
    target: Target,
    path: String,
    range: FetchRange,
    issued: Arc<AtomicU64>,
    max_requests: Option<u64>,
    deadline: Instant,
) -> Stats {
    let mut stats = Stats::default();
    let mut conn = match target.connect().await {
        Ok(c) => c,
        Err(e) => {
            stats.transport_error(&e);
            return stats;
        }
    };
    let FetchRange {
        lo,
        hi,
        max_records,
        extra,
    } = range;
    let mut pos = lo;
    while pos < hi && Instant::now() < deadline {
        if max_requests.is_some_and(|m| issued.fetch_add(1, Ordering::Relaxed) >= m) {
            break;
        }
        let want = max_records.min(hi - pos);
        let url = format!("{path}?offset={pos}&max_records={want}&timeout_ms=0{extra}");
        let t0 = Instant::now();
        stats.requests += 1;
        let reply = match conn.send(Method::GET, &url, None).await {
            Ok(r) => r,
            Err(e) => {
                stats.transport_error(&e);
                match target.connect().await {
                    Ok(c) => {
                        conn = c;
                        continue;
                    }
                    Err(e) => {
                        stats.transport_error(&e);
                        break;
                    }
                }
            }
        };
        stats.latencies_us.push(t0.elapsed().as_micros() as u64);
        stats.response_bytes += reply.body.len() as u64;
        if !(200..300).contains(&reply.status) {
            stats.http_error(reply.status, &reply.body);
            break;
        }
        let resp: FetchResponse<'_> = match serde_json::from_slice(&reply.body) {
            Ok(r) => r,
            Err(e) => {
                stats.transport_error(&anyhow!("bad fetch response: {e}"));
                break;
            }
        };
        stats.ok += 1;
        for r in resp
            .records
            .iter()
            .filter(|r| r.offset >= pos && r.offset < hi)
        {
            stats.records += 1;
            stats.payload_bytes += match (&r.value, &r.value_base64) {
                (_, Some(b64)) => base64_decoded_len(b64),
                (Some(v), None) => v.get().len() as u64,
                (None, None) => 0,
            };
        }
        if resp.next_offset <= pos {
            stats.transport_error(&anyhow!("fetch at offset {pos} made no progress"));
            break;
        }
        pos = resp.next_offset;
    }
    stats
}

fn base64_decoded_len(b64: &str) -> u64 {
    let padding = b64.bytes().rev().take_while(|&b| b == b'=').count() as u64;
    (b64.len() as u64 * 3 / 4).saturating_sub(padding)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sizes_and_durations() {
        assert_eq!(parse_bytes("1GiB"), Ok(1 << 30));
        assert_eq!(parse_bytes("1024"), Ok(1024));
        assert_eq!(parse_bytes("1.5KB"), Ok(1500));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("3 fortnights").is_err());
    }

    #[test]
    fn produce_body_has_exact_value_size() {
        let body = produce_body(3, 100).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let recs = v["records"].as_array().unwrap();
        assert_eq!(recs.len(), 3);
        assert_eq!(serde_json::to_string(&recs[0]["value"]).unwrap().len(), 100);
    }
}
