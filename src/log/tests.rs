//! Integration tests of the log against real files in temp dirs (no mocks).

use std::{path::Path, sync::Arc, time::Duration};

use bytes::Bytes;

use super::*;
use crate::event::{Header, Record, StoredRecord, TopicName};

mod compaction;
mod delete;
mod model;
mod recovery;
mod sim;

pub(super) fn config(dir: &Path, fsync: FsyncPolicy) -> LogConfig {
    LogConfig {
        dir: dir.to_path_buf(),
        fsync,
        segment_bytes: 1 << 20,
        segment_ms: 7 * 24 * 3600 * 1000,
        index_interval_bytes: 128,
        ..LogConfig::new(dir.to_path_buf())
    }
}

pub(super) fn name(s: &str) -> TopicName {
    TopicName::new(s).unwrap()
}

pub(super) fn rec(key: Option<&str>, value: Option<&str>, ts: i64) -> Record {
    Record {
        key: key.map(|k| Bytes::copy_from_slice(k.as_bytes())),
        value: value.map(|v| Bytes::copy_from_slice(v.as_bytes())),
        headers: vec![Header {
            name: "h".into(),
            value: Bytes::from_static(b"v"),
        }],
        timestamp: ts,
        attributes: 0,
    }
}

pub(super) fn read_all(p: &Partition) -> Vec<StoredRecord> {
    let mut out = Vec::new();
    let mut at = p.start_offset();
    while at < p.end_offset() {
        let r = p.read(at, 7, 300).unwrap();
        assert!(r.next_offset > at, "read made no progress at {at}");
        out.extend(r.records);
        at = r.next_offset;
    }
    out
}

pub(super) fn topic_config(log: &Log) -> TopicConfig {
    TopicConfig::defaults(log.config())
}

pub(super) fn seg_path(dir: &Path, topic: &str, base: u64, ext: &str) -> std::path::PathBuf {
    dir.join(format!("topics/{topic}/0/{base:020}.{ext}"))
}

