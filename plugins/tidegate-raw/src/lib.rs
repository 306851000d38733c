//! Guest-side codec for the packed batches of the `tidegate:plugin/transformer-raw` interface.
//!
//! The layout is documented in `wit/transform.wit` and frozen for `tidegate:plugin@0.1.x`:
//!
//! ```text
//! input batch   := count:u32  input-record{count}
//! input-record  := offset:u64  timestamp:i64  encoding:u8  key  value  headers
//! output batch  := count:u32  output-record{count}
//! output-record := output:u32  timestamp:i64  encoding:u8  key  value  headers
//! key, value    := len:u32  bytes{len}           (len = 0xFFFF_FFFF: none)
//! headers       := n:u32  ( name-len:u32  name:utf8{name-len}  value-len:u32  value{value-len} ){n}
//! ```
//!
//! Decoding borrows from the input buffer (no copies); encoding appends to one `Vec<u8>`.
//! This crate has no dependencies and knows nothing about WIT bindings.

use std::fmt;

/// The length marker for an absent key or value.
pub const ABSENT: u32 = u32::MAX;
/// `encoding` bit: the key is JSON text.
pub const KEY_JSON: u8 = 0b01;
/// `encoding` bit: the value is JSON text.
pub const VALUE_JSON: u8 = 0b10;

/// The fields shared by input and output records, borrowed from a buffer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message<'a> {
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
    /// `KEY_JSON` / `VALUE_JSON` bits.
    pub encoding: u8,
    /// Optional key.
    pub key: Option<&'a [u8]>,
    /// Value, `None` for a tombstone.
    pub value: Option<&'a [u8]>,
    /// Ordered headers.
    pub headers: Vec<(&'a str, &'a [u8])>,
}

/// One decoded input record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputRecord<'a> {
    /// Offset in the input partition.
    pub offset: u64,
    /// The record.
    pub message: Message<'a>,
}

/// Why a buffer could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Byte position where decoding stopped.
    pub position: usize,
    /// What was wrong there.
    pub problem: &'static str,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bad raw batch at byte {}: {}",
            self.position, self.problem
        )
    }
}

impl std::error::Error for DecodeError {}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or(DecodeError {
            position: self.pos,
            problem: "truncated",
        })?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        self.array().map(u32::from_le_bytes)
    }

    fn bytes(&mut self) -> Result<Option<&'a [u8]>, DecodeError> {
        match self.u32()? {
            ABSENT => Ok(None),
            len => self.take(len as usize).map(Some),
        }
    }

    fn message(&mut self, timestamp: i64) -> Result<Message<'a>, DecodeError> {
        let encoding = self.array::<1>()?[0];
        let key = self.bytes()?;
        let value = self.bytes()?;
        let count = self.u32()?;
        let mut headers = Vec::with_capacity(count.min(64) as usize);
        for _ in 0..count {
            let at = self.pos;
            let name = self.bytes()?.ok_or(DecodeError {
                position: at,
                problem: "absent header name",
            })?;
            let name = std::str::from_utf8(name).map_err(|_| DecodeError {
                position: at,
                problem: "header name is not UTF-8",
            })?;
            let at = self.pos;
            let value = self.bytes()?.ok_or(DecodeError {
                position: at,
                problem: "absent header value",
            })?;
            headers.push((name, value));
        }
        Ok(Message {
            timestamp,
            encoding,
            key,
            value,
            headers,
        })
    }
}

/// A packed input batch: iterate it to decode records one by one.
pub struct InputBatch<'a> {
    reader: Reader<'a>,
    remaining: u32,
}

impl<'a> InputBatch<'a> {
    /// Reads the batch header.
    ///
    /// # Errors
    /// The buffer is shorter than the 4-byte record count.
    pub fn parse(buf: &'a [u8]) -> Result<Self, DecodeError> {
        let mut reader = Reader { buf, pos: 0 };
        let remaining = reader.u32()?;
        Ok(Self { reader, remaining })
    }

    /// Records not yet decoded.
    #[must_use]
    pub fn len(&self) -> usize {
        self.remaining as usize
    }

    /// Whether all records have been decoded.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.remaining == 0
    }
}

impl<'a> Iterator for InputBatch<'a> {
    type Item = Result<InputRecord<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let r = &mut self.reader;
        let record = (|| {
            let offset = u64::from_le_bytes(r.array()?);
            let timestamp = i64::from_le_bytes(r.array()?);
            Ok(InputRecord {
                offset,
                message: r.message(timestamp)?,
            })
        })();
        if record.is_err() {
            self.remaining = 0;
        }
        Some(record)
    }
}

/// Builds a packed output batch.
pub struct OutputWriter {
    buf: Vec<u8>,
    count: u32,
}

impl OutputWriter {
    /// An empty batch with room for about `records` records of `bytes` total.
    #[must_use]
    pub fn with_capacity(records: usize, bytes: usize) -> Self {
        let mut buf = Vec::with_capacity(4 + bytes + records * 8);
        buf.extend_from_slice(&0u32.to_le_bytes());
        Self { buf, count: 0 }
    }

    /// Appends one record for `output` (`None` = the default output).
    pub fn push(&mut self, output: Option<u32>, message: &Message<'_>) {
        self.buf
            .extend_from_slice(&output.unwrap_or(ABSENT).to_le_bytes());
        self.buf.extend_from_slice(&message.timestamp.to_le_bytes());
        self.buf.push(message.encoding);
        self.put_bytes(message.key);
        self.put_bytes(message.value);
        self.put_len(message.headers.len());
        for (name, value) in &message.headers {
            self.put_bytes(Some(name.as_bytes()));
            self.put_bytes(Some(value));
        }
        self.count += 1;
    }

    fn put_len(&mut self, len: usize) {
        let len = u32::try_from(len).ok().filter(|&l| l != ABSENT);
        self.buf
            .extend_from_slice(&len.expect("field shorter than 4 GiB").to_le_bytes());
    }

    fn put_bytes(&mut self, bytes: Option<&[u8]>) {
        match bytes {
            None => self.buf.extend_from_slice(&ABSENT.to_le_bytes()),
            Some(b) => {
                self.put_len(b.len());
                self.buf.extend_from_slice(b);
            }
        }
    }

    /// The finished buffer.
    #[must_use]
    pub fn finish(mut self) -> Vec<u8> {
        self.buf[..4].copy_from_slice(&self.count.to_le_bytes());
        self.buf
    }
}
