//! Crash recovery: torn and corrupt tails of the active segment; closed segments untouched.

use super::{config, name, read_all, rec, rt, seg_path, topic_config};
use crate::log::{Error, FsyncPolicy, Log};

/// Truncating or corrupting the last batch at every byte position loses only that batch.
#[test]
fn torn_or_corrupt_tail_is_truncated_at_every_position() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let t = name("t");
    let (last_start, expected) = rt.block_on(async {
        let log = Log::open(config(dir.path(), FsyncPolicy::Never))
            .await
            .unwrap();
        let p = log
            .create_topic(&t, 1, topic_config(&log))
            .unwrap()
            .partition(0)
            .unwrap();
        for i in 0..4 {
            let recs: Vec<_> = (0..3)
                .map(|j| rec(Some("k"), Some(&format!("v{i}{j}")), 10))
                .collect();
            p.append(&recs).await.unwrap();
        }
        let expected = read_all(&p);
        let last_start = p.size_bytes();
        p.append(&[rec(Some("key"), Some("last"), 10), rec(None, None, 11)])
            .await
            .unwrap();
        log.close().await.unwrap();
        (last_start, expected)
    });
    let path = seg_path(dir.path(), "t", 0, "log");
    let original = std::fs::read(&path).unwrap();
    let last_len = original.len() as u64 - last_start;
    let check = |bytes: &[u8]| {
        std::fs::write(&path, bytes).unwrap();
        rt.block_on(async {
            let log = Log::open(config(dir.path(), FsyncPolicy::Never))
                .await
                .unwrap();
            let p = log.topic(&t).unwrap().partition(0).unwrap();
            assert_eq!(p.end_offset(), 12);
            assert_eq!(read_all(&p), expected);
            assert_eq!(p.size_bytes(), last_start);
            assert_eq!(p.append(&[rec(None, Some("again"), 5)]).await.unwrap(), 12);
            log.close().await.unwrap();
        });
    };
    for cut in last_start..original.len() as u64 {
        check(&original[..usize::try_from(cut).unwrap()]);
    }
    for i in 0..last_len {
        let mut bytes = original.clone();
        bytes[usize::try_from(last_start + i).unwrap()] ^= 0x5a;
        check(&bytes);
    }
}

/// Startup trusts closed segments: garbage inside one does not slow or fail open.
#[tokio::test]
async fn open_does_not_scan_closed_segments() {
    let dir = tempfile::tempdir().unwrap();
    let t = name("c");
    let (cfg, log, p) = hundred_records_in_small_segments(dir.path(), &t).await;
    let end = p.end_offset();
    log.close().await.unwrap();
    drop(log);
    let first = seg_path(dir.path(), "c", 0, "log");
    let len = std::fs::metadata(&first).unwrap().len();
    let mut bytes = std::fs::read(&first).unwrap();
    bytes[usize::try_from(len / 2).unwrap()..].fill(0xff);
    std::fs::write(&first, &bytes).unwrap();
    // Second closed segment loses its index files: they are rebuilt on first read.
    let second_base = {
        let mut bases =
            super::layout::list_segments(&crate::durable::fs::OsFs, &dir.path().join("topics/c/0"))
                .unwrap();
        bases.sort_unstable();
        bases[1]
    };
    std::fs::remove_file(seg_path(dir.path(), "c", second_base, "index")).unwrap();
    let log = Log::open(cfg).await.unwrap();
    let p = log.topic(&t).unwrap().partition(0).unwrap();
    assert_eq!(p.end_offset(), end);
    assert_eq!(
        std::fs::metadata(&first).unwrap().len(),
        len,
        "closed segment untouched"
    );
    let r = p.read(second_base, 1000, 1 << 20).unwrap();
    assert_eq!(r.records.len() as u64, end - second_base);
    assert!(matches!(
        p.read(0, 1000, 1 << 20),
        Err(Error::Corrupt { .. })
    ));
}

