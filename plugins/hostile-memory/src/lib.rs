//! Hostile test plugin: allocates (and touches) 1 MiB blocks until it dies when a record's value is `grow`.
//!
//! Any other batch is passed through unchanged, so tests can check that a fresh instance of
//! this plugin works after the host stopped it.

hostile_kit::hostile_plugin!(misbehave);

fn misbehave(batch: &[InputRecord]) -> Option<Vec<OutputRecord>> {
    if triggered(batch, b"grow") {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(std::hint::black_box(vec![1u8; 1 << 20]));
        }
    }
    None
}
