//! Compaction with a bounded offset map: any number of keys converges over passes without the
//! map outgrowing its limit, tombstones expire without resurrecting older values, and a
//! partition with nothing new is not read again.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::{config, name, read_all, rec, topic_config};
use crate::log::{CleanupPolicy, FsyncPolicy, Log};

#[tokio::test]
async fn many_keys_converge_with_a_bounded_map_and_unchanged_partitions_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), FsyncPolicy::Never);
    cfg.segment_bytes = 2000;
    cfg.compaction_map_entries = 8;
    let log = Log::open(cfg).await.unwrap();
    let mut tc = topic_config(&log);
    tc.cleanup_policy = CleanupPolicy::Compact;
    tc.delete_retention_ms = 1_000_000;
    let p = log
        .create_topic(&name("many"), 1, tc)
        .unwrap()
        .partition(0)
        .unwrap();
    // 200 keys × 3 versions, interleaved; every 10th key ends with a tombstone.
    let mut latest = BTreeMap::new();
    for version in 0..3 {
        for key in 0..200 {
            let k = format!("key{key:03}");
            let tombstone = version == 2 && key % 10 == 0;
            let v = (!tombstone).then(|| format!("{k}-v{version}"));
            let offset = p.append(&[rec(Some(&k), v.as_deref(), 100)]).await.unwrap();
            latest.insert(k, (offset, v));
        }
    }
    p.append(&[rec(Some("last"), Some("x"), 100)])
        .await
        .unwrap();
    p.roll().unwrap();
    let expected = |latest: &BTreeMap<String, (u64, Option<String>)>| {
        let mut e: Vec<(u64, String, Option<String>)> = latest
            .iter()
            .map(|(k, (o, v))| (*o, k.clone(), v.clone()))
            .collect();
        e.push((600, "last".into(), Some("x".into())));
        e.sort();
        e
    };
    let present = || {
        read_all(&p)
            .into_iter()
            .map(|r| {
                let s = |b: Option<Bytes>| b.map(|b| String::from_utf8(b.to_vec()).unwrap());
                (r.offset, s(r.record.key).unwrap(), s(r.record.value))
            })
            .collect::<Vec<_>>()
    };
    let mut passes = 0;
    while present() != expected(&latest) {
        passes += 1;
        assert!(passes < 300, "compaction did not converge");
        log.maintain(200).unwrap();
    }
    assert!(
        passes > 3,
        "200 keys should need several passes of an 8-entry map"
    );
    let progress = || {
        let g = p.compaction_progress().lock();
        (g.peak_map_entries, g.passes)
    };
    let (peak, ran) = progress();
    assert!(peak <= 8, "the offset map held {peak} entries");
    // Converged and nothing new: further passes do not read the partition.
    log.maintain(300).unwrap();
    log.maintain(400).unwrap();
    log.maintain(500).unwrap();
    assert!(
        progress().1 <= ran + 1,
        "an unchanged partition was compacted again"
    );
    let settled = progress().1;
    log.maintain(600).unwrap();
    assert_eq!(progress().1, settled);

    // Past the grace period the tombstones go, and no older value of their keys comes back.
    let mut passes = 0;
    latest.retain(|_, (_, v)| v.is_some());
    while present() != expected(&latest) {
        passes += 1;
        assert!(passes < 300, "tombstones did not expire");
        log.maintain(100 + 1_000_001).unwrap();
    }
    assert!(progress().0 <= 8);
}
