//! Time- and size-based retention: deletes whole closed segments from the head of a partition.
//!
//! Owns the choice of which prefix of closed segments expires. It must never touch the active
//! segment or rewrite files; it runs under the partition's maintenance lock.

use super::{
    config::TopicConfig, error::Result, layout, partition::Partition, store::MaintenanceReport,
};

/// Deletes expired closed segments (a prefix): older than `retention.ms` by max timestamp, and
/// oldest-first while the partition exceeds `retention.bytes`.
pub(crate) fn apply(
    p: &Partition,
    now_ms: i64,
    config: &TopicConfig,
    report: &mut MaintenanceReport,
) -> Result<()> {
    let segments = p.segments();
    let Some((active, closed)) = segments.split_last() else {
        return Ok(());
    };
    // Only finished segments (a prefix): one whose roll is still being finished is left for
    // the next pass.
    let all_closed = closed;
    let closed = &all_closed[..all_closed
        .iter()
        .take_while(|s| s.is_marked_synced())
        .count()];
    let mut expired = 0;
    if config.retention_ms >= 0 {
        let cutoff = now_ms.saturating_sub(config.retention_ms);
        while let Some(s) = closed.get(expired) {
            if s.max_timestamp(p.index_interval())?
                .is_some_and(|m| m >= cutoff)
            {
                break;
            }
            expired += 1;
        }
    }
    if let Ok(limit) = u64::try_from(config.retention_bytes) {
        let mut total: u64 = segments.iter().map(|s| s.len()).sum();
        let mut by_size = 0;
        while let Some(s) = closed.get(by_size) {
            if total <= limit {
                break;
            }
            total -= s.len();
            by_size += 1;
        }
        expired = expired.max(by_size);
    }
    if expired == 0 {
        return Ok(());
    }
    let next_base = all_closed.get(expired).unwrap_or(active).base();
    let changes: Vec<_> = closed[..expired].iter().map(|s| (s.base(), None)).collect();
    // Unlink only after the segments left the list: readers holding a snapshot keep the inode.
    let removed = p.replace_closed(&changes);
    for s in &removed {
        s.remove_files()?;
    }
    layout::fsync_dir(&**p.fs(), p.dir())?;
    report.segments_deleted += removed.len();
    report.records_removed += next_base - closed[0].base();
    Ok(())
}
