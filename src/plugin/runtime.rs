//! The machinery behind a `Host`: the wasmtime `Engine` and `Linker`, the epoch ticker thread,
//! and the dedicated tokio runtime every guest call runs on.
//!
//! Owns process-wide plugin resources and their shutdown. It must not know about worlds,
//! instances or the cache layout. Guest code never runs on the caller's runtime: a guest that
//! burns its whole budget occupies a plugin worker, not an HTTP worker.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::bindings::tidegate::plugin::{kv, log};
use super::error::{Error, Result};
use super::host::HostState;
use super::limits::EPOCH_TICK;
use super::template::Template;
use super::{PluginConfig, cache};

/// Largest guest stack; far below the 2 MiB async fiber stack.
const MAX_WASM_STACK: usize = 512 << 10;

/// State shared by every clone of a `Host` and every `Plugin` loaded from it.
pub(crate) struct Shared {
    pub(crate) config: PluginConfig,
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<HostState>,
    runtime: Option<tokio::runtime::Runtime>,
    pub(crate) handle: tokio::runtime::Handle,
    /// One compilation at a time (held by the compiling thread, even past a timeout).
    pub(crate) compile_permit: Arc<tokio::sync::Semaphore>,
    /// Loaded plugins by digest.
    loaded: Mutex<HashMap<String, Arc<Template>>>,
    /// How guest calls ended, by digest.
    pub(crate) call_counts: super::call_counts::Registry,
}

thread_local! {
    /// Set on the plugin runtime's worker threads.
    static ON_PLUGIN_RUNTIME: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl Shared {
    pub(crate) fn new(config: PluginConfig) -> Result<Arc<Self>> {
        cache::create_dir(&config.cache_dir)?;
        let engine = engine(&config)?;
        let linker = linker(&engine)?;
        start_ticker(&engine)?;
        let workers = match config.workers {
            0 => std::thread::available_parallelism().map_or(2, usize::from),
            n => n,
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("tidegate-plugin")
            .on_thread_start(|| ON_PLUGIN_RUNTIME.set(true))
            // Connectors' outbound HTTP runs its sockets on this runtime.
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| Error::Runtime {
                reason: e.to_string(),
            })?;
        Ok(Arc::new(Self {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
            config,
            engine,
            linker,
            compile_permit: Arc::new(tokio::sync::Semaphore::new(1)),
            loaded: Mutex::new(HashMap::new()),
            call_counts: super::call_counts::Registry::default(),
        }))
    }

    /// Runs `fut` on the plugin runtime and waits for it from any runtime. From another runtime
    /// the caller's task only awaits a join handle, and if it stops waiting the task still runs
    /// to the end. On a plugin thread (a task spawned with `Host::spawn`) `fut` is awaited in
    /// place, so dropping the caller drops the call.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        fut: impl Future<Output = T> + Send + 'static,
    ) -> Result<T> {
        if ON_PLUGIN_RUNTIME.get() {
            // Already on a plugin thread (a transform task): a spawn would only add a wake-up.
            return Ok(fut.await);
        }
        self.handle.spawn(fut).await.map_err(|e| Error::Runtime {
            reason: e.to_string(),
        })
    }

    /// Runs blocking work (file I/O, mapping artifacts) on the plugin runtime's blocking pool.
    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        self.handle
            .spawn_blocking(f)
            .await
            .map_err(|e| Error::Runtime {
                reason: e.to_string(),
            })
    }

    /// The loaded template for `digest`, if any. Templates do not point back to `Shared`, so
    /// memoizing them creates no reference cycle.
    pub(crate) fn memoized(&self, digest: &str) -> Option<Arc<Template>> {
        self.loaded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(digest)
            .cloned()
    }

    pub(crate) fn memoize(&self, template: &Arc<Template>) {
        let mut map = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        map.insert(template.info.digest.clone(), Arc::clone(template));
    }

    pub(crate) fn forget(&self, digest: &str) {
        self.loaded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(digest);
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // `Runtime::drop` blocks, which panics inside an async context; this does not.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

fn engine_error(e: impl std::fmt::Display) -> Error {
    Error::Engine {
        reason: e.to_string(),
    }
}

pub(crate) fn base_config() -> wasmtime::Config {
    let mut c = wasmtime::Config::new();
    c.wasm_component_model(true);
    c.epoch_interruption(true);
    c.max_wasm_stack(MAX_WASM_STACK);
    c
}

/// The engine: pooling allocator sized to `pool_instances` if the address space allows, else
/// on-demand. Both produce compatible artifacts.
fn engine(config: &PluginConfig) -> Result<Engine> {
    if config.pool_instances > 0 {
        let n = config.pool_instances;
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(n)
            .total_memories(2 * n)
            .total_tables(4 * n)
            .total_stacks(n)
            .total_core_instances(8 * n)
            .max_core_instances_per_component(200)
            .max_memories_per_component(16)
            .max_tables_per_component(64)
            .table_elements(100_000)
            .max_unused_warm_slots(n.min(100))
            .linear_memory_keep_resident(64 << 10)
            .table_keep_resident(64 << 10);
        let mut c = base_config();
        c.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        match Engine::new(&c) {
            Ok(engine) => return Ok(engine),
            Err(e) => tracing::warn!(error = %e, "Pooling allocator unavailable; using on-demand."),
        }
    }
    Engine::new(&base_config()).map_err(engine_error)
}

/// One linker for every plugin: all of WASI p2 (components from most toolchains import it even
/// when unused; `sandbox` decides what is behind it), `wasi:http` (behind each instance's
/// allow-list; only connector worlds may import it), plus our `log` and `kv`.
fn linker(engine: &Engine) -> Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(engine_error)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(engine_error)?;
    log::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).map_err(engine_error)?;
    kv::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).map_err(engine_error)?;
    Ok(linker)
}

/// Advances the epoch every tick on its own thread (a runtime task could starve behind busy
/// guests, and then no deadline would ever fire). Stops when the engine is dropped.
fn start_ticker(engine: &Engine) -> Result<()> {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("tidegate-plugin-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .map(drop)
        .map_err(|e| Error::Runtime {
            reason: format!("cannot start the epoch ticker: {e}"),
        })
}

/// Upper bound used on the caller side around a whole call, as a backstop for time spent
/// outside guest code (where epochs do not fire).
pub(crate) fn backstop(budget: Duration) -> Duration {
    budget * 2 + Duration::from_secs(1)
}
