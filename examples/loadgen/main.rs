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
//! # 1000 WebSocket subscribers, one producer at 2000 records/s: end-to-end latency
//! cargo run --release --example loadgen -- subscribe --topic live --subscribers 1000 \
//!     --rate 2000 --duration 10s
//! # 10,000 idle subscriptions, server memory per subscription
//! cargo run --release --example loadgen -- subscribe --topic idle --subscribers 10000 --idle \
//!     --server-pid $(pidof tidegate)
//! # 10 subscribers reading a filled topic from earliest (compare with `fetch`)
//! cargo run --release --example loadgen -- subscribe --topic fetchbench --subscribers 10 --catch-up
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

mod fetch;
mod http;
mod load;
mod stats;
mod subscribe;

use fetch::*;
use http::*;
use load::*;
use stats::*;
use subscribe::*;

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
    /// WebSocket subscribers: live latency, idle memory, catch-up rate.
    Subscribe(SubscribeOpts),
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
            Mode::Subscribe(o) => subscribe(o).await,
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
