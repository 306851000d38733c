//! Host side of the `transform-raw` packed batch layout (specified in `wit/transform.wit`):
//! encodes input batches, decodes and checks output batches.
//!
//! A pure codec: no I/O, no wasmtime. Decoding never trusts a length: every read is bounds
//! checked, counts are checked against the limits before anything is allocated for them, and
//! payloads become zero-copy `Bytes` slices of the guest's returned buffer.

use bytes::Bytes;

use super::OutputRecord;
use super::convert::OutputCheck;
use crate::event::{ATTR_KEY_JSON, ATTR_VALUE_JSON, Header, Record, StoredRecord};

/// Length marker for an absent key or value.
const ABSENT: u32 = u32::MAX;
const KNOWN_ENCODING_BITS: u8 = ATTR_KEY_JSON | ATTR_VALUE_JSON;

fn put_len(buf: &mut Vec<u8>, len: usize) {
    // Record fields are far below 4 GiB (the log caps record size), so this cannot clamp a
    // real record; clamping keeps the function total.
    let len = u32::try_from(len).unwrap_or(ABSENT - 1).min(ABSENT - 1);
    buf.extend_from_slice(&len.to_le_bytes());
}

fn put_bytes(buf: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        None => buf.extend_from_slice(&ABSENT.to_le_bytes()),
        Some(b) => {
            put_len(buf, b.len());
            buf.extend_from_slice(b);
        }
    }
}

/// Packs a batch in the `input batch` layout.
pub(crate) fn encode(batch: &[StoredRecord]) -> Vec<u8> {
    let size: usize = batch
        .iter()
        .map(|s| 33 + s.record.payload_len() + 8 * s.record.headers.len())
        .sum();
    let mut buf = Vec::with_capacity(4 + size);
    put_len(&mut buf, batch.len());
    for s in batch {
        let r = &s.record;
        buf.extend_from_slice(&s.offset.to_le_bytes());
        buf.extend_from_slice(&r.timestamp.to_le_bytes());
        buf.push(r.attributes & KNOWN_ENCODING_BITS);
        put_bytes(&mut buf, r.key.as_deref());
        put_bytes(&mut buf, r.value.as_deref());
        put_len(&mut buf, r.headers.len());
        for h in &r.headers {
            put_bytes(&mut buf, Some(h.name.as_bytes()));
            put_bytes(&mut buf, Some(&h.value));
        }
    }
    buf
}

struct Reader {
    buf: Bytes,
    pos: usize,
}

impl Reader {
    fn take(&mut self, n: usize) -> Result<Bytes, String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or_else(|| format!("raw output truncated at byte {}", self.pos))?;
        let bytes = self.buf.slice(self.pos..end);
        self.pos = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut out = [0; N];
        out.copy_from_slice(&self.take(N)?);
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, String> {
        self.array().map(u32::from_le_bytes)
    }

    fn bytes(&mut self) -> Result<Option<Bytes>, String> {
        match self.u32()? {
            ABSENT => Ok(None),
            len => self.take(len as usize).map(Some),
        }
    }

    fn present(&mut self, what: &str) -> Result<Bytes, String> {
        let at = self.pos;
        self.bytes()?
            .ok_or_else(|| format!("absent {what} at byte {at}"))
    }

    fn record(&mut self) -> Result<OutputRecord, String> {
        let output = match self.u32()? {
            ABSENT => None,
            i => Some(i),
        };
        let timestamp = i64::from_le_bytes(self.array()?);
        let [attributes] = self.array()?;
        if attributes & !KNOWN_ENCODING_BITS != 0 {
            return Err(format!("unknown encoding bits {attributes:#04x}"));
        }
        let key = self.bytes()?;
        let value = self.bytes()?;
        let n = self.u32()? as usize;
        // Each header takes at least 8 bytes, so `n` cannot exceed what is left / 8.
        let mut headers = Vec::with_capacity(n.min((self.buf.len() - self.pos) / 8));
        for _ in 0..n {
            let name = self.present("header name")?;
            let name = String::from_utf8(name.to_vec()).map_err(|_| "header name is not UTF-8")?;
            headers.push(Header {
                name,
                value: self.present("header value")?,
            });
        }
        let record = Record {
            key,
            value,
            headers,
            timestamp,
            attributes,
        };
        Ok(OutputRecord { record, output })
    }
}

/// Unpacks and checks an `output batch`.
pub(crate) fn decode(buf: Vec<u8>, check: &mut OutputCheck) -> Result<Vec<OutputRecord>, String> {
    let mut reader = Reader {
        buf: Bytes::from(buf),
        pos: 0,
    };
    let count = reader.u32()? as usize;
    check.count(count)?;
    // Each record takes at least 25 bytes: a lying count cannot make us over-allocate.
    let mut out = Vec::with_capacity(count.min(reader.buf.len() / 25));
    for _ in 0..count {
        let r = reader.record()?;
        check.record(&r)?;
        out.push(r);
    }
    if reader.pos != reader.buf.len() {
        return Err(format!("{} trailing bytes", reader.buf.len() - reader.pos));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::Limits;

    fn sample(
        offset: u64,
        key: Option<&'static [u8]>,
        value: Option<&'static [u8]>,
    ) -> StoredRecord {
        let record = Record {
            key: key.map(Bytes::from_static),
            value: value.map(Bytes::from_static),
            headers: vec![Header {
                name: "h".into(),
                value: Bytes::from_static(b"v"),
            }],
            timestamp: -5,
            attributes: ATTR_VALUE_JSON,
        };
        StoredRecord { offset, record }
    }

    /// Rewrites an input batch as an output batch (offset:u64 → output:u32), like a guest would.
    fn echo(input: &[u8], output: u32) -> Vec<u8> {
        let batch = [sample(7, Some(b"k"), None), sample(8, None, Some(b"{}"))];
        let mut out = input[..4].to_vec();
        for s in &batch {
            let one = encode(std::slice::from_ref(s));
            out.extend_from_slice(&output.to_le_bytes());
            out.extend_from_slice(&one[12..]);
        }
        out
    }

    #[test]
    fn roundtrip_through_an_echoing_guest() {
        let batch = [sample(7, Some(b"k"), None), sample(8, None, Some(b"{}"))];
        let input = encode(&batch);
        let mut check = OutputCheck::new(&Limits::default(), None);
        let out = decode(echo(&input, ABSENT), &mut check).expect("valid");
        let records: Vec<Record> = out.iter().map(|o| o.record.clone()).collect();
        assert_eq!(records, batch.map(|s| s.record));
        assert!(out.iter().all(|o| o.output.is_none()));
        let routed = decode(
            echo(&input, 1),
            &mut OutputCheck::new(&Limits::default(), Some(2)),
        );
        assert!(routed.expect("valid").iter().all(|o| o.output == Some(1)));
    }

    #[test]
    fn malformed_output_is_refused() {
        let input = encode(&[sample(7, Some(b"k"), None), sample(8, None, Some(b"{}"))]);
        let good = echo(&input, ABSENT);
        let check = || OutputCheck::new(&Limits::default(), Some(1));
        for cut in 0..good.len() {
            assert!(
                decode(good[..cut].to_vec(), &mut check()).is_err(),
                "cut at {cut}"
            );
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(decode(trailing, &mut check()).is_err());
        let lying = [u32::MAX - 1].map(u32::to_le_bytes).concat();
        assert!(decode(lying, &mut check()).unwrap_err().contains("limit"));
        assert!(
            decode(echo(&input, 1), &mut check())
                .unwrap_err()
                .contains("output index 1")
        );
    }
}
