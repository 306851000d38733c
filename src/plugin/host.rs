//! The per-instance host state and the host side of the imports a plugin may use (`log`, `kv`,
//! WASI through `wasmtime-wasi`, and `wasi:http` behind the instance's [`Grants`]).
//!
//! Owns `HostState` (one per `Store`). It must not hold anything shared between instances
//! except the caller's [`StateStore`], and must never block: host calls run in the middle of a
//! guest call on a plugin worker.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::bindings::tidegate::plugin::{kv, log, types};
use super::grants::{Grants, HttpHooks};
use super::limits::{Limiter, Limits};
use super::sandbox::{self, Stderr};
use super::state::StateStore;

/// Longest log message forwarded (longer ones are cut), like Redpanda's 1 KiB.
const MAX_LOG_MESSAGE: usize = 1024;
/// `kv` limits, as documented in `wit/host.wit`.
const MAX_KV_KEY: usize = 1 << 10;
const MAX_KV_VALUE: usize = 1 << 20;

/// Everything one plugin instance's `Store` carries.
pub(crate) struct HostState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: HttpHooks,
    table: ResourceTable,
    pub(crate) limiter: Limiter,
    pub(crate) stderr: Stderr,
    state: Arc<dyn StateStore>,
    /// Plugin digest, for log fields and errors.
    pub(crate) plugin: Arc<str>,
    /// When the running call must stop; `None` between calls.
    pub(crate) deadline: Option<Instant>,
    /// How the plugin's calls ended.
    pub(crate) counts: Arc<super::call_counts::CallCounts>,
}

impl HostState {
    /// # Errors
    /// The granted directory cannot be opened.
    pub(crate) fn new(
        plugin: Arc<str>,
        counts: Arc<super::call_counts::CallCounts>,
        limits: &Limits,
        state: Arc<dyn StateStore>,
        grants: &Arc<Grants>,
    ) -> Result<Self, String> {
        let stderr = Stderr::default();
        Ok(Self {
            wasi: sandbox::wasi_ctx(&stderr, grants)?,
            http: WasiHttpCtx::new(),
            hooks: HttpHooks {
                grants: Arc::clone(grants),
                plugin: Arc::clone(&plugin),
            },
            table: ResourceTable::new(),
            limiter: Limiter::new(limits),
            stderr,
            state,
            plugin,
            deadline: None,
            counts,
        })
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl types::Host for HostState {}

impl log::Host for HostState {
    fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        let mut end = message.len().min(MAX_LOG_MESSAGE);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        let (plugin, message) = (&*self.plugin, &message[..end]);
        match level {
            log::Level::Trace => tracing::trace!(plugin, message, "Plugin log."),
            log::Level::Debug => tracing::debug!(plugin, message, "Plugin log."),
            log::Level::Info => tracing::info!(plugin, message, "Plugin log."),
            log::Level::Warn => tracing::warn!(plugin, message, "Plugin log."),
            log::Level::Error => tracing::error!(plugin, message, "Plugin log."),
        }
        Ok(())
    }
}

impl kv::Host for HostState {
    fn get(&mut self, key: Vec<u8>) -> wasmtime::Result<Option<Vec<u8>>> {
        Ok(self.state.get(&key))
    }

    fn set(&mut self, key: Vec<u8>, value: Vec<u8>) -> wasmtime::Result<Result<(), kv::KvError>> {
        if key.len() > MAX_KV_KEY {
            return Ok(Err(kv::KvError::KeyTooLarge(limit_u32(MAX_KV_KEY))));
        }
        if value.len() > MAX_KV_VALUE {
            return Ok(Err(kv::KvError::ValueTooLarge(limit_u32(MAX_KV_VALUE))));
        }
        // A full store refuses as `unavailable`: the batch fails and follows its error policy
        // (retry, then dead letters) instead of growing the state without bound.
        Ok(self
            .state
            .set(&key, &value)
            .map_err(|full| kv::KvError::Unavailable(full.to_string())))
    }

    fn delete(&mut self, key: Vec<u8>) -> wasmtime::Result<()> {
        self.state.delete(&key);
        Ok(())
    }
}

fn limit_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
