//! Connector throughput and CPU cost:
//! * sink: `http-sink` delivering to a loopback webhook receiver (in a child process, so its
//!   CPU is not counted), batches of 500 records of 1 KiB; and `null-sink` (acknowledges
//!   without doing anything) on the same input, for the host's share of the cost;
//! * source: `datagen` ingest rate (`rate=0`, polls of 500), against in-process produce of
//!   records of the same size through the broker.
//!
//! CPU per record is the gateway process's user+system time (from /proc/self/stat) over the
//! run divided by the records, so "plugin" = http-sink − null-sink is the guest's JSON
//! encoding and HTTP client plus the host's wasi:http work.
//!
//! Run with: `cargo bench --bench connectors` (env `TIDEGATE_BENCH_RECORDS`, default 200000;
//! `TIDEGATE_BENCH_FSYNC`, default `never`). Builds the guest plugins first, runs an
//! in-process gateway over a temp dir, and stops by itself.

#[path = "../tests/support_plugins.rs"]
#[allow(
    dead_code,
    reason = "shared test helper; the bench uses only part of it"
)]
mod support_plugins;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tidegate::broker::{Broker, ProduceRecord};
use tidegate::config::{Config, ServeArgs};
use tidegate::event::{ATTR_VALUE_JSON, Record};
use tidegate::gateway::Gateway;

const RECORD_BYTES: usize = 1024;
const BATCH: usize = 500;
const RECEIVER_ENV: &str = "TIDEGATE_BENCH_RECEIVER";

fn main() -> anyhow::Result<()> {
    if std::env::var_os(RECEIVER_ENV).is_some() {
        return receiver();
    }
    let records: usize = std::env::var("TIDEGATE_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let fsync = std::env::var("TIDEGATE_BENCH_FSYNC").unwrap_or_else(|_| "never".into());
    // The receiver: this same binary in receiver mode; it exits when our stdin pipe closes.
    let mut child = Command::new(std::env::current_exe()?)
        .env(RECEIVER_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    BufReader::new(
        child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("no stdout"))?,
    )
    .read_line(&mut line)?;
    let receiver = line.trim().to_owned();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(async {
        let dir = tempfile::tempdir()?;
        let args = ServeArgs {
            listen: Some("127.0.0.1:0".into()),
            data_dir: Some(dir.path().to_path_buf()),
            fsync: Some(fsync.clone()),
            ..ServeArgs::default()
        };
        let gateway = Gateway::start(Config::load(&args)?).await?;
        let broker = gateway.broker().clone();
        for plugin in ["http-sink", "null-sink", "datagen"] {
            broker.upload_plugin(plugin, support_plugins::wasm(plugin)).await?;
        }
        println!("connectors, {records} records, fsync={fsync}, receiver at {receiver} (separate process)");
        fill(&broker, "input", records).await?;
        println!("{:<34} {:>12} {:>9} {:>14}", "sink (500 x 1 KiB batches)", "records/s", "MB/s", "CPU us/record");
        let url = format!("http://{receiver}/hook");
        let mut cpu = BTreeMap::new();
        for (label, plugin) in [("http-sink -> loopback webhook", "http-sink"), ("null-sink (host only)", "null-sink")] {
            let config = [
                ("connector.class", plugin),
                ("topics", "input"),
                ("url", url.as_str()),
                ("tidegate.http.allow", receiver.as_str()),
                ("tidegate.batch.max.records", "500"),
            ];
            let (rate, us) = run_sink(&broker, plugin, &config, records).await?;
            cpu.insert(plugin, us);
            let mb = rate * RECORD_BYTES as f64 / 1e6;
            println!("{label:<34} {rate:>12.0} {mb:>9.1} {us:>14.2}");
        }
        let (host, total) = (cpu["null-sink"], cpu["http-sink"]);
        println!(
            "CPU per delivered record: host {host:.2} us, plugin (JSON + HTTP) {:.2} us = {:.0}% of {total:.2} us",
            total - host,
            100.0 * (total - host) / total
        );
        println!("{:<34} {:>12} {:>9} {:>14}", "source (polls of 500)", "records/s", "ratio", "CPU us/record");
        let (native, native_us) = native_produce(&broker, records).await?;
        println!("{:<34} {native:>12.0} {:>9.2} {native_us:>14.2}", "broker produce (same records)", 1.0);
        let (rate, us) = run_datagen(&broker, records).await?;
        println!("{:<34} {rate:>12.0} {:>9.2} {us:>14.2}", "datagen source", rate / native);
        gateway.shutdown().await?;
        anyhow::Ok(())
    });
    drop(child.stdin.take());
    let _ = child.wait();
    result
}

/// User + system CPU seconds of this process so far.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the `(comm)`; utime and stime are fields 14 and 15 (1-based) overall.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn record(value: &Bytes) -> ProduceRecord {
    ProduceRecord {
        record: Record {
            value: Some(value.clone()),
            attributes: ATTR_VALUE_JSON,
            ..Record::default()
        },
        partition: None,
    }
}

