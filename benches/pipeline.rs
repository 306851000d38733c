//! End-to-end transform throughput: input topic → transform → output topic, through the
//! identity plugin in the typed and raw worlds, against the same pipeline with the native
//! identity (`builtin:identity`).
//!
//! Run with: `cargo bench --bench pipeline` (env `TIDEGATE_BENCH_RECORDS`, default 200000;
//! `TIDEGATE_BENCH_FSYNC`, default `never`). It builds the guest plugins first (as the tests
//! do), runs an in-process gateway over a temp dir, and stops by itself.

#[path = "../tests/support_plugins.rs"]
#[allow(
    dead_code,
    reason = "shared test helper; the bench uses only part of it"
)]
mod support_plugins;

use std::time::{Duration, Instant};

use bytes::Bytes;
use tidegate::broker::{Broker, ProduceRecord, TransformRequest};
use tidegate::config::{Config, ServeArgs};
use tidegate::event::{ATTR_VALUE_JSON, Record};
use tidegate::gateway::Gateway;

const RECORD_BYTES: usize = 1024;
const BATCH: usize = 100;

fn main() -> anyhow::Result<()> {
    let records: usize = std::env::var("TIDEGATE_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let fsync = std::env::var("TIDEGATE_BENCH_FSYNC").unwrap_or_else(|_| "never".into());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let dir = tempfile::tempdir()?;
        let args = ServeArgs {
            listen: Some("127.0.0.1:0".into()),
            data_dir: Some(dir.path().to_path_buf()),
            fsync: Some(fsync.clone()),
            ..ServeArgs::default()
        };
        let gateway = Gateway::start(Config::load(&args)?).await?;
        let broker = gateway.broker().clone();
        for plugin in ["identity", "identity-raw"] {
            broker.upload_plugin(plugin, support_plugins::wasm(plugin)).await?;
        }
        println!("end-to-end transform, {records} records of {RECORD_BYTES} B, batches of {BATCH}, fsync={fsync}");
        println!("{:<22} {:>12} {:>10} {:>8}", "engine", "records/s", "MB/s", "ratio");
        let mut native = 0.0;
        for (label, plugin) in [("native identity", "builtin:identity"), ("wasm typed identity", "identity"), ("wasm raw identity", "identity-raw")] {
            let rate = run(&broker, plugin, records).await?;
            if native == 0.0 {
                native = rate;
            }
            let mb = rate * RECORD_BYTES as f64 / 1e6;
            println!("{label:<22} {rate:>12.0} {mb:>10.1} {:>8.2}", rate / native);
        }
        gateway.shutdown().await?;
        anyhow::Ok(())
    })
}

/// Fills a fresh input topic, starts the transform, and times until the output holds every
/// record.
async fn run(broker: &Broker, plugin: &str, records: usize) -> anyhow::Result<f64> {
    let tag = plugin.replace(':', "-");
    let (input, output) = (format!("in-{tag}"), format!("out-{tag}"));
    broker.create_topic(&input, 1, &Default::default()).await?;
    broker.create_topic(&output, 1, &Default::default()).await?;
    let value = Bytes::from(format!("\"{}\"", "x".repeat(RECORD_BYTES - 2)));
    for _ in 0..records / 1000 {
        let batch = (0..1000)
            .map(|_| ProduceRecord {
                record: Record {
                    value: Some(value.clone()),
                    attributes: ATTR_VALUE_JSON,
                    ..Record::default()
                },
                partition: None,
            })
            .collect();
        broker.produce(&input, batch, None).await?;
    }
    let request: TransformRequest = serde_json::from_value(serde_json::json!({
        "name": format!("t-{tag}"), "plugin": plugin, "input": input, "outputs": [output],
        "batch": {"max_records": BATCH, "max_wait_ms": 0}
    }))?;
    let started = Instant::now();
    broker.create_transform(request).await?;
    let deadline = started + Duration::from_secs(300);
    loop {
        let done = broker.describe_topic(&output)?.partitions[0].end_offset;
        if done >= (records / 1000 * 1000) as u64 {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "transform through {plugin} did not finish in time"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok((records / 1000 * 1000) as f64 / started.elapsed().as_secs_f64())
}
