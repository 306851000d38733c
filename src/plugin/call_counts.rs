//! How each plugin's guest calls ended, counted since the gateway started: the figures behind
//! `tidegate_plugin_calls_total{plugin, outcome}`.
//!
//! Owns the counters (one set per component digest, kept across template reloads); it must not
//! classify failures (that is `call::finish`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

/// The counters of one plugin.
#[derive(Debug, Default)]
pub(crate) struct CallCounts {
    ok: AtomicU64,
    traps: AtomicU64,
    deadline_hits: AtomicU64,
    memory_hits: AtomicU64,
}

/// How one call ended.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome {
    Ok,
    Trap,
    Deadline,
    Memory,
}

impl CallCounts {
    pub(crate) fn count(&self, outcome: Outcome) {
        let counter = match outcome {
            Outcome::Ok => &self.ok,
            Outcome::Trap => &self.traps,
            Outcome::Deadline => &self.deadline_hits,
            Outcome::Memory => &self.memory_hits,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// A snapshot of one plugin's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallStats {
    /// Calls that returned (including calls whose result the host then refused).
    pub ok: u64,
    /// Calls that trapped (a panic, an unreachable, a bad memory access).
    pub traps: u64,
    /// Calls stopped at their deadline (epoch interruption or the async timeout).
    pub deadline_hits: u64,
    /// Calls stopped at the memory cap.
    pub memory_hits: u64,
}

/// Every plugin's counters, by digest.
#[derive(Debug, Default)]
pub(crate) struct Registry(Mutex<BTreeMap<String, Arc<CallCounts>>>);

impl Registry {
    /// The counters of `digest`, created on first use.
    pub(crate) fn of(&self, digest: &str) -> Arc<CallCounts> {
        Arc::clone(self.0.lock().entry(digest.to_owned()).or_default())
    }

    /// Snapshots by digest.
    pub(crate) fn snapshot(&self) -> Vec<(String, CallStats)> {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        self.0
            .lock()
            .iter()
            .map(|(digest, c)| {
                let stats = CallStats {
                    ok: load(&c.ok),
                    traps: load(&c.traps),
                    deadline_hits: load(&c.deadline_hits),
                    memory_hits: load(&c.memory_hits),
                };
                (digest.clone(), stats)
            })
            .collect()
    }
}
