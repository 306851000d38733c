//! The plugin-facing key-value store of one running transform: committed state plus the
//! uncommitted changes of the batch in flight.
//!
//! Changes made during a batch stay in an overlay until the batch commits (then they are
//! persisted with the input position) or fails (then they are dropped), so a retried or
//! re-run batch sees exactly the state the first attempt saw.
//!
//! The state of one transform (keys + values, committed and uncommitted together) is bounded
//! by a quota ([`MAX_STATE_BYTES`] by default); a write past it is refused, so no plugin can
//! grow its durable state, and the gateway's memory, without bound.

use std::collections::HashMap;

use parking_lot::Mutex;

use crate::broker::{PluginState as StateStore, StateFull};

/// Default quota of one transform's state: keys plus values, in bytes.
pub const MAX_STATE_BYTES: usize = 64 << 20;

/// Key → value, or `None` for a deletion.
pub type Changes = Vec<(Vec<u8>, Option<Vec<u8>>)>;

#[derive(Debug)]
pub struct BatchState {
    committed: Mutex<HashMap<Vec<u8>, Vec<u8>>>,
    overlay: Mutex<Overlay>,
    quota: usize,
}

#[derive(Debug, Default)]
struct Overlay {
    changes: HashMap<Vec<u8>, Option<Vec<u8>>>,
    /// Size of committed state plus these changes.
    size: usize,
}

fn entry_size(key: &[u8], value: &[u8]) -> usize {
    key.len() + value.len()
}

impl BatchState {
    pub fn new(committed: HashMap<Vec<u8>, Vec<u8>>) -> Self {
        Self::with_quota(committed, MAX_STATE_BYTES)
    }

    /// A state whose total size may not pass `quota` bytes (keys plus values).
    pub fn with_quota(committed: HashMap<Vec<u8>, Vec<u8>>, quota: usize) -> Self {
        let size = committed.iter().map(|(k, v)| entry_size(k, v)).sum();
        Self {
            committed: Mutex::new(committed),
            overlay: Mutex::new(Overlay {
                changes: HashMap::new(),
                size,
            }),
            quota,
        }
    }

    /// Drops the uncommitted changes (before a retry).
    pub fn discard(&self) {
        // Lock order everywhere: overlay, then committed (never both the other way round).
        let mut overlay = self.overlay.lock();
        overlay.changes.clear();
        overlay.size = self
            .committed
            .lock()
            .iter()
            .map(|(k, v)| entry_size(k, v))
            .sum();
    }

    /// The size of the current effective entry under `key` (0 if none).
    fn current_size(&self, overlay: &Overlay, key: &[u8]) -> usize {
        match overlay.changes.get(key) {
            Some(Some(v)) => entry_size(key, v),
            Some(None) => 0,
            None => self
                .committed
                .lock()
                .get(key)
                .map_or(0, |v| entry_size(key, v)),
        }
    }

    /// The uncommitted changes, without applying them.
    pub fn changes(&self) -> Changes {
        self.overlay
            .lock()
            .changes
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Makes the uncommitted changes the committed state (after they were persisted).
    pub fn apply(&self) {
        let changes: Vec<_> = self.overlay.lock().changes.drain().collect();
        let mut committed = self.committed.lock();
        for (k, v) in changes {
            match v {
                Some(v) => committed.insert(k, v),
                None => committed.remove(&k),
            };
        }
    }
}

impl StateStore for BatchState {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        if let Some(v) = self.overlay.lock().changes.get(key) {
            return v.clone();
        }
        self.committed.lock().get(key).cloned()
    }

    fn set(&self, key: &[u8], value: &[u8]) -> Result<(), StateFull> {
        let mut overlay = self.overlay.lock();
        let size = overlay.size - self.current_size(&overlay, key) + entry_size(key, value);
        if size > self.quota {
            return Err(StateFull { limit: self.quota });
        }
        overlay.size = size;
        overlay.changes.insert(key.to_vec(), Some(value.to_vec()));
        Ok(())
    }

    fn delete(&self, key: &[u8]) {
        let mut overlay = self.overlay.lock();
        overlay.size -= self.current_size(&overlay, key);
        overlay.changes.insert(key.to_vec(), None);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]
    use super::*;

    #[test]
    fn quota_bounds_committed_plus_uncommitted_state() {
        let state = BatchState::with_quota(HashMap::from([(b"a".to_vec(), vec![0; 6])]), 20);
        assert_eq!(
            state.set(b"b", &[0; 13]),
            Err(StateFull { limit: 20 }),
            "7 + 14 > 20"
        );
        state.set(b"b", &[0; 12]).unwrap();
        state.delete(b"a");
        state.set(b"c", &[0; 6]).unwrap();
        state.set(b"c", &[0; 6]).unwrap();
        assert!(
            state.set(b"c", &[0; 7]).is_err(),
            "a replaced value counts once"
        );
        state.discard();
        state.set(b"b", &[0; 13]).unwrap_err();
        state.set(b"b", &[0; 12]).unwrap();
        state.apply();
        assert!(
            state.set(b"z", &[]).is_err(),
            "the committed size carries over"
        );
    }

    #[test]
    fn overlay_reads_through_and_commits_or_discards() {
        let state = BatchState::new(HashMap::from([(b"a".to_vec(), b"1".to_vec())]));
        state.set(b"b", b"2").unwrap();
        state.delete(b"a");
        assert_eq!(state.get(b"a"), None);
        assert_eq!(state.get(b"b"), Some(b"2".to_vec()));
        state.discard();
        assert_eq!(state.get(b"a"), Some(b"1".to_vec()));
        state.set(b"a", b"3").unwrap();
        assert_eq!(state.changes(), vec![(b"a".to_vec(), Some(b"3".to_vec()))]);
        state.apply();
        assert!(state.changes().is_empty());
        assert_eq!(state.get(b"a"), Some(b"3".to_vec()));
    }
}
