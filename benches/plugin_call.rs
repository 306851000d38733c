//! Plugin call benchmarks: typed vs raw world, a native baseline, instantiation, cached load and
//! memory per live instance.
//!
//! Run with:
//!
//! ```text
//! cargo bench --bench plugin_call
//! ```

#[path = "../tests/support_plugins.rs"]
#[expect(
    dead_code,
    reason = "shared test support; the bench uses only the Rust guests"
)]
mod support_plugins;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tidegate::event::{Header, Record, StoredRecord};
use tidegate::plugin::{
    BatchContext, Host, Limits, MemoryStateStore, OutputRecord, Plugin, PluginConfig,
};

const BATCH: usize = 100;
const VALUE: usize = 1024;
const LIVE_INSTANCES: usize = 500;
const RUN: Duration = Duration::from_secs(2);

fn batch() -> Vec<StoredRecord> {
    (0..BATCH as u64)
        .map(|offset| StoredRecord {
            offset,
            record: Record {
                key: Some(Bytes::from(format!("key-{offset:012}"))),
                value: Some(Bytes::from(vec![b'v'; VALUE])),
                headers: vec![Header {
                    name: "trace-id".into(),
                    value: Bytes::from_static(b"abcdef12"),
                }],
                timestamp: 1_700_000_000_000,
                attributes: 0,
            },
        })
        .collect()
}

/// Runs `$body` repeatedly for about `RUN`; evaluates to the mean time per run.
macro_rules! time {
    ($body:expr) => {{
        for _ in 0..20 {
            $body;
        }
        let (started, mut n) = (Instant::now(), 0u32);
        while started.elapsed() < RUN {
            $body;
            n += 1;
        }
        started.elapsed() / n
    }};
}

fn native_identity(batch: &[StoredRecord]) -> Vec<OutputRecord> {
    batch
        .iter()
        .map(|s| OutputRecord {
            record: s.record.clone(),
            output: None,
        })
        .collect()
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .unwrap_or("VmRSS: 0 kB");
    line.split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn plugin(host: &Host, name: &str) -> Plugin {
    let info = host
        .compile(support_plugins::wasm(name))
        .await
        .expect("compile");
    host.load(&info.digest).await.expect("load")
}

fn row(what: &str, value: String) {
    println!("| {what} | {value} |");
}

fn per_sec(per_call: Duration, items: usize) -> String {
    format!(
        "{:.0} rec/s ({:.1} µs/batch)",
        items as f64 / per_call.as_secs_f64(),
        per_call.as_secs_f64() * 1e6
    )
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = PluginConfig::new(dir.path());
    config.pool_instances = 1024;
    let host = Host::new(config.clone()).expect("host");
    let (ctx, batch) = (
        BatchContext {
            topic: "bench".into(),
            partition: 0,
        },
        batch(),
    );
    let limits = Limits::default();
    let state = || Arc::new(MemoryStateStore::default());

    println!("| measurement ({BATCH} records x {VALUE} B values per batch) | result |");
    println!("|---|---|");
    let mut results = Vec::new();
    for name in ["identity", "identity-raw"] {
        let p = plugin(&host, name).await;
        let mut instance = p
            .instantiate(&[], limits, state())
            .await
            .expect("instantiate");
        let per = time!(assert_eq!(
            instance
                .transform(&ctx, &batch)
                .await
                .expect("transform")
                .len(),
            BATCH
        ));
        row(
            &format!("`{name}` ({}) transform call", p.info().world),
            per_sec(per, BATCH),
        );
        results.push(per);
        let empty = time!(assert!(
            instance
                .transform(&ctx, &[])
                .await
                .expect("transform")
                .is_empty()
        ));
        row(
            &format!("`{name}` empty batch (fixed cost per call, incl. hop to plugin runtime)"),
            format!("{:.1} µs", empty.as_secs_f64() * 1e6),
        );
    }
    let native = time!(assert_eq!(
        std::hint::black_box(native_identity(std::hint::black_box(&batch))).len(),
        BATCH
    ));
    row(
        "native Rust identity (clone records)",
        per_sec(native, BATCH),
    );
    row(
        "ratio typed / raw / native (time per batch)",
        format!(
            "{:.1}x / {:.1}x / 1x",
            results[0].as_secs_f64() / native.as_secs_f64(),
            results[1].as_secs_f64() / native.as_secs_f64()
        ),
    );

    let identity = plugin(&host, "identity").await;
    let per = time!(drop(
        identity
            .instantiate(&[], limits, state())
            .await
            .expect("instantiate")
    ));
    row(
        "instantiate from cached template (+ init, incl. hop to plugin runtime)",
        format!("{:.1} µs", per.as_secs_f64() * 1e6),
    );

    let digest = identity.info().digest.clone();
    let mut loads = Vec::new();
    for _ in 0..20 {
        let fresh = Host::new(config.clone()).expect("host");
        let started = Instant::now();
        fresh.load(&digest).await.expect("load");
        loads.push(started.elapsed());
    }
    loads.sort();
    row(
        "load cached component in a new Host (median of 20, no recompilation)",
        format!("{:.2} ms", loads[10].as_secs_f64() * 1e3),
    );

    let before = rss_kib();
    let mut live = Vec::with_capacity(LIVE_INSTANCES);
    for _ in 0..LIVE_INSTANCES {
        let mut i = identity
            .instantiate(&[], limits, state())
            .await
            .expect("instantiate");
        i.transform(&ctx, &batch[..1]).await.expect("transform");
        live.push(i);
    }
    let delta = rss_kib().saturating_sub(before);
    row(
        &format!("RSS per live instance (delta over {LIVE_INSTANCES}, each ran one batch)"),
        format!(
            "{:.0} KiB ({} MiB total)",
            delta as f64 / LIVE_INSTANCES as f64,
            delta / 1024
        ),
    );

    drop(live);

    // How the gateway calls plugins: transform tasks run on the plugin runtime, so a call
    // (and an instantiation) is awaited in place, with no hop between runtimes.
    let runner = host.clone();
    let rows = runner
        .spawn(async move {
            let mut rows = Vec::new();
            for name in ["identity", "identity-raw"] {
                let p = plugin(&host, name).await;
                let mut instance = p
                    .instantiate(&[], limits, state())
                    .await
                    .expect("instantiate");
                let per = time!(assert_eq!(
                    instance
                        .transform(&ctx, &batch)
                        .await
                        .expect("transform")
                        .len(),
                    BATCH
                ));
                let label = format!("`{name}` transform call from a transform task (no hop)");
                rows.push((label, per_sec(per, BATCH)));
            }
            let per = time!(drop(
                identity
                    .instantiate(&[], limits, state())
                    .await
                    .expect("instantiate")
            ));
            let label =
                "instantiate from cached template (+ init) from a transform task".to_owned();
            rows.push((label, format!("{:.1} µs", per.as_secs_f64() * 1e6)));
            rows
        })
        .await
        .expect("bench task");
    for (what, value) in rows {
        row(&what, value);
    }
}