async fn fill(broker: &Broker, topic: &str, records: usize) -> anyhow::Result<()> {
    broker.create_topic(topic, 1, &Default::default()).await?;
    let value = Bytes::from(format!("\"{}\"", "x".repeat(RECORD_BYTES - 2)));
    for _ in 0..records / 1000 {
        let batch: Vec<ProduceRecord> = (0..1000).map(|_| record(&value)).collect();
        broker.produce(topic, batch, None).await?;
    }
    Ok(())
}

async fn wait_records(broker: &Broker, name: &str, records: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let status = broker.connector_status(name)?;
        if status.tidegate.records >= records as u64 {
            return Ok(());
        }
        if let Some(trace) = status.tasks.first().and_then(|t| t.trace.clone()) {
            anyhow::bail!("{name} failed: {trace}");
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{name} did not finish in 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn run_sink(
    broker: &Broker,
    name: &str,
    config: &[(&str, &str)],
    records: usize,
) -> anyhow::Result<(f64, f64)> {
    let config = config
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let (cpu, started) = (cpu_seconds(), Instant::now());
    broker.put_connector(name, config, true).await?;
    wait_records(broker, name, records).await?;
    let (elapsed, used) = (started.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    broker.delete_connector(name).await?;
    Ok((records as f64 / elapsed, used * 1e6 / records as f64))
}

async fn native_produce(broker: &Broker, records: usize) -> anyhow::Result<(f64, f64)> {
    broker
        .create_topic("native", 1, &Default::default())
        .await?;
    // About the size of a datagen order.
    let value = Bytes::from(format!("\"{}\"", "x".repeat(170)));
    let (cpu, started) = (cpu_seconds(), Instant::now());
    for _ in 0..records / BATCH {
        let batch: Vec<ProduceRecord> = (0..BATCH).map(|_| record(&value)).collect();
        broker.produce("native", batch, None).await?;
    }
    let (elapsed, used) = (started.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    Ok((records as f64 / elapsed, used * 1e6 / records as f64))
}

async fn run_datagen(broker: &Broker, records: usize) -> anyhow::Result<(f64, f64)> {
    broker.create_topic("fake", 1, &Default::default()).await?;
    let max = records.to_string();
    let config = [
        ("connector.class", "datagen"),
        ("topic", "fake"),
        ("rate", "0"),
        ("max.records", max.as_str()),
        ("tidegate.batch.max.records", "500"),
    ];
    let config = config
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let (cpu, started) = (cpu_seconds(), Instant::now());
    broker.put_connector("gen", config, true).await?;
    wait_records(broker, "gen", records).await?;
    let (elapsed, used) = (started.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    broker.delete_connector("gen").await?;
    Ok((records as f64 / elapsed, used * 1e6 / records as f64))
}

/// Receiver mode: answers every request 200 after reading its body; exits when stdin closes.
fn receiver() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("{}", listener.local_addr()?);
        std::io::stdout().flush()?;
        std::thread::spawn(|| {
            let mut sink = Vec::new();
            let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
            std::process::exit(0);
        });
        loop {
            let (stream, _) = listener.accept().await?;
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    |req: hyper::Request<hyper::body::Incoming>| async move {
                        use http_body_util::BodyExt;
                        let _ = req.into_body().collect().await;
                        Ok::<_, hyper::Error>(hyper::Response::new(http_body_util::Full::new(
                            Bytes::from_static(b"{}"),
                        )))
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}