/// A power loss under `never` can tear the tail of a segment closed by a roll that did not
/// fsync it. Start-up must repair it — cut there, drop later segments, keep offsets dense —
/// instead of answering "corrupt" to every read from offset 0 forever.
#[tokio::test]
async fn a_torn_unsynced_closed_segment_is_repaired_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let t = name("torn");
    let (cfg, log, p) = hundred_records_in_small_segments(dir.path(), &t).await;
    // A crash, not a clean close: nothing marks the rolled segments as synced.
    drop(p);
    drop(log);
    let pdir = dir.path().join("topics/torn/0");
    let bases = super::layout::list_segments(&crate::durable::fs::OsFs, &pdir).unwrap();
    let second = bases[1];
    let victim = seg_path(dir.path(), "torn", second, "log");
    let len = std::fs::metadata(&victim).unwrap().len();
    // The power loss kept only part of the second segment's unsynced tail.
    let torn = std::fs::OpenOptions::new()
        .write(true)
        .open(&victim)
        .unwrap();
    torn.set_len(len - 50).unwrap();
    drop(torn);
    let log = Log::open(cfg.clone()).await.unwrap();
    let p = log.topic(&t).unwrap().partition(0).unwrap();
    let all = read_all(&p);
    let offsets: Vec<u64> = all.iter().map(|r| r.offset).collect();
    assert_eq!(
        offsets,
        (0..p.end_offset()).collect::<Vec<_>>(),
        "dense from 0"
    );
    assert!(
        p.end_offset() > second && p.end_offset() < bases[2],
        "cut inside the torn segment"
    );
    p.append(&[rec(None, Some("after"), 6)]).await.unwrap();
    log.close().await.unwrap();
    drop(log);
    // After a clean close every closed segment is marked and trusted again.
    let log = Log::open(cfg).await.unwrap();
    let p = log.topic(&t).unwrap().partition(0).unwrap();
    assert_eq!(
        read_all(&p).last().unwrap().record.value.as_deref(),
        Some(&b"after"[..])
    );
}

/// Start-up scans unsynced closed segments; compacted ones have offset gaps, which the scan
/// must accept instead of cutting the segment (and everything after it) at the first gap.
#[tokio::test]
async fn unsynced_compacted_segments_survive_a_crash_restart() {
    let dir = tempfile::tempdir().unwrap();
    let t = name("cmp");
    let mut cfg = config(dir.path(), FsyncPolicy::Never);
    cfg.segment_bytes = 2048;
    let log = Log::open(cfg.clone()).await.unwrap();
    let mut tc = topic_config(&log);
    tc.cleanup_policy = crate::log::CleanupPolicy::Compact;
    let p = log.create_topic(&t, 1, tc).unwrap().partition(0).unwrap();
    for i in 0..200 {
        let key = format!("k{}", i % 7);
        p.append(&[rec(Some(&key), Some(&"v".repeat(50)), 5)])
            .await
            .unwrap();
    }
    log.maintain(10).unwrap();
    let before = read_all(&p);
    assert!(before.len() < 200, "compaction removed records");
    drop(p);
    drop(log);
    let log = Log::open(cfg).await.unwrap();
    let p = log.topic(&t).unwrap().partition(0).unwrap();
    assert_eq!(read_all(&p), before, "nothing lost to the start-up scan");
    assert_eq!(p.end_offset(), 200);
}

/// A `never` log in `dir` whose topic `t` holds 100 records over more than three segments.
async fn hundred_records_in_small_segments(
    dir: &std::path::Path,
    t: &crate::event::TopicName,
) -> (
    crate::log::LogConfig,
    std::sync::Arc<Log>,
    std::sync::Arc<crate::log::Partition>,
) {
    let mut cfg = config(dir, FsyncPolicy::Never);
    cfg.segment_bytes = 4096;
    let log = Log::open(cfg.clone()).await.unwrap();
    let p = log
        .create_topic(t, 1, topic_config(&log))
        .unwrap()
        .partition(0)
        .unwrap();
    for i in 0..100 {
        p.append(&[rec(Some("k"), Some(&"x".repeat(100 + i)), 5)])
            .await
            .unwrap();
    }
    assert!(p.segment_count() > 3);
    (cfg, log, p)
}
