//! Hostile test plugin: for a record valued `records` returns 200 000 output records;
//! for `bytes`, 48 records of 1 MiB each.
//!
//! Any other batch is passed through unchanged, so tests can check that a fresh instance of
//! this plugin works after the host stopped it.

hostile_kit::hostile_plugin!(misbehave);

fn misbehave(batch: &[InputRecord]) -> Option<Vec<OutputRecord>> {
    let template = batch.first()?;
    let many = |n: usize, size: usize| {
        (0..n)
            .map(|_| {
                let mut message = template.message.clone();
                message.value = Some(vec![b'x'; size]);
                OutputRecord {
                    message,
                    output: None,
                }
            })
            .collect()
    };
    if triggered(batch, b"records") {
        return Some(many(200_000, 0));
    }
    if triggered(batch, b"bytes") {
        return Some(many(48, 1 << 20));
    }
    None
}
