//! Hostile test plugin: panics when a record's value is `panic`.
//!
//! Any other batch is passed through unchanged, so tests can check that a fresh instance of
//! this plugin works after the host stopped it.

hostile_kit::hostile_plugin!(misbehave);

fn misbehave(batch: &[InputRecord]) -> Option<Vec<OutputRecord>> {
    if triggered(batch, b"panic") {
        panic!("hostile-trap panicked on purpose");
    }
    None
}
