//! Deterministic simulation of the log on a disk that loses what was not synced, tears files
//! at any byte, fails fsyncs and runs out of space, driven by seeded random workloads (the
//! FoundationDB / TigerBeetle way): appends, rolls, retention, compaction, crashes, clean
//! restarts, EIO and ENOSPC, with the model's invariants checked after every restart.
//!
//! A failing seed is printed and replays exactly:
//! `TIDEGATE_SIM_SEED=<seed> cargo test --lib log::tests::sim`. The long run (README):
//! `TIDEGATE_SIM_SEEDS=200000 cargo test --release --lib log::tests::sim`, optionally with
//! `TIDEGATE_SIM_FIRST=<seed>` to start elsewhere.

use std::{collections::BTreeMap, path::PathBuf, sync::Arc};

use bytes::Bytes;

use super::name;
use crate::{
    durable::fs::sim::{Rng, SimFs},
    event::{Record, StoredRecord, TopicName},
    log::{CleanupPolicy, Error, FsyncPolicy, Log, LogConfig, Partition, TopicConfig},
};

/// Seeds run by plain `cargo test`.
const DEFAULT_SEEDS: u64 = 2000;
/// Operations per seed.
const OPS: usize = 120;

/// What the model knows of one partition.
struct Part {
    topic: TopicName,
    id: u32,
    compact: bool,
    /// Everything that may be at an offset: acknowledged appends, and appends whose outcome
    /// is unknown (written, then the fsync failed).
    history: BTreeMap<u64, Record>,
    /// Offset the next successful append must get.
    next: u64,
    /// Under `always`: one past the last acknowledged record; a crash must keep them all.
    acked: u64,
}

struct World {
    rng: Rng,
    sim: Arc<SimFs>,
    cfg: LogConfig,
    log: Arc<Log>,
    parts: Vec<Part>,
    clock: i64,
    seq: u64,
}

type Outcome = Result<(), String>;

// Four tests so the harness runs the default seeds on every core.
#[test]
fn sim_acknowledged_records_survive_every_crash_0() {
    run_share(0);
}

#[test]
fn sim_acknowledged_records_survive_every_crash_1() {
    run_share(1);
}

#[test]
fn sim_acknowledged_records_survive_every_crash_2() {
    run_share(2);
}

#[test]
fn sim_acknowledged_records_survive_every_crash_3() {
    run_share(3);
}

