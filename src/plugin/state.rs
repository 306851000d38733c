//! The seam through which a plugin's `kv` import reaches durable state.
//!
//! Owns the [`StateStore`] trait and an in-memory implementation for tests. It must not decide
//! where state is persisted or how it is scoped: the caller (the pipeline) hands each instance
//! a store scoped to one (pipeline, partition) and persists it with the batch's outputs.

use std::collections::HashMap;
use std::sync::Mutex;

/// Key-value state behind the WIT `kv` interface. Calls come from plugin threads, synchronously
/// in the middle of a guest call, so implementations should be fast (in-memory, with the
/// caller persisting changes at batch boundaries).
pub trait StateStore: Send + Sync {
    /// The value under `key`, if any.
    fn get(&self, key: &[u8]) -> Option<Vec<u8>>;
    /// Stores `value` under `key`.
    ///
    /// # Errors
    /// [`StateFull`] when the write would take the store past its quota (nothing is stored).
    fn set(&self, key: &[u8], value: &[u8]) -> Result<(), StateFull>;
    /// Removes `key` (no-op if absent).
    fn delete(&self, key: &[u8]);
}

/// A write refused because the store would pass its total size quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("plugin state is limited to {limit} bytes (keys + values) per transform")]
pub struct StateFull {
    /// The quota, in bytes.
    pub limit: usize,
}

/// A `StateStore` in a `HashMap`: for tests and for throw-away instances.
#[derive(Debug, Default)]
pub struct MemoryStateStore {
    map: Mutex<HashMap<Vec<u8>, Vec<u8>>>,
}

impl MemoryStateStore {
    /// Number of keys stored.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the store is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, Vec<u8>>> {
        // A panic while holding this lock cannot leave the map half-updated (single insert or
        // remove), so a poisoned lock is still consistent.
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl StateStore for MemoryStateStore {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.lock().get(key).cloned()
    }

    fn set(&self, key: &[u8], value: &[u8]) -> Result<(), StateFull> {
        self.lock().insert(key.to_vec(), value.to_vec());
        Ok(())
    }

    fn delete(&self, key: &[u8]) {
        self.lock().remove(key);
    }
}
