//! Fetch and timestamp lookup within one segment.
//!
//! Owns turning an offset into a file position and decoding records in large zero-copy
//! chunks. It must never write, and never look past the segment's committed length.

use super::{Segment, Visit, scan};
use crate::{
    event::StoredRecord,
    log::{
        error::Result,
        record::{self, DecodeError, Records},
    },
};

/// Upper bound of one read for a fetch; larger fetches loop.
const MAX_READ_CHUNK: usize = 64 << 20;
/// First read of a fetch; later reads of the same fetch double up to `MAX_READ_CHUNK`.
const FIRST_READ_CHUNK: usize = 256 << 10;

impl Segment {
    /// Appends records with offsets in `[acc.next, acc.end)` to `acc` until its budget is spent.
    /// Returns true when the read is complete (budget spent or `end` reached).
    pub(crate) fn read_into(&self, acc: &mut ReadAcc, interval: u32) -> Result<bool> {
        let limit = self.len();
        let rel = u32::try_from(acc.next.saturating_sub(self.base)).unwrap_or(u32::MAX);
        let mut pos = u64::from(self.with_index(interval, |i| i.position_for(rel))?);
        let mut at_least = 0usize;
        // Start small and double: a fetch of a few records must not read `max_bytes` from
        // disk, while a large catch-up read still reaches big chunks after a few rounds.
        let mut chunk_cap = FIRST_READ_CHUNK;
        while pos < limit {
            let budget = acc.max_bytes.saturating_sub(acc.bytes);
            let want = budget
                .saturating_add(2 * interval as usize + (64 << 10))
                .min(MAX_READ_CHUNK)
                .min(chunk_cap);
            chunk_cap = chunk_cap.saturating_mul(2);
            let want = want
                .max(at_least)
                .min(usize::try_from(limit - pos).unwrap_or(usize::MAX));
            let chunk = self.read_at(pos, want)?;
            let mut off = 0;
            at_least = 0;
            while off < chunk.len() {
                let h = match record::verify(&chunk[off..]) {
                    Ok(h) => h,
                    Err(DecodeError::Incomplete) => {
                        let need = record::peek_header(&chunk[off..])
                            .map_or(record::HEADER_LEN, |h| h.total_len);
                        if pos + (off + need) as u64 > limit {
                            return Err(self.corrupt(pos + off as u64, &DecodeError::Incomplete));
                        }
                        at_least = need;
                        break;
                    }
                    Err(e) => return Err(self.corrupt(pos + off as u64, &e)),
                };
                let batch = chunk.slice(off..off + h.total_len);
                for r in Records::new(batch, &h) {
                    let (r, size) = r.map_err(|e| self.corrupt(pos + off as u64, &e))?;
                    if r.offset < acc.next {
                        continue;
                    }
                    if r.offset >= acc.end || acc.records.len() >= acc.max_records {
                        return Ok(true);
                    }
                    if !acc.records.is_empty() && acc.bytes.saturating_add(size) > acc.max_bytes {
                        return Ok(true);
                    }
                    acc.bytes += size;
                    acc.next = r.offset + 1;
                    acc.records.push(r);
                }
                off += h.total_len;
            }
            pos += off as u64;
        }
        Ok(false)
    }

    /// First offset below `end` whose record timestamp is >= `ts`.
    pub(crate) fn offset_for_timestamp(
        &self,
        ts: i64,
        end: u64,
        interval: u32,
    ) -> Result<Option<u64>> {
        let start = self.with_index(interval, |i| {
            (i.max_timestamp().is_some_and(|m| m >= ts))
                .then(|| i.position_for(i.scan_start_for_timestamp(ts)))
        })?;
        let Some(start) = start else { return Ok(None) };
        let mut found = None;
        scan(
            &*self.file,
            &self.paths.log,
            u64::from(start),
            self.len(),
            |_, h, batch| {
                if h.max_timestamp < ts {
                    return Ok(Visit::Continue);
                }
                for r in Records::new(batch, h) {
                    let (r, _) = r.map_err(|e| self.corrupt(0, &e))?;
                    if r.offset >= end {
                        return Ok(Visit::Stop);
                    }
                    if r.record.timestamp >= ts {
                        found = Some(r.offset);
                        return Ok(Visit::Stop);
                    }
                }
                Ok(Visit::Continue)
            },
        )?;
        Ok(found)
    }
}

/// A fetch in progress across segments.
pub(crate) struct ReadAcc {
    pub records: Vec<StoredRecord>,
    pub bytes: usize,
    pub max_records: usize,
    pub max_bytes: usize,
    /// Next offset wanted.
    pub next: u64,
    /// Exclusive upper bound (the high watermark when the read began).
    pub end: u64,
}