/// Runs every fourth seed of the configured range, starting at `share`.
fn run_share(share: u64) {
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    let seeds: Vec<u64> = match env("TIDEGATE_SIM_SEED") {
        Some(seed) if share == 0 => vec![seed],
        Some(_) => Vec::new(),
        None => {
            let first = env("TIDEGATE_SIM_FIRST").unwrap_or(0);
            (first..first + env("TIDEGATE_SIM_SEEDS").unwrap_or(DEFAULT_SEEDS))
                .filter(|s| s % 4 == share)
                .collect()
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for &seed in &seeds {
        if let Err(e) = rt.block_on(run(seed)) {
            panic!(
                "simulation seed {seed} failed: {e}\n\
                 replay: TIDEGATE_SIM_SEED={seed} cargo test --lib log::tests::sim"
            );
        }
    }
    eprintln!("simulated-disk model: {} seeds passed", seeds.len());
}

async fn run(seed: u64) -> Outcome {
    let mut rng = Rng::new(seed);
    let sim = SimFs::new(seed);
    let fsync = if rng.chance(3, 4) {
        FsyncPolicy::Always
    } else {
        FsyncPolicy::Never
    };
    let cfg = LogConfig {
        fs: sim.clone(),
        fsync,
        segment_bytes: 200 + rng.below(800),
        index_interval_bytes: 64,
        compaction_map_entries: 1 + usize::try_from(rng.below(6)).unwrap_or(1),
        ..LogConfig::new(PathBuf::from("/data"))
    };
    let log = Log::open(cfg.clone())
        .await
        .map_err(|e| format!("open: {e}"))?;
    let mut parts = Vec::new();
    for (topic, partitions, compact) in [("d", 2, false), ("c", 1, true)] {
        let mut tc = TopicConfig::defaults(&cfg);
        tc.cleanup_policy = if compact {
            CleanupPolicy::Compact
        } else {
            CleanupPolicy::Delete
        };
        if !compact && rng.chance(1, 2) {
            tc.retention_bytes = i64::try_from(500 + rng.below(2000)).unwrap_or(1000);
        }
        // Tombstones never expire here: what survives must follow from supersession alone.
        tc.delete_retention_ms = i64::MAX / 4;
        log.create_topic(&name(topic), partitions, tc)
            .map_err(|e| format!("create {topic}: {e}"))?;
        for id in 0..partitions {
            parts.push(Part {
                topic: name(topic),
                id,
                compact,
                history: BTreeMap::new(),
                next: 0,
                acked: 0,
            });
        }
    }
    let mut w = World {
        rng,
        sim,
        cfg,
        log,
        parts,
        clock: 1_000,
        seq: 0,
    };
    for step in 0..OPS {
        let roll = w.rng.below(100);
        let r = match roll {
            0..=59 => w.append().await,
            60..=66 => w.roll(),
            67..=74 => w.maintain(),
            75..=80 => w.crash().await,
            81..=83 => w.clean_restart().await,
            84..=90 => w.crash_mid_operation().await,
            91..=94 => w.fsync_failure().await,
            _ => w.disk_full().await,
        };
        r.map_err(|e| format!("step {step} (op {roll}, fsync {:?}): {e}", w.cfg.fsync))?;
    }
    w.clean_restart().await
}

impl World {
    fn partition(&self, i: usize) -> Result<Arc<Partition>, String> {
        let part = &self.parts[i];
        self.log
            .topic(&part.topic)
            .and_then(|t| t.partition(part.id))
            .map_err(|e| e.to_string())
    }

    fn record(&mut self, compact: bool) -> Record {
        self.seq += 1;
        self.clock += 1;
        let key = (compact || self.rng.chance(1, 2))
            .then(|| Bytes::from(format!("k{}", self.rng.below(6))));
        let value = (!compact || key.is_none() || self.rng.chance(9, 10)).then(|| {
            let len = usize::try_from(self.rng.below(80)).unwrap_or(0);
            Bytes::from(format!("{}:{}", self.seq, "v".repeat(len)))
        });
        Record {
            key,
            value,
            headers: Vec::new(),
            timestamp: self.clock,
            attributes: 0,
        }
    }

    async fn append(&mut self) -> Outcome {
        let i = usize::try_from(self.rng.below(self.parts.len() as u64)).unwrap_or(0);
        let n = 1 + self.rng.below(4);
        let compact = self.parts[i].compact;
        let records: Vec<Record> = (0..n).map(|_| self.record(compact)).collect();
        let p = self.partition(i)?;
        let base = p
            .append(&records)
            .await
            .map_err(|e| format!("append: {e}"))?;
        let part = &mut self.parts[i];
        if base != part.next {
            return Err(format!("append got base {base}, expected {}", part.next));
        }
        for (o, r) in (base..).zip(records) {
            part.history.insert(o, r);
        }
        part.next = base + n;
        if self.cfg.fsync == FsyncPolicy::Always {
            part.acked = part.next;
        }
        Ok(())
    }

    fn roll(&mut self) -> Outcome {
        let i = usize::try_from(self.rng.below(self.parts.len() as u64)).unwrap_or(0);
        self.partition(i)?
            .roll()
            .map(drop)
            .map_err(|e| format!("roll: {e}"))
    }

    fn maintain(&mut self) -> Outcome {
        self.log
            .maintain(self.clock)
            .map(drop)
            .map_err(|e| format!("maintain: {e}"))?;
        self.check()
    }

    /// Power loss, then start-up: whatever the crash kept must satisfy the invariants.
    async fn crash(&mut self) -> Outcome {
        self.sim.crash();
        self.reopen().await
    }

    /// Power loss after a random number of disk calls of the next operation: in the middle
    /// of an append and its group commit, a roll being finished, a compaction, or a close.
    async fn crash_mid_operation(&mut self) -> Outcome {
        self.sim.crash_after(self.rng.below(24));
        let i = usize::try_from(self.rng.below(self.parts.len() as u64)).unwrap_or(0);
        match self.rng.below(5) {
            0 | 1 => {
                let compact = self.parts[i].compact;
                let n = 1 + self.rng.below(3);
                let records: Vec<Record> = (0..n).map(|_| self.record(compact)).collect();
                let result = self.partition(i)?.append(&records).await;
                let part = &mut self.parts[i];
                if let Ok(base) = result
                    && base != part.next
                {
                    return Err(format!("append got base {base}, expected {}", part.next));
                }
                // Acknowledged or not, the batch may be on disk now.
                for (o, r) in (part.next..).zip(records) {
                    part.history.insert(o, r);
                }
                part.next += n;
                if result.is_ok() && self.cfg.fsync == FsyncPolicy::Always {
                    part.acked = part.next;
                }
            }
            2 => drop(self.partition(i)?.roll()),
            3 => drop(self.log.maintain(self.clock)),
            _ => drop(self.log.close().await),
        }
        if !self.sim.is_down() {
            self.sim.crash();
        }
        self.sim.revive();
        self.reopen().await
    }

    async fn clean_restart(&mut self) -> Outcome {
        self.log.close().await.map_err(|e| format!("close: {e}"))?;
        let ends: Vec<u64> = self.parts.iter().map(|p| p.next).collect();
        self.sim.crash();
        self.reopen().await?;
        for (part, end) in self.parts.iter().zip(ends) {
            if part.next != end {
                return Err(format!(
                    "{}/{}: a clean close kept offsets up to {} of {end}",
                    part.topic, part.id, part.next
                ));
            }
        }
        Ok(())
    }

    async fn reopen(&mut self) -> Outcome {
        self.log = Log::open(self.cfg.clone())
            .await
            .map_err(|e| format!("open after crash: {e}"))?;
        self.check()?;
        for i in 0..self.parts.len() {
            let end = self.partition(i)?.end_offset();
            let part = &mut self.parts[i];
            // Offsets past the surviving end are free again; what was there is gone.
            part.history.split_off(&end);
            part.next = end;
            part.acked = part.acked.min(end);
        }
        Ok(())
    }

    /// The next fsync fails: the append fails, the partition refuses every later write
    /// without another fsync, and only a restart (after a crash) brings it back.
    async fn fsync_failure(&mut self) -> Outcome {
        if self.cfg.fsync != FsyncPolicy::Always {
            return Ok(());
        }
        let i = usize::try_from(self.rng.below(self.parts.len() as u64)).unwrap_or(0);
        let p = self.partition(i)?;
        let compact = self.parts[i].compact;
        let first = self.record(compact);
        let second = self.record(compact);
        self.sim.fail_next_fsyncs(1);
        let before = self.sim.fsyncs();
        if let Ok(base) = p.append(std::slice::from_ref(&first)).await {
            return Err(format!("append at {base} acknowledged over a failed fsync"));
        }
        // The write happened; whether it survives is up to the crash.
        let part = &mut self.parts[i];
        part.history.insert(part.next, first);
        part.next += 1;
        let attempted = self.sim.fsyncs();
        if attempted != before + 1 {
            return Err(format!("{} fsyncs for one append", attempted - before));
        }
        match p.append(&[second]).await {
            Err(Error::Poisoned { .. }) => {}
            other => return Err(format!("append after EIO: {other:?}, expected Poisoned")),
        }
        if self.sim.fsyncs() != attempted {
            return Err("a poisoned partition retried an fsync".into());
        }
        self.sim.crash();
        self.reopen().await
    }

    /// The disk fills up: an append that does not fit fails with `StorageFull`, leaves
    /// nothing partial, does not poison, and the next one succeeds once space is freed.
    async fn disk_full(&mut self) -> Outcome {
        let i = usize::try_from(self.rng.below(self.parts.len() as u64)).unwrap_or(0);
        let p = self.partition(i)?;
        let before = read_all(&p)?;
        let room = self.rng.below(40);
        self.sim.set_space_limit(Some(self.sim.used() + room));
        let mut big = self.record(self.parts[i].compact);
        big.value = Some(Bytes::from(vec![b'x'; 200]));
        let result = p.append(std::slice::from_ref(&big)).await;
        self.sim.set_space_limit(None);
        match result {
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::StorageFull => {}
            other => return Err(format!("append on a full disk: {other:?}")),
        }
        if read_all(&p)? != before || p.end_offset() != self.parts[i].next {
            return Err("a failed append on a full disk left something visible".into());
        }
        self.append_to(i).await
    }

    async fn append_to(&mut self, i: usize) -> Outcome {
        let record = self.record(self.parts[i].compact);
        let p = self.partition(i)?;
        let base = p
            .append(std::slice::from_ref(&record))
            .await
            .map_err(|e| format!("append after space was freed: {e}"))?;
        let part = &mut self.parts[i];
        if base != part.next {
            return Err(format!("append got base {base}, expected {}", part.next));
        }
        part.history.insert(base, record);
        part.next += 1;
        if self.cfg.fsync == FsyncPolicy::Always {
            part.acked = part.next;
        }
        Ok(())
    }

    /// Invariants of every partition: offsets ascend inside [start, end) and are dense where
    /// nothing compacts; each record is one that was written at that offset; under `always`
    /// no acknowledged record is missing unless a later one of its key supersedes it.
    fn check(&self) -> Outcome {
        for (i, part) in self.parts.iter().enumerate() {
            let p = self.partition(i)?;
            let (start, end) = (p.start_offset(), p.end_offset());
            let at = |what: String| format!("{}/{}: {what}", part.topic, part.id);
            let recs = read_all(&p).map_err(at)?;
            let offsets: Vec<u64> = recs.iter().map(|r| r.offset).collect();
            if offsets.windows(2).any(|w| w[0] >= w[1])
                || offsets.first().is_some_and(|&o| o < start)
                || offsets.last().is_some_and(|&o| o >= end)
            {
                return Err(at(format!(
                    "offsets {offsets:?} not ascending in [{start}, {end})"
                )));
            }
            if !part.compact && offsets != (start..end).collect::<Vec<_>>() {
                return Err(at(format!(
                    "offsets {offsets:?} not dense in [{start}, {end})"
                )));
            }
            for r in &recs {
                if part.history.get(&r.offset) != Some(&r.record) {
                    return Err(at(format!(
                        "offset {} holds a record never written there",
                        r.offset
                    )));
                }
            }
            if self.cfg.fsync != FsyncPolicy::Always {
                continue;
            }
            if end < part.acked {
                return Err(at(format!(
                    "end {end} lost acknowledged records below {}",
                    part.acked
                )));
            }
            let present: BTreeMap<u64, &StoredRecord> =
                recs.iter().map(|r| (r.offset, r)).collect();
            for (o, r) in part.history.range(start..part.acked.max(start)) {
                if present.contains_key(o) {
                    continue;
                }
                let superseded = r.key.is_some()
                    && part.compact
                    && present
                        .range(o + 1..)
                        .any(|(_, later)| later.record.key == r.key);
                if !superseded {
                    return Err(at(format!("acknowledged offset {o} is gone")));
                }
            }
        }
        Ok(())
    }
}

fn read_all(p: &Partition) -> Result<Vec<StoredRecord>, String> {
    let mut out = Vec::new();
    let mut at = p.start_offset();
    while at < p.end_offset() {
        let r = p
            .read(at, 5, 400)
            .map_err(|e| format!("read at {at}: {e}"))?;
        if r.next_offset <= at {
            return Err(format!("read made no progress at {at}"));
        }
        out.extend(r.records);
        at = r.next_offset;
    }
    Ok(out)
}
