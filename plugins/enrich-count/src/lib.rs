//! Stateful example: counts records per key in the host's `kv` store (so the count survives
//! instance replacement) and adds a header `count` with the running count, as decimal text.
//! Records without a key are counted under the empty key.

wit_bindgen::generate!({ path: "../../wit", world: "transform" });

use exports::tidegate::plugin::{config, transformer};
use tidegate::plugin::types::{BatchContext, Header, InputRecord, OutputRecord, TransformError};
use tidegate::plugin::{kv, log};

struct EnrichCount;

fn state_key(key: Option<&[u8]>) -> Vec<u8> {
    let mut k = b"count/".to_vec();
    k.extend_from_slice(key.unwrap_or_default());
    k
}

fn bump(key: &[u8]) -> Result<u64, TransformError> {
    let previous = kv::get(key)
        .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
        .map_or(0, u64::from_le_bytes);
    let count = previous + 1;
    kv::set(key, &count.to_le_bytes())
        .map_err(|e| TransformError::Retryable(format!("kv set failed: {e:?}")))?;
    Ok(count)
}

impl config::Guest for EnrichCount {
    fn init(_config: Vec<(String, String)>) -> Result<(), String> {
        log::log(log::Level::Debug, "enrich-count ready");
        Ok(())
    }
}

impl transformer::Guest for EnrichCount {
    fn transform(
        _ctx: BatchContext,
        batch: Vec<InputRecord>,
    ) -> Result<Vec<OutputRecord>, TransformError> {
        batch
            .into_iter()
            .map(|r| {
                let mut message = r.message;
                let count = bump(&state_key(message.key.as_deref()))?;
                message.headers.push(Header {
                    name: "count".into(),
                    value: count.to_string().into_bytes(),
                });
                Ok(OutputRecord {
                    message,
                    output: None,
                })
            })
            .collect()
    }
}

export!(EnrichCount);
