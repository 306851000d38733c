//! Per-call resource limits and their enforcement inside a `Store`.
//!
//! Owns the [`Limits`] config type, the memory/table limiter that records *why* it refused a
//! grow (so a hit is reported as `MemoryLimit`, not as an anonymous trap), and the epoch
//! deadline policy. It must not decide what happens after a limit is hit (that is the
//! instance's job in `transform`).

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// How often the epoch ticker advances the engine's epoch; the granularity of call budgets.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Resource limits for one plugin instance and each of its calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Wall-clock budget of one call (`init` or one batch), in milliseconds. Enforced with
    /// epoch interruption at 10 ms granularity.
    pub call_timeout_ms: u64,
    /// Cap on the instance's linear memory (all memories together), in bytes.
    pub max_memory_bytes: u64,
    /// Most records one call may return.
    pub max_output_records: usize,
    /// Most payload bytes (keys, values, header names and values) one call may return.
    pub max_output_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            call_timeout_ms: 1000,
            max_memory_bytes: 64 << 20,
            max_output_records: 100_000,
            max_output_bytes: 64 << 20,
        }
    }
}

impl Limits {
    /// The call budget as a `Duration`.
    #[must_use]
    pub fn call_timeout(&self) -> Duration {
        Duration::from_millis(self.call_timeout_ms)
    }
}

/// Most tables and instances one plugin store may create (a Rust guest needs a handful; a
/// Python guest a few dozen core instances).
const MAX_TABLES: usize = 64;
const MAX_INSTANCES: usize = 256;
const MAX_MEMORIES: usize = 16;
/// Largest table a guest may grow to (function-pointer tables of big interpreters).
const MAX_TABLE_ELEMENTS: usize = 1_000_000;

/// A `ResourceLimiter` that remembers which limit it enforced.
#[derive(Debug)]
pub(crate) struct Limiter {
    max_memory: usize,
    /// Total bytes of all linear memories of the store (a component may have several).
    used: usize,
    /// Set when a grow was refused for exceeding `max_memory`.
    pub(crate) hit: bool,
}

impl Limiter {
    pub(crate) fn new(limits: &Limits) -> Self {
        let max_memory = usize::try_from(limits.max_memory_bytes).unwrap_or(usize::MAX);
        Self {
            max_memory,
            used: 0,
            hit: false,
        }
    }
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self.used.saturating_sub(current).saturating_add(desired);
        if total > self.max_memory {
            self.hit = true;
            // An error (not `Ok(false)`) traps right here, like `trap_on_grow_failure(true)`:
            // the guest never gets to handle the failure, so the limit is attributable.
            return Err(wasmtime::format_err!(
                "memory limit: growing to {desired} bytes would exceed {} bytes",
                self.max_memory
            ));
        }
        self.used = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            self.hit = true;
            return Err(wasmtime::format_err!("table limit: {desired} elements"));
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

/// Decides, at each epoch tick, whether a running guest may go on.
///
/// Returning `Yield` hands the worker thread back to the plugin runtime every tick, so one
/// spinning guest cannot starve other guests on the same worker.
pub(crate) fn on_epoch(deadline: Option<Instant>) -> wasmtime::UpdateDeadline {
    match deadline {
        Some(d) if Instant::now() >= d => wasmtime::UpdateDeadline::Interrupt,
        _ => wasmtime::UpdateDeadline::Yield(1),
    }
}

#[cfg(test)]
mod tests {
    use wasmtime::ResourceLimiter;

    use super::*;

    #[test]
    fn limiter_counts_all_memories_and_records_the_hit() {
        let mut l = Limiter::new(&Limits {
            max_memory_bytes: 100,
            ..Limits::default()
        });
        assert!(l.memory_growing(0, 60, None).is_ok());
        assert!(l.memory_growing(60, 80, None).is_ok());
        assert!(!l.hit);
        assert!(l.memory_growing(0, 40, None).is_err(), "80 + 40 > 100");
        assert!(l.hit);
    }

    #[test]
    fn limits_deserialize_with_defaults() {
        let l: Limits = serde_json::from_str(r#"{"call_timeout_ms": 5}"#).expect("valid");
        assert_eq!(
            l,
            Limits {
                call_timeout_ms: 5,
                ..Limits::default()
            }
        );
    }
}
