//! The WebAssembly plugin host: validates, precompiles and caches uploaded components, and runs
//! them under hard limits.
//!
//! Owns the wasmtime `Engine`, the one `Linker`, the on-disk component cache, the epoch ticker
//! and a dedicated runtime that every guest call runs on. It depends only on `crate::event` and
//! must not reach into the log, schemas or anything above it: callers hand it records and a
//! [`StateStore`], and get records and typed errors back.
//!
//! # Contract
//! * The guest contract is `wit/` (`tidegate:plugin@0.1.0`); a component targets the
//!   `transform` or `transform-raw` world ([`World`]), detected from its exports.
//! * Nothing a plugin does can crash or stall the gateway: every call has a wall-clock budget
//!   (epoch interruption), a memory cap and output caps ([`Limits`]); guest calls run on the
//!   plugin runtime, never on the caller's threads; a trapped instance is discarded and a fresh
//!   one is instantiated from the cached template on the next call.
//! * The sandbox grants no files, environment, arguments or network; stdin is empty, stdout is
//!   discarded, stderr is kept (last 8 KiB) for trap reports, clocks have 1 ms resolution.
//!
//! # Example
//! ```no_run
//! # async fn demo(wasm: bytes::Bytes) -> Result<(), tidegate::plugin::Error> {
//! use std::sync::Arc;
//! use tidegate::plugin::{BatchContext, Host, MemoryStateStore, PluginConfig};
//!
//! let host = Host::new(PluginConfig::new("/var/lib/tidegate/plugins"))?;
//! let info = host.compile(wasm).await?; // validate + precompile + store, once per upload
//! let plugin = host.load(&info.digest).await?; // cheap: from the on-disk cache
//! let config = [("field".to_owned(), "region".to_owned())];
//! let state = Arc::new(MemoryStateStore::default());
//! let mut instance = plugin.instantiate(&config, host.limits(), state).await?;
//! let ctx = BatchContext { topic: "orders".into(), partition: 0 };
//! let out = instance.transform(&ctx, &[]).await?;
//! # Ok(()) }
//! ```

mod bindings;
mod cache;
mod call;
mod call_counts;
mod compile;
mod connector;
mod convert;
mod error;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzz;
mod grants;
mod host;
mod isolate;
mod limits;
mod raw;
mod runtime;
mod sandbox;
mod state;
mod template;
mod transform;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use call_counts::CallStats;
pub use connector::{FieldError, SinkInstance, SourceInstance, SourceOffset, SourceRecord};
pub use error::{Error, Result};
pub use grants::{AllowEntry, Grants};
pub use isolate::{CompilerProcess, precompile_capped};
pub use limits::Limits;
pub use state::{MemoryStateStore, StateFull, StateStore};
pub use transform::{Plugin, TransformInstance};

/// Largest accepted component upload by default.
pub const DEFAULT_MAX_COMPONENT_BYTES: usize = 32 << 20;
/// Default bound on validating + precompiling one upload.
pub const DEFAULT_COMPILE_TIMEOUT: Duration = Duration::from_secs(120);

/// Configuration of the plugin layer.
#[derive(Debug, Clone)]
pub struct PluginConfig {
    /// Where `{hex}.wasm` (the upload) and `{hex}.cwasm` (its precompiled form) are kept.
    pub cache_dir: PathBuf,
    /// Largest accepted component, in bytes.
    pub max_component_bytes: usize,
    /// Longest time one compilation may take before the upload is refused.
    pub compile_timeout: Duration,
    /// Default limits, for callers that have no per-pipeline limits ([`Host::limits`]).
    pub limits: Limits,
    /// Threads that run guest code (0 = one per CPU).
    pub workers: usize,
    /// Compile uploads in this child process (with a hard memory cap) instead of in-process.
    /// `None` compiles on a thread of the gateway, bounded only by the upload size limit.
    pub compiler: Option<CompilerProcess>,
    /// Instance slots of the pooling allocator: the most live instances at once. 0 selects the
    /// on-demand allocator (slower instantiation, no up-front address-space reservation).
    pub pool_instances: u32,
}

impl PluginConfig {
    /// Defaults with the given cache directory.
    #[must_use]
    pub fn new(cache_dir: impl Into<PathBuf>) -> Self {
        Self {
            cache_dir: cache_dir.into(),
            max_component_bytes: DEFAULT_MAX_COMPONENT_BYTES,
            compile_timeout: DEFAULT_COMPILE_TIMEOUT,
            limits: Limits::default(),
            workers: 0,
            pool_instances: 256,
            compiler: None,
        }
    }
}

/// The plugin world a component targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum World {
    /// `tidegate:plugin/transform`: typed record lists.
    Transform,
    /// `tidegate:plugin/transform-raw`: one packed buffer per batch.
    TransformRaw,
    /// `tidegate:plugin/sink-connector`.
    Sink,
    /// `tidegate:plugin/source-connector`.
    Source,
}

impl World {
    /// The WIT world name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Transform => "transform",
            Self::TransformRaw => "transform-raw",
            Self::Sink => "sink-connector",
            Self::Source => "source-connector",
        }
    }

    /// Whether this is one of the transform worlds.
    #[must_use]
    pub fn is_transform(self) -> bool {
        matches!(self, Self::Transform | Self::TransformRaw)
    }
}