pub(super) fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_shares_fsyncs() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(config(dir.path(), FsyncPolicy::Always))
        .await
        .unwrap();
    let p = log
        .create_topic(&name("g"), 1, topic_config(&log))
        .unwrap()
        .partition(0)
        .unwrap();
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let p = Arc::clone(&p);
            tokio::spawn(async move {
                let mut offsets = Vec::new();
                for j in 0..10 {
                    let base = p
                        .append(&[rec(None, Some(&format!("{i}-{j}")), 1)])
                        .await
                        .unwrap();
                    // Acknowledged means visible (and durable) under Always.
                    assert!(p.end_offset() > base);
                    offsets.push(base);
                }
                offsets
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort_unstable();
    assert_eq!(all, (0..640).collect::<Vec<u64>>());
    assert_eq!(p.end_offset(), 640);
    let fsyncs = p.fsync_count();
    assert!(
        (1..=640 / 4).contains(&fsyncs),
        "{fsyncs} fsyncs for 640 appends"
    );
    log.close().await.unwrap();
    assert!(matches!(
        p.append(&[rec(None, None, 1)]).await,
        Err(Error::Closed { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_wakes_on_append_and_times_out() {
    let dir = tempfile::tempdir().unwrap();
    for policy in [FsyncPolicy::Never, FsyncPolicy::Always] {
        let log = Log::open(config(&dir.path().join(format!("{policy:?}")), policy))
            .await
            .unwrap();
        let p = log
            .create_topic(&name("w"), 1, topic_config(&log))
            .unwrap()
            .partition(0)
            .unwrap();
        assert!(!p.wait_for(0, Duration::from_millis(50)).await);
        let waiter = {
            let p = Arc::clone(&p);
            tokio::spawn(async move {
                let t = std::time::Instant::now();
                (p.wait_for(0, Duration::from_secs(10)).await, t.elapsed())
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(p.append(&[rec(None, Some("x"), 1)]).await.unwrap(), 0);
        assert_eq!(p.end_offset(), 1);
        let (woke, took) = waiter.await.unwrap();
        assert!(
            woke && took < Duration::from_secs(2),
            "woke={woke} after {took:?}"
        );
        assert!(p.wait_for(0, Duration::from_millis(1)).await);
        assert!(!p.wait_for(1, Duration::from_millis(20)).await);
        log.close().await.unwrap();
    }
}

#[tokio::test]
async fn interval_policy_flushes_in_background() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(config(
        dir.path(),
        FsyncPolicy::Interval(Duration::from_millis(10)),
    ))
    .await
    .unwrap();
    let p = log
        .create_topic(&name("i"), 1, topic_config(&log))
        .unwrap()
        .partition(0)
        .unwrap();
    p.append(&[rec(None, Some("x"), 1)]).await.unwrap();
    assert_eq!(p.end_offset(), 1, "visible before the fsync");
    for _ in 0..200 {
        if p.fsync_count() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(p.fsync_count() > 0);
    log.close().await.unwrap();
    log.close().await.unwrap();
}

#[tokio::test]
async fn offset_for_timestamp_uses_running_max() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), FsyncPolicy::Never);
    cfg.segment_bytes = 600;
    let log = Log::open(cfg).await.unwrap();
    let p = log
        .create_topic(&name("ts"), 1, topic_config(&log))
        .unwrap()
        .partition(0)
        .unwrap();
    for i in 1..=50i64 {
        p.append(&[rec(None, Some("v"), i * 100)]).await.unwrap();
    }
    assert!(p.segment_count() > 2);
    assert_eq!(p.offset_for_timestamp(0).unwrap(), Some(0));
    assert_eq!(p.offset_for_timestamp(100).unwrap(), Some(0));
    assert_eq!(p.offset_for_timestamp(101).unwrap(), Some(1));
    assert_eq!(p.offset_for_timestamp(2550).unwrap(), Some(25));
    assert_eq!(p.offset_for_timestamp(5000).unwrap(), Some(49));
    assert_eq!(p.offset_for_timestamp(5001).unwrap(), None);
}

#[tokio::test]
async fn retention_by_bytes_and_time_deletes_whole_old_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), FsyncPolicy::Never);
    cfg.segment_bytes = 1000;
    let log = Log::open(cfg).await.unwrap();
    let t = name("r");
    let mut tc = topic_config(&log);
    tc.retention_ms = -1;
    let p = log
        .create_topic(&t, 1, tc.clone())
        .unwrap()
        .partition(0)
        .unwrap();
    for i in 0..100i64 {
        p.append(&[rec(None, Some(&"y".repeat(50)), 1000 + i)])
            .await
            .unwrap();
    }
    let segs = p.segment_count();
    assert!(segs > 5);
    assert_eq!(log.maintain(10_000).unwrap().segments_deleted, 0);
    tc.retention_bytes = 3000;
    log.alter_topic_config(&t, tc.clone()).unwrap();
    let report = log.maintain(10_000).unwrap();
    assert!(report.segments_deleted > 0);
    assert!(p.size_bytes() <= 3000);
    let start = p.start_offset();
    assert!(start > 0);
    let rest = read_all(&p);
    assert_eq!(rest.first().unwrap().offset, start);
    assert_eq!(rest.len() as u64, 100 - start);
    assert!(matches!(p.read(0, 1, 1), Err(Error::OffsetOutOfRange { start: s, .. }) if s == start));
    // By time: everything older than 1090 expires, the active segment never does.
    tc.retention_bytes = -1;
    tc.retention_ms = 1000;
    log.alter_topic_config(&t, tc).unwrap();
    log.maintain(2090).unwrap();
    assert!(p.start_offset() > start);
    assert!(p.start_offset() <= 90);
    log.maintain(1_000_000).unwrap();
    assert_eq!(p.segment_count(), 1);
    assert_eq!(p.end_offset(), 100);
    assert!(p.start_offset() <= 100);
}

#[tokio::test]
async fn compaction_keeps_latest_per_key_and_expires_tombstones() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), FsyncPolicy::Never);
    cfg.segment_bytes = 400;
    let log = Log::open(cfg.clone()).await.unwrap();
    let t = name("k");
    let mut tc = topic_config(&log);
    tc.cleanup_policy = CleanupPolicy::Compact;
    tc.delete_retention_ms = 1000;
    let p = log.create_topic(&t, 1, tc).unwrap().partition(0).unwrap();
    for i in 0..40 {
        let key = format!("k{}", i % 4);
        p.append(&[rec(Some(&key), Some(&format!("v{i}")), 100)])
            .await
            .unwrap();
    }
    p.append(&[rec(Some("k0"), None, 100), rec(None, Some("nokey"), 100)])
        .await
        .unwrap();
    p.append(&[rec(Some("z"), Some("filler"), 100)])
        .await
        .unwrap();
    p.roll().unwrap();
    let end = p.end_offset();
    let report = log.maintain(500).unwrap();
    assert!(report.segments_compacted > 0 && report.records_removed > 0);
    let left = read_all(&p);
    let keys = |left: &[StoredRecord]| -> Vec<(u64, Option<Bytes>)> {
        left.iter()
            .map(|r| (r.offset, r.record.key.clone()))
            .collect()
    };
    let k = |s: &str| Some(Bytes::copy_from_slice(s.as_bytes()));
    assert_eq!(
        keys(&left),
        vec![
            (37, k("k1")),
            (38, k("k2")),
            (39, k("k3")),
            (40, k("k0")),
            (41, None),
            (42, k("z"))
        ]
    );
    assert_eq!(p.end_offset(), end);
    assert_eq!(
        p.read(p.start_offset(), 10, 1 << 20).unwrap().records[0].offset,
        37
    );
    // Past the grace period the tombstone goes too; offsets stay.
    log.maintain(100 + 1001).unwrap();
    let left = read_all(&p);
    assert_eq!(
        keys(&left),
        vec![
            (37, k("k1")),
            (38, k("k2")),
            (39, k("k3")),
            (41, None),
            (42, k("z"))
        ]
    );
    log.close().await.unwrap();
    drop(log);
    let log = Log::open(cfg).await.unwrap();
    let p = log.topic(&t).unwrap().partition(0).unwrap();
    assert_eq!(read_all(&p), left);
    assert_eq!(p.append(&[rec(None, Some("next"), 1)]).await.unwrap(), end);
}

