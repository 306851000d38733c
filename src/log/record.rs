//! The batch codec: bytes <-> records, exactly as specified in the `log` module docs.
//!
//! Pure: no I/O, no locks, no knowledge of segments. Decoding is total — any input yields a
//! value or a [`DecodeError`], never a panic — because it runs on bytes read back from disk.

use bytes::Bytes;

use crate::event::{Header, Record, StoredRecord};

/// `[len u32]`.
pub(crate) const LEN_PREFIX: usize = 4;
/// `[len][base_offset][crc][record_count][max_timestamp]`.
pub(crate) const HEADER_LEN: usize = 4 + 8 + 4 + 4 + 8;
/// The smallest legal `len` field: base + crc + an empty payload header.
const MIN_LEN_FIELD: u32 = (HEADER_LEN - LEN_PREFIX) as u32;
/// Fixed bytes of one record besides key, value and headers.
const RECORD_FIXED: usize = 4 + 8 + 1 + 4 + 4 + 4;

/// The fixed fields at the start of every batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchHeader {
    /// Whole batch size including the length prefix.
    pub total_len: usize,
    pub base_offset: u64,
    pub crc: u32,
    pub record_count: u32,
    pub max_timestamp: i64,
}

/// Why bytes are not a valid batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// Fewer bytes than the header or the length field promises (a torn tail, or a short read).
    Incomplete,
    /// The length field is below the minimum.
    BadLength(u32),
    /// Payload checksum mismatch.
    Crc { stored: u32, computed: u32 },
    /// Structurally invalid payload (CRC matched, so this is a bug or a forged batch).
    Malformed(&'static str),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Incomplete => f.write_str("incomplete batch"),
            Self::BadLength(l) => write!(f, "batch length field {l} is too small"),
            Self::Crc { stored, computed } => {
                write!(
                    f,
                    "crc mismatch (stored {stored:#010x}, computed {computed:#010x})"
                )
            }
            Self::Malformed(what) => write!(f, "malformed batch: {what}"),
        }
    }
}

/// A batch encoded with a placeholder base offset of 0.
pub(crate) struct EncodedBatch {
    pub bytes: Vec<u8>,
    pub max_timestamp: i64,
    /// Offset delta of the last record: the batch covers `base ..= base + last_delta`.
    pub last_delta: u32,
}

/// Size of one record on disk.
pub(crate) fn encoded_record_len(r: &Record) -> usize {
    RECORD_FIXED
        + r.key.as_ref().map_or(0, Bytes::len)
        + r.value.as_ref().map_or(0, Bytes::len)
        + r.headers
            .iter()
            .map(|h| 2 + h.name.len() + 4 + h.value.len())
            .sum::<usize>()
}

/// Why a batch could not be encoded: `(size, limit)` of what was too large.
pub(crate) struct TooLarge(pub usize, pub usize);

