//! What every guest call shares, whatever the world: building an instance's `Store` (limits,
//! epoch policy, sandbox and grants), arming the call budget, and turning a failed call into a
//! typed error.
//!
//! It must not know any world's exports (that is `transform` and `connector`).

use std::sync::Arc;
use std::time::Instant;

use wasmtime::{Store, Trap};

use super::call_counts::Outcome;
use super::error::{Error, Result};
use super::grants::Grants;
use super::host::HostState;
use super::limits::Limits;
use super::state::StateStore;
use super::template::Template;

/// A store for one instance of `t`, with its limiter, epoch policy and sandbox.
pub(crate) fn new_store(
    t: &Template,
    limits: &Limits,
    state: Arc<dyn StateStore>,
    grants: &Arc<Grants>,
) -> Result<Store<HostState>> {
    let counts = Arc::clone(&t.counts);
    let host = HostState::new(Arc::clone(&t.plugin), counts, limits, state, grants).map_err(
        |message| Error::InvalidConfig {
            plugin: t.info.digest.clone(),
            message,
        },
    )?;
    let mut store = Store::new(t.pre.engine(), host);
    store.limiter(|s| &mut s.limiter);
    store.epoch_deadline_callback(|ctx| Ok(super::limits::on_epoch(ctx.data().deadline)));
    Ok(store)
}

/// Arms the call budget.
pub(crate) fn begin(store: &mut Store<HostState>, limits: &Limits) {
    store.data_mut().deadline = Some(Instant::now() + limits.call_timeout());
    store.set_epoch_deadline(1);
}

/// Disarms the budget, forwards stderr, and classifies a failure.
pub(crate) fn finish<T>(
    store: &mut Store<HostState>,
    limits: &Limits,
    outcome: Result<wasmtime::Result<T>, tokio::time::error::Elapsed>,
) -> Result<T> {
    let state = store.data_mut();
    state.deadline = None;
    let stderr = state.stderr.take();
    let plugin = state.plugin.to_string();
    let error = match outcome {
        Ok(Ok(value)) => {
            state.counts.count(Outcome::Ok);
            if !stderr.is_empty() {
                tracing::debug!(plugin, stderr, "Plugin stderr.");
            }
            return Ok(value);
        }
        Ok(Err(error)) => error,
        Err(_elapsed) => {
            state.counts.count(Outcome::Deadline);
            return Err(Error::Timeout {
                plugin,
                limit_ms: limits.call_timeout_ms,
            });
        }
    };
    let failure = if state.limiter.hit {
        state.counts.count(Outcome::Memory);
        Error::MemoryLimit {
            plugin,
            limit: limits.max_memory_bytes,
        }
    } else if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        state.counts.count(Outcome::Deadline);
        Error::Timeout {
            plugin,
            limit_ms: limits.call_timeout_ms,
        }
    } else {
        state.counts.count(Outcome::Trap);
        tracing::debug!(plugin, error = format!("{error:?}"), "Plugin trapped.");
        let cause = error
            .downcast_ref::<Trap>()
            .map_or_else(|| error.root_cause().to_string(), ToString::to_string);
        let message = if stderr.is_empty() {
            cause
        } else {
            format!("{cause}; guest stderr: {stderr}")
        };
        Error::Trap { plugin, message }
    };
    Err(failure)
}
