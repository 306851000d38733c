//! What the storage seam costs: the same appends straight on the log (looking the partition
//! up per call, as the broker did before the seam) and through `broker::Engine::File` (the
//! static-dispatch enum the broker holds now), in one run, alternating rounds so disk mood
//! affects both alike.
//!
//! `cargo bench --bench storage_seam` (`TIDEGATE_BENCH_ROUNDS`, default 5; 200,000 batches of 10
//! records of 100 bytes per round and path, `--fsync never`, in the system temp dir). Stops by
//! itself.

use std::time::Instant;

use bytes::Bytes;
use tidegate::broker::storage::{Engine, FileStorage, Storage};
use tidegate::event::{Record, TopicName};
use tidegate::log::{FsyncPolicy, Log, LogConfig, TopicConfig};

const BATCHES: usize = 200_000;
const BATCH: usize = 10;

fn main() -> anyhow::Result<()> {
    let rounds: usize = std::env::var("TIDEGATE_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let dir = tempfile::tempdir()?;
        let mut config = LogConfig::new(dir.path().to_path_buf());
        config.fsync = FsyncPolicy::Never;
        let log = Log::open(config).await?;
        let engine = Engine::File(FileStorage::new(std::sync::Arc::clone(&log)));
        let batch: Vec<Record> = (0..BATCH)
            .map(|_| Record {
                value: Some(Bytes::from(vec![b'x'; 100])),
                ..Record::default()
            })
            .collect();
        let (mut direct, mut seam) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            let name = TopicName::new(&format!("direct-{round}"))?;
            log.create_topic(&name, 1, TopicConfig::defaults(log.config()))?;
            let start = Instant::now();
            for _ in 0..BATCHES {
                // What the broker did before the seam: look the partition up, then append.
                log.topic(&name)?.partition(0)?.append(&batch).await?;
            }
            direct.push(start.elapsed().as_secs_f64());

            let name = TopicName::new(&format!("seam-{round}"))?;
            engine
                .create_topic(&name, 1, engine.default_topic_config())
                .await?;
            let start = Instant::now();
            for _ in 0..BATCHES {
                engine.append(&name, 0, &batch).await?;
            }
            seam.push(start.elapsed().as_secs_f64());
        }
        let best = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
        let rate = |secs: f64| (BATCHES * BATCH) as f64 / secs;
        println!(
            "appends of {BATCH} x 100 B, {BATCHES} batches per round, best of {rounds} rounds"
        );
        println!("{:<24} {:>14}", "path", "records/s");
        println!(
            "{:<24} {:>14.0}",
            "log lookup + append",
            rate(best(&direct))
        );
        println!("{:<24} {:>14.0}", "Engine::File append", rate(best(&seam)));
        println!("seam / direct: {:.3}", best(&direct) / best(&seam));
        anyhow::Ok(())
    })
}