/// Encodes `(offset_delta, record)` pairs; `now_ms` replaces timestamps of 0 when given.
///
/// Deltas must be strictly increasing; callers construct them, so that is an invariant.
pub(crate) fn encode<'a>(
    records: impl Iterator<Item = (u32, &'a Record)> + Clone,
    now_ms: Option<i64>,
    max_record_bytes: usize,
) -> Result<EncodedBatch, TooLarge> {
    let mut total = HEADER_LEN;
    for (_, r) in records.clone() {
        let len = encoded_record_len(r);
        if r.payload_len() > max_record_bytes {
            return Err(TooLarge(r.payload_len(), max_record_bytes));
        }
        if r.headers
            .iter()
            .any(|h| h.name.len() > usize::from(u16::MAX))
        {
            return Err(TooLarge(len, usize::from(u16::MAX)));
        }
        total += len;
    }
    let limit = i32::MAX as usize;
    if total > limit {
        return Err(TooLarge(total, limit));
    }
    let mut buf = Vec::with_capacity(total);
    buf.extend_from_slice(&[0; HEADER_LEN]);
    let (mut count, mut max_ts, mut last_delta) = (0u32, i64::MIN, 0u32);
    for (delta, r) in records {
        let ts = match now_ms {
            Some(now) if r.timestamp == 0 => now,
            _ => r.timestamp,
        };
        max_ts = max_ts.max(ts);
        count += 1;
        last_delta = delta;
        buf.extend_from_slice(&delta.to_le_bytes());
        buf.extend_from_slice(&ts.to_le_bytes());
        buf.push(r.attributes);
        put_opt(&mut buf, r.key.as_ref());
        put_opt(&mut buf, r.value.as_ref());
        buf.extend_from_slice(&len_u32(r.headers.len()).to_le_bytes());
        for h in &r.headers {
            let name_len = u16::try_from(h.name.len()).expect("checked against u16::MAX above");
            buf.extend_from_slice(&name_len.to_le_bytes());
            buf.extend_from_slice(h.name.as_bytes());
            buf.extend_from_slice(&len_u32(h.value.len()).to_le_bytes());
            buf.extend_from_slice(&h.value);
        }
    }
    let len_field = len_u32(buf.len() - LEN_PREFIX);
    buf[0..4].copy_from_slice(&len_field.to_le_bytes());
    buf[16..20].copy_from_slice(&count.to_le_bytes());
    buf[20..28].copy_from_slice(&max_ts.to_le_bytes());
    let crc = crc32c::crc32c(&buf[16..]);
    buf[12..16].copy_from_slice(&crc.to_le_bytes());
    Ok(EncodedBatch {
        bytes: buf,
        max_timestamp: max_ts,
        last_delta,
    })
}

/// Lengths were bounded by `i32::MAX` in [`encode`].
fn len_u32(n: usize) -> u32 {
    u32::try_from(n).expect("batch size was checked to be below i32::MAX")
}

fn put_opt(buf: &mut Vec<u8>, b: Option<&Bytes>) {
    match b {
        None => buf.extend_from_slice(&(-1i32).to_le_bytes()),
        Some(b) => {
            let n = i32::try_from(b.len()).expect("batch size was checked to be below i32::MAX");
            buf.extend_from_slice(&n.to_le_bytes());
            buf.extend_from_slice(b);
        }
    }
}