#[tokio::test]
async fn topics_lifecycle_config_persistence_and_age_roll() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), FsyncPolicy::Never);
    let log = Log::open(cfg.clone()).await.unwrap();
    let (a, b) = (name("a"), name("b.x-1"));
    let mut tc = topic_config(&log);
    log.create_topic(&b, 2, tc.clone()).unwrap();
    let ta = log.create_topic(&a, 3, tc.clone()).unwrap();
    assert!(matches!(
        log.create_topic(&a, 1, tc.clone()),
        Err(Error::TopicExists { .. })
    ));
    assert!(matches!(
        log.create_topic(&name("z"), 0, tc.clone()),
        Err(Error::InvalidConfig { .. })
    ));
    assert!(matches!(
        ta.partition(3),
        Err(Error::UnknownPartition { partitions: 3, .. })
    ));
    let names: Vec<_> = log.topics().iter().map(|t| t.name().to_string()).collect();
    assert_eq!(names, ["a", "b.x-1"]);
    tc.segment_ms = 1000;
    tc.retention_bytes = 12345;
    let mut bad = tc.clone();
    bad.segment_bytes = 0;
    let err = log.alter_topic_config(&a, bad).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidConfig { field, .. } if field == "segment.bytes"),
        "{err}"
    );
    log.alter_topic_config(&a, tc.clone()).unwrap();
    let p = ta.partition(1).unwrap();
    p.append(&[rec(None, Some("old"), 5000)]).await.unwrap();
    assert_eq!(log.maintain(5999).unwrap().segments_rolled, 0);
    assert_eq!(log.maintain(6000).unwrap().segments_rolled, 1);
    assert_eq!(p.segment_count(), 2);
    let tooo_big = Record {
        value: Some(Bytes::from(vec![0; 2_000_000])),
        ..Record::default()
    };
    assert!(matches!(
        p.append(&[tooo_big]).await,
        Err(Error::BatchTooLarge { .. })
    ));
    log.delete_topic(&b).unwrap();
    assert!(matches!(log.topic(&b), Err(Error::UnknownTopic { .. })));
    assert!(!dir.path().join("topics/b.x-1").exists());
    log.close().await.unwrap();
    drop(log);
    let log = Log::open(cfg).await.unwrap();
    assert_eq!(log.topics().len(), 1);
    let ta = log.topic(&a).unwrap();
    assert_eq!(ta.config(), tc);
    assert_eq!(ta.partition_count(), 3);
    assert_eq!(
        ta.partition(1).unwrap().read(0, 10, 10).unwrap().records[0]
            .record
            .value,
        Some(Bytes::from("old"))
    );
    // A recreated topic starts empty.
    log.create_topic(&b, 1, tc).unwrap();
    assert_eq!(log.topic(&b).unwrap().partition(0).unwrap().end_offset(), 0);
}

#[tokio::test]
async fn reads_respect_limits_and_span_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), FsyncPolicy::Never);
    cfg.segment_bytes = 2000;
    let log = Log::open(cfg).await.unwrap();
    let p = log
        .create_topic(&name("s"), 1, topic_config(&log))
        .unwrap()
        .partition(0)
        .unwrap();
    for i in 0..30 {
        let recs: Vec<_> = (0..5)
            .map(|j| rec(None, Some(&format!("{i}:{j}")), 1))
            .collect();
        p.append(&recs).await.unwrap();
    }
    let r = p.read(3, 1000, usize::MAX).unwrap();
    assert_eq!(r.records.len(), 147);
    assert_eq!(r.next_offset, 150);
    assert!(
        r.records
            .iter()
            .enumerate()
            .all(|(i, r)| r.offset == i as u64 + 3)
    );
    let r = p.read(7, 4, usize::MAX).unwrap();
    assert_eq!((r.records.len(), r.next_offset), (4, 11));
    let r = p.read(7, 100, 0).unwrap();
    assert_eq!((r.records.len(), r.next_offset), (1, 8));
    let r = p.read(150, 100, 100).unwrap();
    assert!(r.records.is_empty() && r.next_offset == 150);
    assert!(matches!(
        p.read(151, 1, 1),
        Err(Error::OffsetOutOfRange { end: 150, .. })
    ));
    assert_eq!(p.append(&[]).await.unwrap(), 150);
}
