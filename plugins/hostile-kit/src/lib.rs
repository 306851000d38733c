//! The shared skeleton of the hostile test plugins.
//!
//! Each hostile plugin is its own component with one misbehaviour, set off by a trigger value;
//! every other batch passes through unchanged, so tests can check that a fresh instance works
//! after the host stopped the last one. [`hostile_plugin!`] writes everything but the
//! misbehaviour: the `transform` world bindings (wit-bindgen types are per crate, so this has to
//! be a macro expanded in each plugin), a no-op `init`, the pass-through and the export.

/// Expands to a complete `transform` plugin around `$misbehave`, a
/// `fn(&[InputRecord]) -> Option<Vec<OutputRecord>>` that returns `Some` (or never returns) when
/// the batch holds its trigger. Also defines `triggered(batch, value)` for it to use.
#[macro_export]
macro_rules! hostile_plugin {
    ($misbehave:ident) => {
        wit_bindgen::generate!({ path: "../../wit", world: "transform" });

        use exports::tidegate::plugin::{config, transformer};
        use tidegate::plugin::types::{BatchContext, InputRecord, OutputRecord, TransformError};

        struct Hostile;

        impl config::Guest for Hostile {
            fn init(_config: Vec<(String, String)>) -> Result<(), String> {
                Ok(())
            }
        }

        impl transformer::Guest for Hostile {
            fn transform(
                _ctx: BatchContext,
                batch: Vec<InputRecord>,
            ) -> Result<Vec<OutputRecord>, TransformError> {
                if let Some(out) = $misbehave(&batch) {
                    return Ok(out);
                }
                Ok(batch
                    .into_iter()
                    .map(|r| OutputRecord { message: r.message, output: None })
                    .collect())
            }
        }

        /// Whether any record of `batch` has exactly `trigger` as its value.
        fn triggered(batch: &[InputRecord], trigger: &[u8]) -> bool {
            batch.iter().any(|r| r.message.value.as_deref() == Some(trigger))
        }

        export!(Hostile);
    };
}
