//! Entry point for the fuzz target (`fuzz/`) and the never-panic proptest: the bytes a raw
//! plugin returns as its `output batch`, decoded and checked as the host does.
//!
//! Owns only the choice of entry; it must not parse anything itself. Built for tests and with
//! the `fuzzing` feature.

use super::{Limits, convert::OutputCheck, raw};

/// A raw plugin's output batch, for a transform with three outputs and for a filter.
pub fn raw_output_batch(data: &[u8]) {
    for outputs in [Some(3), None] {
        let _ = raw::decode(
            data.to_vec(),
            &mut OutputCheck::new(&Limits::default(), outputs),
        );
    }
}

#[cfg(test)]
mod tests {
    use proptest::{arbitrary::any, collection::vec};

    proptest::proptest! {
        /// Whatever bytes a guest returns, the host refuses or accepts them without a panic.
        #[test]
        fn arbitrary_output_batches_never_panic(bytes in vec(any::<u8>(), 0..2048)) {
            super::raw_output_batch(&bytes);
        }
    }
}
