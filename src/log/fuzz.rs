//! Entry points for the fuzz targets (`fuzz/`) and the never-panic proptests: bytes as a disk
//! could hold them, fed to the decoders that meet them on open and on read.
//!
//! Owns only the framing of fuzz input; it must not parse anything itself, so what is fuzzed
//! is exactly the code that runs in the gateway. Built for tests and with the `fuzzing` feature.

use std::{path::PathBuf, sync::Arc};

use bytes::Bytes;

use super::{Log, LogConfig, TopicConfig, layout, record};
use crate::{
    durable::fs::{FileRef, Filesystem, OpenMode, sim::SimFs},
    event::TopicName,
};

/// One batch as stored, decoded in full (header, CRC, every record).
pub fn batch(data: &[u8]) {
    let _ = record::peek_header(data);
    let _ = record::decode(&Bytes::copy_from_slice(data));
    // Behind a valid length and CRC, so the record decoder itself sees the bytes.
    let forged = forge_batches(data);
    let _ = record::decode(&Bytes::from(forged));
}

/// A whole segment file: a log whose only partition holds `data` is opened (recovery scans,
/// truncates, rebuilds its indexes) and read from its start to its end. Odd first bytes frame
/// the rest as CRC-valid batches in offset order, so recovery accepts them and the read path
/// decodes them.
pub fn segment_file(data: &[u8]) {
    // One runtime for every input (the target runs on one thread).
    static RUNTIME: std::sync::OnceLock<Option<tokio::runtime::Runtime>> =
        std::sync::OnceLock::new();
    let runtime =
        RUNTIME.get_or_init(|| tokio::runtime::Builder::new_current_thread().build().ok());
    let Some(rt) = runtime else {
        return;
    };
    let contents = match data.split_first() {
        Some((mode, rest)) if mode & 1 == 1 => forge_batches(rest),
        _ => data.to_vec(),
    };
    rt.block_on(open_and_read(contents));
}

async fn open_and_read(contents: Vec<u8>) {
    let sim = SimFs::new(0);
    let config = LogConfig {
        fs: sim.clone(),
        ..LogConfig::new(PathBuf::from("/data"))
    };
    let Ok(name) = TopicName::new("t") else {
        return;
    };
    {
        let Ok(log) = Log::open(config.clone()).await else {
            return;
        };
        let topic_config = TopicConfig::defaults(&config);
        if log.create_topic(&name, 1, topic_config).is_err() || log.close().await.is_err() {
            return;
        }
    }
    let dir = layout::partition_dir(&layout::topic_dir(&config.dir, "t"), 0);
    let paths = layout::segment_paths(&dir, 0);
    let file: Option<FileRef> = sim.open(&paths.log, OpenMode::ReadWrite).ok();
    let Some(file) = file else {
        return;
    };
    if file.set_len(0).is_err() || file.write_all_at(&contents, 0).is_err() {
        return;
    }
    let Ok(log) = Log::open(config).await else {
        return;
    };
    read_all(&log, &name);
    let _ = log.close().await;
}

fn read_all(log: &Arc<Log>, name: &TopicName) {
    let Ok(partition) = log.topic(name).and_then(|t| t.partition(0)) else {
        return;
    };
    let mut at = partition.start_offset();
    while let Ok(read) = partition.read(at, 64, 1 << 20) {
        if read.next_offset <= at {
            break;
        }
        at = read.next_offset;
    }
}

/// Cuts `data` into batches, each `data[0] + 28` bytes long (the first byte of each piece is
/// its length), gives each a correct length prefix, the next base offset and a valid CRC.
fn forge_batches(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 64);
    let mut next = 0u64;
    while let Some((&n, rest)) = data.split_first() {
        let len = (usize::from(n) + record::HEADER_LEN).min(rest.len().max(record::HEADER_LEN));
        let mut piece = vec![0u8; len];
        let take = len.min(rest.len());
        piece[..take].copy_from_slice(&rest[..take]);
        data = &rest[take..];
        let Ok(len_field) = u32::try_from(len - record::LEN_PREFIX) else {
            break;
        };
        piece[0..4].copy_from_slice(&len_field.to_le_bytes());
        piece[4..12].copy_from_slice(&next.to_le_bytes());
        let crc = crc32c::crc32c(&piece[16..]);
        piece[12..16].copy_from_slice(&crc.to_le_bytes());
        if let Ok((_, records)) = record::decode(&Bytes::copy_from_slice(&piece)) {
            next = records.last().map_or(next, |r| r.offset.saturating_add(1));
        }
        out.extend_from_slice(&piece);
        if take == 0 {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    proptest::proptest! {
        /// Any segment file is recovered (truncated where it stops making sense) and read to
        /// its end without a panic.
        #[test]
        fn arbitrary_segment_files_never_panic(bytes in proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..1024)) {
            super::segment_file(&bytes);
        }

        /// Any batch bytes, raw and behind a forged CRC, decode or fail without a panic.
        #[test]
        fn arbitrary_batches_never_panic(bytes in proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..512)) {
            super::batch(&bytes);
        }
    }

    /// Forging gets real batches past the length and CRC checks: a stored batch with its
    /// header scrambled comes back out with its record.
    #[test]
    fn forged_batches_reach_the_record_decoder() {
        let record = crate::event::Record {
            key: None,
            value: Some(bytes::Bytes::from_static(b"{}")),
            headers: Vec::new(),
            timestamp: 1,
            attributes: 0,
        };
        let encoded = super::record::encode(std::iter::once((0, &record)), None, 1024)
            .map_err(|_| "too large")
            .unwrap();
        let mut batch = encoded.bytes;
        batch[0..16].fill(0xAB);
        let mut input = vec![u8::try_from(batch.len() - super::record::HEADER_LEN).unwrap()];
        input.extend_from_slice(&batch);
        let framed = super::forge_batches(&input);
        let (_, records) = super::record::decode(&bytes::Bytes::from(framed)).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].offset, 0);
    }
}
