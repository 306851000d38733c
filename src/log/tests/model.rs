//! Model check: random operation sequences against an in-memory model of the partition.

use std::collections::HashMap;

use proptest::prelude::*;

use super::{config, name, read_all};
use crate::{
    event::{Record, StoredRecord},
    log::{CleanupPolicy, FsyncPolicy, Log, TopicConfig},
};

#[derive(Debug, Clone)]
enum Op {
    /// (key index, value length or tombstone) per record.
    Append(Vec<(Option<u8>, Option<u8>)>),
    /// Read at a fraction (per mille) of [start, end] with a record and byte budget.
    Read(u16, usize, usize),
    Reopen,
    Roll,
    /// Delete: retention.bytes = size * per mille. Compact: compaction (bool: past the grace).
    Clean(u16, bool),
}

fn op() -> impl Strategy<Value = Op> {
    let rec = (
        proptest::option::of(0u8..5),
        proptest::option::weighted(0.9, 0u8..60),
    );
    prop_oneof![
        6 => proptest::collection::vec(rec, 1..5).prop_map(Op::Append),
        3 => (0u16..=1000, 1usize..8, 0usize..400).prop_map(|(a, b, c)| Op::Read(a, b, c)),
        1 => Just(Op::Reopen),
        1 => Just(Op::Roll),
        1 => (0u16..=1000, any::<bool>()).prop_map(|(a, b)| Op::Clean(a, b)),
    ]
}

const TS: i64 = 1_000;
const GRACE: i64 = 10_000;

fn record(key: Option<u8>, value: Option<u8>, seq: usize) -> Record {
    let mut r = super::rec(None, None, TS);
    r.key = key.map(|k| bytes::Bytes::from(format!("key{k}")));
    r.value = value.map(|n| bytes::Bytes::from(format!("{seq}:{}", "v".repeat(n.into()))));
    r
}

/// Model: offset -> record, `None` once removed by retention or compaction.
struct Model {
    records: Vec<Option<Record>>,
}

impl Model {
    fn live(&self, from: u64) -> Vec<StoredRecord> {
        let from = usize::try_from(from).unwrap();
        (from..self.records.len())
            .filter_map(|o| {
                self.records[o].clone().map(|record| StoredRecord {
                    offset: o as u64,
                    record,
                })
            })
            .collect()
    }
}

fn run(compact: bool, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), FsyncPolicy::Never);
    cfg.segment_bytes = 400;
    cfg.index_interval_bytes = 64;
    let t = name("m");
    rt.block_on(async {
        let mut log = Log::open(cfg.clone()).await.unwrap();
        let mut tc = TopicConfig::defaults(&cfg);
        tc.retention_ms = -1;
        tc.delete_retention_ms = GRACE;
        tc.cleanup_policy = if compact {
            CleanupPolicy::Compact
        } else {
            CleanupPolicy::Delete
        };
        log.create_topic(&t, 1, tc.clone()).unwrap();
        let mut p = log.topic(&t).unwrap().partition(0).unwrap();
        let mut model = Model {
            records: Vec::new(),
        };
        for (seq, op) in ops.into_iter().enumerate() {
            match op {
                Op::Append(spec) => {
                    let recs: Vec<_> = spec.iter().map(|(k, v)| record(*k, *v, seq)).collect();
                    let base = p.append(&recs).await.unwrap();
                    prop_assert_eq!(base, model.records.len() as u64);
                    model.records.extend(recs.into_iter().map(Some));
                }
                Op::Read(frac, max_records, max_bytes) => {
                    let (start, end) = (p.start_offset(), p.end_offset());
                    let at = start + (end - start) * u64::from(frac) / 1000;
                    let r = p.read(at, max_records, max_bytes).unwrap();
                    let want = model.live(at);
                    prop_assert!(r.records.len() <= max_records);
                    prop_assert_eq!(r.records.is_empty(), want.is_empty());
                    prop_assert_eq!(&r.records[..], &want[..r.records.len()]);
                    let next = r.records.last().map_or(end, |l| l.offset + 1);
                    prop_assert_eq!(r.next_offset, next);
                }
                Op::Reopen => {
                    log.close().await.unwrap();
                    drop(p);
                    drop(log);
                    log = Log::open(cfg.clone()).await.unwrap();
                    p = log.topic(&t).unwrap().partition(0).unwrap();
                }
                Op::Roll => {
                    p.roll().unwrap();
                }
                Op::Clean(frac, past_grace) if !compact => {
                    let old_start = p.start_offset();
                    let limit = p.size_bytes() * u64::from(frac) / 1000;
                    tc.retention_bytes = i64::try_from(limit).unwrap();
                    log.alter_topic_config(&t, tc.clone()).unwrap();
                    log.maintain(if past_grace { TS + 10 * GRACE } else { TS })
                        .unwrap();
                    tc.retention_bytes = -1;
                    log.alter_topic_config(&t, tc.clone()).unwrap();
                    let start = p.start_offset();
                    prop_assert!(start >= old_start && start <= p.end_offset());
                    // Only a prefix goes, and all of it.
                    for slot in &mut model.records[..usize::try_from(start).unwrap()] {
                        *slot = None;
                    }
                }
                Op::Clean(_, past_grace) => {
                    let hw = p.end_offset();
                    log.maintain(if past_grace { TS + 10 * GRACE } else { TS })
                        .unwrap();
                    let after: HashMap<u64, Record> = read_all(&p)
                        .into_iter()
                        .map(|r| (r.offset, r.record))
                        .collect();
                    let mut latest = HashMap::new();
                    for (o, r) in model.records.iter().enumerate() {
                        if let Some(k) = r.as_ref().and_then(|r| r.key.as_ref()) {
                            if (o as u64) < hw {
                                latest.insert(k.clone(), o);
                            }
                        }
                    }
                    // The latest value per key survives.
                    for o in latest.values().copied() {
                        let tombstone =
                            model.records[o].as_ref().is_some_and(|r| r.value.is_none());
                        prop_assert!(tombstone || after.contains_key(&(o as u64)));
                    }
                    for (o, slot) in model.records.iter_mut().enumerate() {
                        let Some(r) = slot else {
                            prop_assert!(
                                !after.contains_key(&(o as u64)),
                                "offset {} came back",
                                o
                            );
                            continue;
                        };
                        match after.get(&(o as u64)) {
                            Some(got) => prop_assert_eq!(got, &*r, "record at {} changed", o),
                            None => {
                                let superseded = r.key.as_ref().is_some_and(|k| latest[k] != o);
                                let expired_tombstone =
                                    past_grace && r.key.is_some() && r.value.is_none();
                                prop_assert!(superseded || expired_tombstone, "offset {} lost", o);
                                *slot = None;
                            }
                        }
                    }
                }
            }
            prop_assert_eq!(p.end_offset(), model.records.len() as u64);
            let start = usize::try_from(p.start_offset()).unwrap();
            prop_assert!(model.records[..start].iter().all(Option::is_none));
            prop_assert_eq!(read_all(&p), model.live(p.start_offset()));
        }
        log.close().await.unwrap();
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn log_matches_model(compact in any::<bool>(), ops in proptest::collection::vec(op(), 1..60)) {
        run(compact, ops)?;
    }
}
