//! Append throughput of the log vs. the raw sequential write bandwidth of the same disk.
//!
//! `cargo bench --bench log_append`. Data goes to `TIDEGATE_BENCH_DIR` (default: the system
//! temp dir); `TIDEGATE_BENCH_MB` sets the volume per case (default 256). Each case stops at
//! that volume or after `TIDEGATE_BENCH_SECS` seconds (default 15), whichever comes first.

use std::{
    io::Write,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use tidegate::{
    event::{Record, TopicName},
    log::{FsyncPolicy, Log, LogConfig, TopicConfig},
};

const RECORD: usize = 1024;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Outcome {
    bytes: u64,
    records: u64,
    /// Appends and the clean close.
    secs: f64,
    /// Of `secs`, the clean close (which makes everything durable, rolled segments included).
    close_secs: f64,
    fsyncs: u64,
}

fn raw(dir: &std::path::Path, total: u64) -> Outcome {
    let path = dir.join("raw.bin");
    let chunk = vec![0x5au8; 1 << 20];
    let start = Instant::now();
    let mut f = std::fs::File::create(&path).expect("bench: create raw file");
    for _ in 0..total / chunk.len() as u64 {
        f.write_all(&chunk).expect("bench: raw write");
    }
    f.sync_data().expect("bench: raw fdatasync");
    let secs = start.elapsed().as_secs_f64();
    drop(f);
    std::fs::remove_file(&path).expect("bench: remove raw file");
    Outcome {
        bytes: total,
        records: 0,
        secs,
        close_secs: 0.0,
        fsyncs: 1,
    }
}

async fn log_case(
    dir: &std::path::Path,
    policy: FsyncPolicy,
    batch: usize,
    appenders: usize,
    total: u64,
    limit: Duration,
) -> Outcome {
    let case_dir = tempfile::tempdir_in(dir).expect("bench: case dir");
    let mut config = LogConfig::new(case_dir.path().to_path_buf());
    config.fsync = policy;
    let log = Log::open(config).await.expect("bench: open log");
    let topic = TopicName::new("bench").expect("bench: topic name");
    let p = log
        .create_topic(&topic, 1, TopicConfig::defaults(log.config()))
        .expect("bench: create topic")
        .partition(0)
        .expect("bench: partition");
    let value = Bytes::from(vec![0x42u8; RECORD]);
    let records: Arc<Vec<Record>> = Arc::new(
        (0..batch)
            .map(|_| Record {
                value: Some(value.clone()),
                timestamp: 1,
                ..Record::default()
            })
            .collect(),
    );
    let written = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..appenders)
        .map(|_| {
            let (p, records, written) =
                (Arc::clone(&p), Arc::clone(&records), Arc::clone(&written));
            tokio::spawn(async move {
                let per = (records.len() * RECORD) as u64;
                while written.fetch_add(per, Ordering::Relaxed) < total && start.elapsed() < limit {
                    p.append(&records).await.expect("bench: append");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("bench: appender");
    }
    let appended = start.elapsed().as_secs_f64();
    log.close().await.expect("bench: close");
    let secs = start.elapsed().as_secs_f64();
    let records = p.end_offset();
    Outcome {
        bytes: records * RECORD as u64,
        records,
        secs,
        close_secs: secs - appended,
        fsyncs: p.fsync_count(),
    }
}

/// Catch-up read of everything just written (page cache), `max_bytes` per fetch.
async fn read_case(dir: &std::path::Path, total: u64, max_bytes: usize) -> Outcome {
    let case_dir = tempfile::tempdir_in(dir).expect("bench: case dir");
    let mut config = LogConfig::new(case_dir.path().to_path_buf());
    config.fsync = FsyncPolicy::Never;
    let log = Log::open(config).await.expect("bench: open log");
    let topic = TopicName::new("read").expect("bench: topic name");
    let p = log
        .create_topic(&topic, 1, TopicConfig::defaults(log.config()))
        .expect("bench: create topic")
        .partition(0)
        .expect("bench: partition");
    let value = Bytes::from(vec![0x42u8; RECORD]);
    let batch: Vec<Record> = (0..100)
        .map(|_| Record {
            value: Some(value.clone()),
            timestamp: 1,
            ..Record::default()
        })
        .collect();
    for _ in 0..total / (100 * RECORD as u64) {
        p.append(&batch).await.expect("bench: append");
    }
    let start = Instant::now();
    let (mut at, mut bytes, mut records) = (0, 0u64, 0u64);
    while at < p.end_offset() {
        let r = p.read(at, usize::MAX, max_bytes).expect("bench: read");
        records += r.records.len() as u64;
        bytes += r
            .records
            .iter()
            .map(|r| r.record.value.as_ref().map_or(0, |v| v.len() as u64))
            .sum::<u64>();
        at = r.next_offset;
    }
    let secs = start.elapsed().as_secs_f64();
    log.close().await.expect("bench: close");
    Outcome {
        bytes,
        records,
        secs,
        close_secs: 0.0,
        fsyncs: 0,
    }
}

fn main() {
    let base = std::env::var_os("TIDEGATE_BENCH_DIR").map_or_else(std::env::temp_dir, Into::into);
    let dir = tempfile::tempdir_in(&base).expect("bench: temp dir");
    let total = env_u64("TIDEGATE_BENCH_MB", 256) << 20;
    let limit = Duration::from_secs(env_u64("TIDEGATE_BENCH_SECS", 15));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("bench: runtime");
    let raw = raw(dir.path(), total);
    let raw_mbps = raw.bytes as f64 / raw.secs / 1e6;
    println!(
        "dir: {}  volume/case: {} MiB  record: {RECORD} B",
        dir.path().display(),
        total >> 20
    );
    println!(
        "{:<34} {:>9} {:>12} {:>8} {:>7} {:>8} {:>9}",
        "case", "MB/s", "records/s", "x raw", "secs", "fsyncs", "close s"
    );
    println!(
        "{:<34} {:>9.0} {:>12} {:>8.2} {:>7.2} {:>8}",
        "raw 1 MiB writes + 1 fdatasync", raw_mbps, "-", 1.0, raw.secs, 1
    );
    let cases = [
        ("Never", FsyncPolicy::Never, 1, 1),
        ("Never", FsyncPolicy::Never, 100, 1),
        ("Never", FsyncPolicy::Never, 1, 64),
        ("Never", FsyncPolicy::Never, 100, 64),
        ("Always", FsyncPolicy::Always, 1, 1),
        ("Always", FsyncPolicy::Always, 100, 1),
        ("Always", FsyncPolicy::Always, 1, 64),
        ("Always", FsyncPolicy::Always, 100, 64),
    ];
    for (name, policy, batch, appenders) in cases {
        let o = rt.block_on(log_case(dir.path(), policy, batch, appenders, total, limit));
        let mbps = o.bytes as f64 / o.secs / 1e6;
        let label = format!("{name} batch={batch} appenders={appenders}");
        println!(
            "{label:<34} {mbps:>9.0} {:>12.0} {:>8.2} {:>7.2} {:>8} {:>9.2}",
            o.records as f64 / o.secs,
            mbps / raw_mbps,
            o.secs,
            o.fsyncs,
            o.close_secs
        );
    }
    for max_bytes in [1 << 20, 16 << 20] {
        let o = rt.block_on(read_case(dir.path(), total, max_bytes));
        let mbps = o.bytes as f64 / o.secs / 1e6;
        let label = format!("read max_bytes={} MiB (cached)", max_bytes >> 20);
        println!(
            "{label:<34} {mbps:>9.0} {:>12.0} {:>8} {:>7.2} {:>8}",
            o.records as f64 / o.secs,
            "-",
            o.secs,
            "-"
        );
    }
}