impl std::fmt::Display for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the host knows about a stored component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginInfo {
    /// `sha256:<hex>` of the uploaded component bytes; the plugin's identity.
    pub digest: String,
    /// The world it targets.
    pub world: World,
    /// Size of the uploaded component in bytes.
    pub size: usize,
}

/// Facts shared by every record of one batch (the WIT `batch-context`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchContext {
    /// The input topic.
    pub topic: String,
    /// The input partition.
    pub partition: u32,
}

/// One record emitted by a transform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputRecord {
    /// The record to write.
    pub record: crate::event::Record,
    /// Index into the transform's outputs; `None` = the default (first) output.
    pub output: Option<u32>,
}

/// The plugin host: a cheap-clone handle. Dropping the last handle (and every [`Plugin`] made
/// from it) stops the plugin runtime and the epoch ticker.
#[derive(Clone)]
pub struct Host {
    inner: Arc<runtime::Shared>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("cache_dir", &self.inner.config.cache_dir)
            .finish()
    }
}

impl Host {
    /// Builds the engine (epoch interruption, pooling allocator when `pool_instances > 0` and
    /// the address space can be reserved, else on-demand), the linker, the epoch ticker thread
    /// and the plugin runtime, and creates `cache_dir`.
    ///
    /// # Errors
    /// `Io` if the cache directory cannot be created; `Engine` if wasmtime refuses the config.
    pub fn new(config: PluginConfig) -> Result<Self> {
        Ok(Self {
            inner: runtime::Shared::new(config)?,
        })
    }

    /// Runs `fut` as a task on the plugin runtime. Callers that do little besides calling
    /// plugins (the pipeline's transform tasks) run there, so each guest call is a local
    /// spawn instead of a hop between runtimes — and none of that work lands on the threads
    /// that serve HTTP.
    pub fn spawn<F>(&self, fut: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.inner.handle.spawn(fut)
    }

    /// How each plugin's guest calls ended since start, by component digest.
    #[must_use]
    pub fn call_stats(&self) -> Vec<(String, CallStats)> {
        self.inner.call_counts.snapshot()
    }

    /// The default limits from [`PluginConfig::limits`].
    #[must_use]
    pub fn limits(&self) -> Limits {
        self.inner.config.limits
    }

    /// Validates an uploaded component and stores it with its precompiled form, durably, under
    /// its digest. Uploading the same bytes again is cheap (memo or cache hit) and returns the
    /// same info.
    ///
    /// Validation: size, that it is a component (not a core module), that it exports one of our
    /// worlds, and that it imports only what we grant (WASI 0.2 and `tidegate:plugin/{log,kv}`).
    /// Compilation runs on a dedicated thread, one at a time, bounded by `compile_timeout`;
    /// memory is bounded by the compiler child's address-space cap when `compiler` is set, else
    /// by the size limit (compiler memory grows with the code size) and by running at most one
    /// compilation at a time, even one abandoned after a timeout.
    ///
    /// # Errors
    /// `TooLarge`, `NotAComponent`, `UnknownWorld`, `ForbiddenImport`, `Compile`,
    /// `CompileTimeout`, `Io`.
    pub async fn compile(&self, wasm: bytes::Bytes) -> Result<PluginInfo> {
        compile::check_header(&wasm, self.inner.config.max_component_bytes)?;
        let bytes = wasm.clone();
        let (digest, hex) = self
            .inner
            .blocking(move || cache::digest_of(&bytes))
            .await?;
        if let Some(template) = self.inner.memoized(&digest) {
            return Ok(template.info.clone());
        }
        // Stored by an earlier run: loading is far cheaper than compiling again.
        if cache::wasm_path(&self.inner.config.cache_dir, &hex).exists()
            && let Ok(plugin) = self.load(&digest).await
        {
            return Ok(plugin.info().clone());
        }
        let (info, component) = compile::compile(&self.inner, wasm).await?;
        Plugin::new(&self.inner, info.clone(), &component)?;
        Ok(info)
    }

    /// Loads a stored plugin from the on-disk cache without recompiling it (it recompiles from
    /// the stored `.wasm` only if the `.cwasm` is missing or was built by another wasmtime
    /// version or config). Loaded plugins are memoized: a second `load` is a map lookup.
    ///
    /// # Errors
    /// `UnknownDigest` if nothing is stored under `digest`; `Io`; the `compile` errors for the
    /// fallback.
    pub async fn load(&self, digest: &str) -> Result<Plugin> {
        template::load(&self.inner, digest).await
    }

    /// Forgets a plugin: deletes its files and the memoized template. Live instances keep
    /// working until dropped. Removing an unknown digest is not an error.
    ///
    /// # Errors
    /// `UnknownDigest` for a malformed digest; `Io` if a file cannot be deleted.
    pub fn remove(&self, digest: &str) -> Result<()> {
        let hex = cache::parse_digest(digest)?;
        self.inner.forget(digest);
        cache::remove(&self.inner.config.cache_dir, hex)
    }
}
