//! The plugin-facing key-value store of one running transform: committed state plus the
//! uncommitted changes of the batch in flight.
//!
//! Changes made during a batch stay in an overlay until the batch commits (then they are
//! persisted with the input position) or fails (then they are dropped), so a retried or
//! re-run batch sees exactly the state the first attempt saw.

use std::collections::HashMap;

use parking_lot::Mutex;

use crate::broker::PluginState as StateStore;

/// Key → value, or `None` for a deletion.
pub type Changes = Vec<(Vec<u8>, Option<Vec<u8>>)>;

#[derive(Debug, Default)]
pub struct BatchState {
    committed: Mutex<HashMap<Vec<u8>, Vec<u8>>>,
    overlay: Mutex<HashMap<Vec<u8>, Option<Vec<u8>>>>,
}

impl BatchState {
    pub fn new(committed: HashMap<Vec<u8>, Vec<u8>>) -> Self {
        Self {
            committed: Mutex::new(committed),
            overlay: Mutex::default(),
        }
    }

    /// Drops the uncommitted changes (before a retry).
    pub fn discard(&self) {
        self.overlay.lock().clear();
    }

    /// The uncommitted changes, without applying them.
    pub fn changes(&self) -> Changes {
        self.overlay
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Makes the uncommitted changes the committed state (after they were persisted).
    pub fn apply(&self) {
        let changes: Vec<_> = self.overlay.lock().drain().collect();
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
        if let Some(v) = self.overlay.lock().get(key) {
            return v.clone();
        }
        self.committed.lock().get(key).cloned()
    }

    fn set(&self, key: &[u8], value: &[u8]) {
        self.overlay
            .lock()
            .insert(key.to_vec(), Some(value.to_vec()));
    }

    fn delete(&self, key: &[u8]) {
        self.overlay.lock().insert(key.to_vec(), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_reads_through_and_commits_or_discards() {
        let state = BatchState::new(HashMap::from([(b"a".to_vec(), b"1".to_vec())]));
        state.set(b"b", b"2");
        state.delete(b"a");
        assert_eq!(state.get(b"a"), None);
        assert_eq!(state.get(b"b"), Some(b"2".to_vec()));
        state.discard();
        assert_eq!(state.get(b"a"), Some(b"1".to_vec()));
        state.set(b"a", b"3");
        assert_eq!(state.changes(), vec![(b"a".to_vec(), Some(b"3".to_vec()))]);
        state.apply();
        assert!(state.changes().is_empty());
        assert_eq!(state.get(b"a"), Some(b"3".to_vec()));
    }
}