/// Sets the base offset of an encoded batch (outside the CRC by design).
pub(crate) fn set_base_offset(batch: &mut [u8], base: u64) {
    batch[4..12].copy_from_slice(&base.to_le_bytes());
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Parses the fixed header at the start of `buf` without checking the CRC.
pub(crate) fn peek_header(buf: &[u8]) -> Result<BatchHeader, DecodeError> {
    let len = u32_at(buf, 0).ok_or(DecodeError::Incomplete)?;
    if len < MIN_LEN_FIELD {
        return Err(DecodeError::BadLength(len));
    }
    let h = (|| {
        Some(BatchHeader {
            total_len: usize::try_from(len).ok()? + LEN_PREFIX,
            base_offset: u64_at(buf, 4)?,
            crc: u32_at(buf, 12)?,
            record_count: u32_at(buf, 16)?,
            max_timestamp: i64::from_le_bytes(buf.get(20..28)?.try_into().ok()?),
        })
    })();
    h.ok_or(DecodeError::Incomplete)
}

/// Checks that `buf` starts with a whole batch with a valid CRC.
pub(crate) fn verify(buf: &[u8]) -> Result<BatchHeader, DecodeError> {
    let h = peek_header(buf)?;
    let batch = buf.get(..h.total_len).ok_or(DecodeError::Incomplete)?;
    let computed = crc32c::crc32c(&batch[16..]);
    if computed != h.crc {
        return Err(DecodeError::Crc {
            stored: h.crc,
            computed,
        });
    }
    Ok(h)
}

/// Iterates the records of one verified batch; `batch` is exactly the batch's bytes.
///
/// Yields each record with its encoded size. Slices of `batch` are returned (zero copy).
pub(crate) struct Records {
    batch: Bytes,
    pos: usize,
    left: u32,
    base: u64,
    last_delta: Option<u32>,
}

impl Records {
    pub(crate) fn new(batch: Bytes, header: &BatchHeader) -> Self {
        Self {
            batch,
            pos: HEADER_LEN,
            left: header.record_count,
            base: header.base_offset,
            last_delta: None,
        }
    }

    fn take(&mut self, n: usize) -> Result<Bytes, DecodeError> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.batch.len());
        let end = end.ok_or(DecodeError::Malformed("field runs past the batch end"))?;
        let out = self.batch.slice(self.pos..end);
        self.pos = end;
        Ok(out)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let b = self.batch.get(self.pos..self.pos + N);
        let b = b.ok_or(DecodeError::Malformed("field runs past the batch end"))?;
        self.pos += N;
        b.try_into()
            .map_err(|_| DecodeError::Malformed("field size"))
    }

    fn opt(&mut self) -> Result<Option<Bytes>, DecodeError> {
        match i32::from_le_bytes(self.fixed()?) {
            -1 => Ok(None),
            n if n < 0 => Err(DecodeError::Malformed("negative length")),
            n => Ok(Some(self.take(
                usize::try_from(n).map_err(|_| DecodeError::Malformed("len"))?,
            )?)),
        }
    }

    fn record(&mut self) -> Result<(StoredRecord, usize), DecodeError> {
        let start = self.pos;
        let delta = u32::from_le_bytes(self.fixed()?);
        if self.last_delta.is_some_and(|d| d >= delta) {
            return Err(DecodeError::Malformed("offset deltas not increasing"));
        }
        self.last_delta = Some(delta);
        let timestamp = i64::from_le_bytes(self.fixed()?);
        let [attributes] = self.fixed::<1>()?;
        let key = self.opt()?;
        let value = self.opt()?;
        let n_headers = u32::from_le_bytes(self.fixed()?);
        let mut headers = Vec::new();
        for _ in 0..n_headers {
            let name_len = u16::from_le_bytes(self.fixed()?);
            let name = self.take(usize::from(name_len))?;
            let name = std::str::from_utf8(&name)
                .map_err(|_| DecodeError::Malformed("header name is not UTF-8"))?
                .to_owned();
            let val_len = u32::from_le_bytes(self.fixed()?);
            let value =
                self.take(usize::try_from(val_len).map_err(|_| DecodeError::Malformed("len"))?)?;
            headers.push(Header { name, value });
        }
        let offset = self.base.checked_add(u64::from(delta));
        let offset = offset.ok_or(DecodeError::Malformed("offset overflows u64"))?;
        let record = Record {
            key,
            value,
            headers,
            timestamp,
            attributes,
        };
        Ok((StoredRecord { offset, record }, self.pos - start))
    }
}

impl Iterator for Records {
    type Item = Result<(StoredRecord, usize), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            if self.pos != self.batch.len() {
                self.pos = self.batch.len();
                return Some(Err(DecodeError::Malformed(
                    "trailing bytes after the last record",
                )));
            }
            return None;
        }
        self.left -= 1;
        let r = self.record();
        if r.is_err() {
            self.left = 0;
            self.pos = self.batch.len();
        }
        Some(r)
    }
}

#[cfg(any(test, feature = "fuzzing"))]
/// Verifies and fully decodes the batch at the start of `buf`; returns its records and the
/// offset just past its last record.
pub(crate) fn decode(buf: &Bytes) -> Result<(BatchHeader, Vec<StoredRecord>), DecodeError> {
    let h = verify(buf)?;
    let recs = Records::new(buf.slice(..h.total_len), &h)
        .map(|r| r.map(|(s, _)| s))
        .collect::<Result<Vec<_>, _>>()?;
    if recs.is_empty() {
        return Err(DecodeError::Malformed("batch without records"));
    }
    Ok((h, recs))
}

#[cfg(test)]
mod tests;
