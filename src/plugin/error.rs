//! The plugin layer's error type.
//!
//! Owns the classification of everything that can go wrong with a plugin, so callers can apply
//! policy (retry, dead-letter, reject an upload) without parsing messages. It must not contain
//! any HTTP status mapping (that is the HTTP layer's job).

use std::path::PathBuf;
use std::time::Duration;

/// Result alias for the plugin layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a plugin operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The upload exceeds `max_component_bytes`.
    #[error("component is {size} bytes, the limit is {limit}")]
    TooLarge {
        /// Upload size in bytes.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The upload is not a WebAssembly component (random bytes, a core module, …).
    #[error("not a WebAssembly component: {reason}")]
    NotAComponent {
        /// What was found instead.
        reason: String,
    },
    /// The component exports none of our worlds.
    #[error(
        "component targets no tidegate:plugin@0.1 world (transform, transform-raw, \
         sink-connector or source-connector); it exports {exports:?}"
    )]
    UnknownWorld {
        /// The component's export names.
        exports: Vec<String>,
    },
    /// The component imports something the host does not grant.
    #[error("component imports `{name}`, which plugins may not use")]
    ForbiddenImport {
        /// The import name.
        name: String,
    },
    /// Compilation took longer than `compile_timeout`.
    #[error("compiling the component took longer than {limit:?}")]
    CompileTimeout {
        /// The configured limit.
        limit: Duration,
    },
    /// The compiler process hit its address-space cap.
    #[error(
        "compiling the component needed more than the compiler's memory limit of {limit} bytes"
    )]
    CompileMemory {
        /// The configured cap.
        limit: u64,
    },
    /// The component is invalid or its imports do not type-check against the host.
    #[error("component failed to compile or link: {reason}")]
    Compile {
        /// wasmtime's explanation.
        reason: String,
    },
    /// The engine could not be created (bad config, no address space for the pool).
    #[error("cannot create the WebAssembly engine: {reason}")]
    Engine {
        /// wasmtime's explanation.
        reason: String,
    },
    /// A call exceeded its wall-clock budget and was interrupted.
    #[error("plugin {plugin} exceeded its {limit_ms} ms call budget")]
    Timeout {
        /// Plugin digest.
        plugin: String,
        /// The budget.
        limit_ms: u64,
    },
    /// The guest tried to grow its memory (or tables) past the cap.
    #[error("plugin {plugin} exceeded its memory limit of {limit} bytes")]
    MemoryLimit {
        /// Plugin digest.
        plugin: String,
        /// The cap in bytes.
        limit: u64,
    },
    /// The guest trapped (panic, abort, unreachable, …). `message` includes its stderr tail.
    #[error("plugin {plugin} trapped: {message}")]
    Trap {
        /// Plugin digest.
        plugin: String,
        /// The trap and the guest's last stderr output.
        message: String,
    },
    /// The guest returned its typed error (`transform-error`).
    #[error("plugin {plugin} failed the batch ({}): {message}", if *.retryable { "retryable" } else { "fatal" })]
    Guest {
        /// Plugin digest.
        plugin: String,
        /// The guest's message.
        message: String,
        /// `transform-error::retryable` (true) or `fatal` (false).
        retryable: bool,
    },
    /// The guest's `init` rejected the configuration.
    #[error("plugin {plugin} rejected its configuration: {message}")]
    InvalidConfig {
        /// Plugin digest.
        plugin: String,
        /// The guest's message.
        message: String,
    },
    /// A connector's `open` refused to start (bad config it could not validate earlier, an
    /// unreachable resource it needs at start).
    #[error("plugin {plugin} failed to open: {message}")]
    Open {
        /// Plugin digest.
        plugin: String,
        /// The guest's message.
        message: String,
    },
    /// The plugin targets another world than the use asks for (a transform used as a
    /// connector, or the reverse).
    #[error("plugin {plugin} targets the {world} world; this needs {expected}")]
    WrongWorld {
        /// Plugin digest.
        plugin: String,
        /// Its world.
        world: super::World,
        /// What was needed.
        expected: &'static str,
    },
    /// The guest returned output the host refuses (too much, bad routing, bad raw layout).
    #[error("plugin {plugin} returned invalid output: {problem}")]
    InvalidOutput {
        /// Plugin digest.
        plugin: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A cache file could not be read or written.
    #[error("plugin cache I/O on {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Nothing is stored under this digest (or it is not a `sha256:<64 hex>` digest).
    #[error("no plugin stored under digest `{digest}`")]
    UnknownDigest {
        /// The digest asked for.
        digest: String,
    },
    /// The plugin runtime is shutting down or a host task failed unexpectedly.
    #[error("plugin runtime unavailable: {reason}")]
    Runtime {
        /// What happened.
        reason: String,
    },
}

impl Error {
    /// Whether the instance that produced this error must be discarded (its state is unknown
    /// or wasmtime refuses to re-enter it).
    #[must_use]
    pub fn poisons_instance(&self) -> bool {
        matches!(
            self,
            Self::Timeout { .. }
                | Self::MemoryLimit { .. }
                | Self::Trap { .. }
                | Self::Runtime { .. }
        )
    }

    /// Whether retrying the same batch may succeed (traps and timeouts count, since the retry
    /// runs on a fresh instance; the caller should cap retries).
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Guest { retryable, .. } => *retryable,
            Self::Timeout { .. } | Self::MemoryLimit { .. } | Self::Trap { .. } => true,
            _ => false,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}
