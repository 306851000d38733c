//! Confluent's wire format for Kafka keys and values: magic byte `0`, the schema id as a
//! 4-byte big-endian integer, then the payload (API-COMPAT §5). Only the framing lives here.

use crate::event::SchemaId;

/// The magic byte of the id-prefixed framing.
pub const MAGIC: u8 = 0;

/// Bytes before the payload.
pub const HEADER_LEN: usize = 5;

/// Splits framed bytes into id and payload; `None` when `bytes` are not framed (too short,
/// or another magic byte such as newer serdes' GUID form, which we do not accept).
#[must_use]
pub fn split(bytes: &[u8]) -> Option<(SchemaId, &[u8])> {
    let (header, payload) = bytes.split_at_checked(HEADER_LEN)?;
    let (&magic, id) = header.split_first()?;
    if magic != MAGIC {
        return None;
    }
    let id = u32::from_be_bytes(id.try_into().ok()?);
    Some((SchemaId(id), payload))
}

/// Writes the header for `id` into `out` (the payload follows).
pub fn write_header(id: SchemaId, out: &mut Vec<u8>) {
    out.push(MAGIC);
    out.extend_from_slice(&id.0.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_round_trips_and_refuses_other_magic_bytes() {
        let mut bytes = Vec::new();
        write_header(SchemaId(258), &mut bytes);
        bytes.extend_from_slice(b"payload");
        assert_eq!(&bytes[..5], &[0, 0, 0, 1, 2]);
        assert_eq!(split(&bytes), Some((SchemaId(258), &b"payload"[..])));
        assert_eq!(split(&[0, 0, 0, 1]), None);
        assert_eq!(split(&[1, 0, 0, 0, 1, 9]), None);
        assert_eq!(split(&[0, 0, 0, 0, 7]), Some((SchemaId(7), &[][..])));
    }
}
