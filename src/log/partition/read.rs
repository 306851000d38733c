//! The read side of a partition: fetches, wake-ups, offsets and timestamp lookup.
//!
//! Owns nothing but lookups over a segment snapshot; it must never take the append lock, so
//! readers and appenders do not contend.

use std::time::Duration;

use super::Partition;
use crate::{
    event::StoredRecord,
    log::{
        error::{Error, Result},
        segment::ReadAcc,
    },
};

/// What a read returns.
pub struct ReadResult {
    /// Records with offset >= the requested offset, ascending, at most max_records
    /// (at least one record if any exists, even if it alone exceeds max_bytes).
    pub records: Vec<StoredRecord>,
    /// Offset to ask for next (last returned offset + 1, or the requested offset if none;
    /// if the requested offset fell in a compacted gap, skips past it).
    pub next_offset: u64,
}

impl Partition {
    /// Reads from `offset`.
    ///
    /// # Errors
    /// `OffsetOutOfRange` unless `start_offset() <= offset <= end_offset()`; `Io`, `Corrupt`.
    pub fn read(&self, offset: u64, max_records: usize, max_bytes: usize) -> Result<ReadResult> {
        let end = self.end_offset();
        let segments = self.segments();
        let start = segments.first().map_or(0, |s| s.base());
        if offset < start || offset > end {
            return Err(Error::OffsetOutOfRange {
                topic: self.topic.clone(),
                partition: self.id,
                requested: offset,
                start,
                end,
            });
        }
        if offset == end || max_records == 0 {
            return Ok(ReadResult {
                records: Vec::new(),
                next_offset: offset,
            });
        }
        let mut acc = ReadAcc {
            records: Vec::with_capacity(max_records.min(4096)),
            bytes: 0,
            max_records,
            max_bytes,
            next: offset,
            end,
        };
        let first = segments
            .partition_point(|s| s.base() <= offset)
            .saturating_sub(1);
        for segment in &segments[first..] {
            if segment.read_into(&mut acc, self.settings.index_interval)? {
                break;
            }
        }
        // Nothing at all in [offset, end) means the rest up to end is a compacted gap.
        let next_offset = if acc.records.is_empty() {
            end
        } else {
            acc.next
        };
        Ok(ReadResult {
            records: acc.records,
            next_offset,
        })
    }

    /// Waits until `end_offset() > offset` or the timeout passes; returns whether data is there.
    /// Also returns true, at once, when the partition is closed (its topic deleted or the log
    /// closed): the caller looks again and finds out.
    pub async fn wait_for(&self, offset: u64, timeout: Duration) -> bool {
        let mut rx = self.durability.hw.subscribe();
        let closed = &self.durability.closed;
        matches!(
            tokio::time::timeout(
                timeout,
                rx.wait_for(|hw| *hw > offset || closed.load(std::sync::atomic::Ordering::Acquire))
            )
            .await,
            Ok(Ok(_))
        )
    }

    /// Whether a read from `offset` starts in a segment whose index is in memory, so it
    /// cannot turn into an index load or rebuild (callers keep such reads off the async
    /// workers).
    pub fn index_ready_for(&self, offset: u64) -> bool {
        let segments = self.segments();
        let i = segments
            .partition_point(|s| s.base() <= offset)
            .saturating_sub(1);
        segments.get(i).is_some_and(|s| s.index_loaded())
    }

    /// First offset still in the log (after retention).
    pub fn start_offset(&self) -> u64 {
        self.segments().first().map_or(0, |s| s.base())
    }

    /// High watermark: one past the last record visible to readers.
    pub fn end_offset(&self) -> u64 {
        *self.durability.hw.borrow()
    }

    /// First offset whose record timestamp >= ts, or None if none.
    ///
    /// # Errors
    /// `Io`, `Corrupt`.
    pub fn offset_for_timestamp(&self, ts: i64) -> Result<Option<u64>> {
        let end = self.end_offset();
        for segment in self.segments().iter() {
            if let Some(o) = segment.offset_for_timestamp(ts, end, self.settings.index_interval)? {
                return Ok(Some(o));
            }
        }
        Ok(None)
    }
}
