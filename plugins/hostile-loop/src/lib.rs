//! Hostile test plugin: spins forever when a record's value is `loop`.
//!
//! Any other batch is passed through unchanged, so tests can check that a fresh instance of
//! this plugin works after the host stopped it.

hostile_kit::hostile_plugin!(misbehave);

fn misbehave(batch: &[InputRecord]) -> Option<Vec<OutputRecord>> {
    if triggered(batch, b"loop") {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
    None
}
