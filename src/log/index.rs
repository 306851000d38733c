//! The sparse offset and time index of one segment, in memory and as file bytes.
//!
//! Pure: it sees batch positions and timestamps, never files or records. Entries are
//! relative to the segment's base offset so they fit in u32 (segments are < 4 GiB).

/// Offset index entry size: `[relative_offset u32][position u32]`.
const OFFSET_ENTRY: usize = 8;
/// Time index entry size: `[max_timestamp_so_far i64][relative_offset u32]`.
const TIME_ENTRY: usize = 12;

/// Sparse index of one segment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SparseIndex {
    /// `(relative offset, file position)` of batch starts, both strictly increasing.
    offsets: Vec<(u32, u32)>,
    /// `(max timestamp of all records up to and including the batch, relative offset)`.
    times: Vec<(i64, u32)>,
    max_timestamp: Option<i64>,
    /// Relative offset of the last batch seen, for the closing time entry.
    last_batch: Option<u32>,
    bytes_since_entry: u64,
}

impl SparseIndex {
    /// Records a batch appended at `pos` whose first record is `rel` past the segment base.
    pub(crate) fn observe(&mut self, rel: u32, pos: u32, len: u64, max_ts: i64, interval: u32) {
        let new_max = self.max_timestamp.map_or(max_ts, |m| m.max(max_ts));
        self.max_timestamp = Some(new_max);
        if self.offsets.is_empty() || self.bytes_since_entry >= u64::from(interval) {
            self.offsets.push((rel, pos));
            self.bytes_since_entry = 0;
            if self.times.last().is_none_or(|(t, _)| *t < new_max) {
                self.times.push((new_max, rel));
            }
        }
        self.bytes_since_entry += len;
        self.last_batch = Some(rel);
    }

    /// Position of the last indexed batch at or before relative offset `rel` (0 if none).
    pub(crate) fn position_for(&self, rel: u32) -> u32 {
        let i = self.offsets.partition_point(|(r, _)| *r <= rel);
        if i == 0 { 0 } else { self.offsets[i - 1].1 }
    }

    /// Where to start scanning for the first record with timestamp >= `ts`: the relative
    /// offset of the last entry whose running max is still below `ts` (every record up to
    /// and including that batch is older), or 0.
    pub(crate) fn scan_start_for_timestamp(&self, ts: i64) -> u32 {
        let i = self.times.partition_point(|(t, _)| *t < ts);
        if i == 0 { 0 } else { self.times[i - 1].1 }
    }

    /// Largest record timestamp in the segment, `None` when it has no records.
    pub(crate) fn max_timestamp(&self) -> Option<i64> {
        self.max_timestamp
    }

    /// Serializes both indexes; adds a closing time entry so the last one holds the maximum.
    pub(crate) fn to_bytes(&self) -> (Vec<u8>, Vec<u8>) {
        let mut offsets = Vec::with_capacity(self.offsets.len() * OFFSET_ENTRY);
        for (rel, pos) in &self.offsets {
            offsets.extend_from_slice(&rel.to_le_bytes());
            offsets.extend_from_slice(&pos.to_le_bytes());
        }
        let mut times_v = self.times.clone();
        if let (Some(max), Some(last)) = (self.max_timestamp, self.last_batch) {
            if times_v.last().is_none_or(|(t, _)| *t < max) {
                times_v.push((max, last));
            }
        }
        let mut times = Vec::with_capacity(times_v.len() * TIME_ENTRY);
        for (ts, rel) in &times_v {
            times.extend_from_slice(&ts.to_le_bytes());
            times.extend_from_slice(&rel.to_le_bytes());
        }
        (offsets, times)
    }

    /// Parses index files of a segment of `segment_len` bytes; `None` if they are not
    /// plausible (torn, reordered, pointing past the end), in which case callers rebuild.
    pub(crate) fn from_bytes(offsets: &[u8], times: &[u8], segment_len: u64) -> Option<Self> {
        if !offsets.len().is_multiple_of(OFFSET_ENTRY) || !times.len().is_multiple_of(TIME_ENTRY) {
            return None;
        }
        let mut idx = Self::default();
        for e in offsets.chunks_exact(OFFSET_ENTRY) {
            let rel = u32::from_le_bytes(e[0..4].try_into().ok()?);
            let pos = u32::from_le_bytes(e[4..8].try_into().ok()?);
            if u64::from(pos) >= segment_len {
                return None;
            }
            if idx
                .offsets
                .last()
                .is_some_and(|(r, p)| *r >= rel || *p >= pos)
            {
                return None;
            }
            idx.offsets.push((rel, pos));
        }
        for e in times.chunks_exact(TIME_ENTRY) {
            let ts = i64::from_le_bytes(e[0..8].try_into().ok()?);
            let rel = u32::from_le_bytes(e[8..12].try_into().ok()?);
            if idx.times.last().is_some_and(|(t, r)| *t >= ts || *r > rel) {
                return None;
            }
            idx.times.push((ts, rel));
        }
        // A non-empty segment always has at least one entry of each kind.
        if (segment_len > 0) != (!idx.offsets.is_empty() && !idx.times.is_empty()) {
            return None;
        }
        idx.max_timestamp = idx.times.last().map(|(t, _)| *t);
        idx.last_batch = idx.times.last().map(|(_, r)| *r);
        Some(idx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_and_roundtrip() {
        let mut idx = SparseIndex::default();
        // Batches of 100 bytes, interval 250: entries at batches 0, 3, 6, ...
        for i in 0..10u32 {
            idx.observe(i * 2, i * 100, 100, i64::from(i % 4) * 10, 250);
        }
        assert_eq!(idx.position_for(0), 0);
        assert_eq!(idx.position_for(5), 0);
        assert_eq!(idx.position_for(6), 300);
        assert_eq!(idx.position_for(100), 900);
        assert_eq!(idx.max_timestamp(), Some(30));
        assert_eq!(idx.scan_start_for_timestamp(0), 0);
        let (o, t) = idx.to_bytes();
        let back = SparseIndex::from_bytes(&o, &t, 1000).unwrap();
        assert_eq!(back.position_for(13), 600);
        assert_eq!(back.max_timestamp(), Some(30));
        assert!(SparseIndex::from_bytes(&o[..o.len() - 1], &t, 1000).is_none());
        assert!(SparseIndex::from_bytes(&o, &t, 500).is_none());
        assert!(SparseIndex::from_bytes(&[], &[], 10).is_none());
    }
}
