//! Integration tests of the plugin layer against real components built from `plugins/`.
//!
//! One test binary: shared helpers here, scenarios in `tests/plugins/*.rs`.

mod support_plugins;

#[path = "plugins/cache.rs"]
mod cache;
#[path = "plugins/connectors.rs"]
mod connectors;
#[path = "plugins/examples.rs"]
mod examples;
#[path = "plugins/hostile.rs"]
mod hostile;
#[path = "plugins/python.rs"]
mod python;
#[path = "plugins/uploads.rs"]
mod uploads;

use std::sync::Arc;

use bytes::Bytes;
use tidegate::event::{ATTR_VALUE_JSON, Header, Record, StoredRecord};
use tidegate::plugin::{BatchContext, Host, Limits, MemoryStateStore, Plugin, PluginConfig};

/// A host over a fresh temporary cache directory (kept alive by the returned guard).
pub fn host() -> (Host, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    (host_in(dir.path()), dir)
}

/// A host over `dir`, with a small instance pool.
pub fn host_in(dir: &std::path::Path) -> Host {
    let mut config = PluginConfig::new(dir);
    config.pool_instances = 32;
    Host::new(config).expect("host")
}

/// Compiles and loads the guest crate `name`.
pub async fn plugin(host: &Host, name: &str) -> Plugin {
    let info = host
        .compile(support_plugins::wasm(name))
        .await
        .expect("compile");
    host.load(&info.digest).await.expect("load")
}

/// Config pairs from string slices.
pub fn config(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The batch context used throughout.
pub fn ctx() -> BatchContext {
    BatchContext {
        topic: "orders".into(),
        partition: 3,
    }
}

/// A fresh in-memory state store.
pub fn state() -> Arc<MemoryStateStore> {
    Arc::new(MemoryStateStore::default())
}

/// Default limits.
pub fn limits() -> Limits {
    Limits::default()
}

/// A JSON-valued record with a key and one header.
pub fn json(offset: u64, key: &str, value: &str) -> StoredRecord {
    StoredRecord {
        offset,
        record: Record {
            key: Some(Bytes::copy_from_slice(key.as_bytes())),
            value: Some(Bytes::copy_from_slice(value.as_bytes())),
            headers: vec![Header {
                name: "source".into(),
                value: Bytes::from_static(b"test"),
            }],
            timestamp: 1_700_000_000_000 + i64::try_from(offset).expect("small"),
            attributes: ATTR_VALUE_JSON,
        },
    }
}

/// A plain record whose value is `value` (the hostile plugins' trigger words).
pub fn plain(offset: u64, value: &str) -> StoredRecord {
    StoredRecord {
        offset,
        record: Record {
            value: Some(Bytes::copy_from_slice(value.as_bytes())),
            ..Record::default()
        },
    }
}

/// The value of an output record as text.
pub fn text(r: &Record) -> String {
    String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned()
}
