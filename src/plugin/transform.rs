//! Loaded plugins and their instances: the `InstancePre` template, instantiation with limits,
//! `init`, batch calls, and turning wasmtime failures into typed errors.
//!
//! Owns instance lifecycle: an instance is reused across calls until a call poisons it (trap,
//! timeout, memory limit), then dropped and replaced by a fresh one (with `init` re-run) on
//! the next call. Every guest call runs on the plugin runtime. It must not touch the cache
//! files directly (that is `cache`, via `load`).

use std::sync::Arc;

use wasmtime::Store;
use wasmtime::component::Component;

use super::bindings::exports::tidegate::plugin::transformer;
use super::bindings::raw::exports::tidegate::plugin::transformer_raw;
use super::bindings::tidegate::plugin::types as wit;
use super::call::{self, begin, finish};
use super::convert::{self, OutputCheck};
use super::error::{Error, Result};
use super::grants::Grants;
use super::host::HostState;
use super::runtime::{Shared, backstop};
use super::state::{MemoryStateStore, StateStore};
use super::template::{Indices, Template};
use super::{BatchContext, Limits, OutputRecord, PluginInfo, World, raw};
use crate::event::StoredRecord;

/// A loaded plugin: a cheap-clone handle to its instantiation template.
#[derive(Clone)]
pub struct Plugin {
    shared: Arc<Shared>,
    template: Arc<Template>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("info", &self.template.info)
            .finish()
    }
}

impl Plugin {
    pub(crate) fn new(
        shared: &Arc<Shared>,
        info: PluginInfo,
        component: &Component,
    ) -> Result<Self> {
        let template = Template::new(shared, info, component)?;
        shared.memoize(&template);
        Ok(Self::from_template(shared, template))
    }

    pub(crate) fn from_template(shared: &Arc<Shared>, template: Arc<Template>) -> Self {
        Self {
            shared: Arc::clone(shared),
            template,
        }
    }

    /// Digest, world and size.
    #[must_use]
    pub fn info(&self) -> &PluginInfo {
        &self.template.info
    }

    pub(crate) fn template(&self) -> &Arc<Template> {
        &self.template
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Validates `config` via the guest's `init` export (if it has one) on a throw-away
    /// instance with no state.
    ///
    /// # Errors
    /// `InvalidConfig` if the guest rejects it; `Timeout`, `MemoryLimit`, `Trap`.
    pub async fn init(&self, config: &[(String, String)], limits: Limits) -> Result<(), Error> {
        let template = Arc::clone(&self.template);
        let config = config.to_vec();
        let state: Arc<dyn StateStore> = Arc::new(MemoryStateStore::default());
        self.shared
            .run(async move {
                Live::start(&template, &config, &limits, state)
                    .await
                    .map(drop)
            })
            .await?
    }

    /// A new instance, initialised with `config` (so a bad config fails here). The instance is
    /// reused across `transform` calls and replaced transparently after a trap.
    ///
    /// # Errors
    /// As [`Plugin::init`].
    pub async fn instantiate(
        &self,
        config: &[(String, String)],
        limits: Limits,
        state: Arc<dyn StateStore>,
    ) -> Result<TransformInstance> {
        let (template, cfg, st) = (
            Arc::clone(&self.template),
            config.to_vec(),
            Arc::clone(&state),
        );
        let live = self
            .shared
            .run(async move { Live::start(&template, &cfg, &limits, st).await })
            .await??;
        Ok(TransformInstance {
            shared: Arc::clone(&self.shared),
            template: Arc::clone(&self.template),
            config: config.into(),
            limits,
            state,
            outputs: None,
            live: Some(live),
        })
    }
}

/// A transform instance for one stream of batches (e.g. one pipeline partition).
pub struct TransformInstance {
    shared: Arc<Shared>,
    template: Arc<Template>,
    config: Arc<[(String, String)]>,
    limits: Limits,
    state: Arc<dyn StateStore>,
    outputs: Option<u32>,
    /// `None` after a poisoning error: the next call instantiates afresh.
    live: Option<Live>,
}

impl TransformInstance {
    /// Declares how many outputs the transform has, so an output index `>= n` fails the batch
    /// with `InvalidOutput`. Unchecked by default.
    #[must_use]
    pub fn with_outputs(mut self, n: u32) -> Self {
        self.outputs = Some(n);
        self
    }

    /// Runs one batch (all or nothing: on `Err` no output is returned).
    ///
    /// # Errors
    /// `Guest` (the guest's typed error; the instance is kept), `Timeout`, `MemoryLimit`,
    /// `Trap` (the instance is replaced on the next call), `InvalidOutput`, `InvalidConfig`
    /// (if re-initialising a replacement instance fails).
    ///
    /// # Cancel safety
    /// Dropping the future discards the instance (a call already handed to the plugin runtime
    /// from another runtime finishes there first); the next call starts a fresh one.
    pub async fn transform(
        &mut self,
        ctx: &BatchContext,
        batch: &[StoredRecord],
    ) -> Result<Vec<OutputRecord>, Error> {
        let input = match self.template.info.world {
            World::Transform => Input::Typed(convert::input(batch)),
            // Other worlds never get an instance (`Live::start` refuses them).
            World::TransformRaw | World::Sink | World::Source => Input::Raw(raw::encode(batch)),
        };
        let (ctx, live) = (convert::context(ctx), self.live.take());
        let (template, config) = (Arc::clone(&self.template), Arc::clone(&self.config));
        let (limits, state, outputs) = (self.limits, Arc::clone(&self.state), self.outputs);
        let call = async move {
            let mut live = match live {
                Some(live) => live,
                None => match Live::start(&template, &config, &limits, state).await {
                    Ok(live) => live,
                    Err(e) => return (None, Err(e)),
                },
            };
            let result = live.call(&ctx, input, &limits, outputs).await;
            let poisoned = matches!(&result, Err(e) if e.poisons_instance());
            ((!poisoned).then_some(live), result)
        };
        let (live, result) = self.shared.run(call).await?;
        self.live = live;
        result
    }
}

enum Input {
    Typed(Vec<wit::InputRecord>),
    Raw(Vec<u8>),
}

enum Exports {
    Typed(transformer::Guest),
    Raw(transformer_raw::Guest),
}

/// One live instance: its store and its resolved exports.
struct Live {
    store: Store<HostState>,
    exports: Exports,
}

impl Live {
    async fn start(
        t: &Template,
        config: &[(String, String)],
        limits: &Limits,
        state: Arc<dyn StateStore>,
    ) -> Result<Self> {
        if !t.info.world.is_transform() {
            return Err(Error::WrongWorld {
                plugin: t.info.digest.clone(),
                world: t.info.world,
                expected: "a transform world",
            });
        }
        let mut store = call::new_store(t, limits, state, &Arc::new(Grants::none()))?;
        begin(&mut store, limits);
        let started = async {
            let instance = t.pre.instantiate_async(&mut store).await?;
            let exports = match &t.indices {
                Indices::Typed(ix) => Exports::Typed(ix.load(&mut store, &instance)?),
                Indices::Raw(ix) => Exports::Raw(ix.load(&mut store, &instance)?),
                Indices::Sink { .. } | Indices::Source { .. } => {
                    return Err(wasmtime::format_err!("not a transform"));
                }
            };
            let init = match &t.init {
                Some(ix) => {
                    ix.load(&mut store, &instance)?
                        .call_init(&mut store, &config.to_vec())
                        .await?
                }
                None => Ok(()),
            };
            wasmtime::Result::Ok((exports, init))
        };
        let started = tokio::time::timeout(backstop(limits.call_timeout()), started).await;
        let (exports, init) = finish(&mut store, limits, started)?;
        init.map_err(|message| Error::InvalidConfig {
            plugin: t.info.digest.clone(),
            message,
        })?;
        Ok(Self { store, exports })
    }

    async fn call(
        &mut self,
        ctx: &wit::BatchContext,
        input: Input,
        limits: &Limits,
        outputs: Option<u32>,
    ) -> Result<Vec<OutputRecord>> {
        begin(&mut self.store, limits);
        let store = &mut self.store;
        let called = async {
            Ok(match (&self.exports, input) {
                (Exports::Typed(g), Input::Typed(batch)) => g
                    .call_transform(&mut *store, ctx, &batch)
                    .await?
                    .map(Output::Typed),
                (Exports::Raw(g), Input::Raw(batch)) => g
                    .call_transform(&mut *store, ctx, &batch)
                    .await?
                    .map(Output::Raw),
                _ => Err(wit::TransformError::Fatal(
                    "host bug: world mismatch".into(),
                )),
            })
        };
        let called = tokio::time::timeout(backstop(limits.call_timeout()), called).await;
        let result = finish(&mut self.store, limits, called)?;
        let plugin = || self.store.data().plugin.to_string();
        let out = result.map_err(|e| match e {
            wit::TransformError::Retryable(message) => Error::Guest {
                plugin: plugin(),
                message,
                retryable: true,
            },
            wit::TransformError::Fatal(message) => Error::Guest {
                plugin: plugin(),
                message,
                retryable: false,
            },
        })?;
        match out {
            Output::Typed(out) => convert::output(out, limits, outputs),
            Output::Raw(buf) => raw::decode(buf, &mut OutputCheck::new(limits, outputs)),
        }
        .map_err(|problem| Error::InvalidOutput {
            plugin: plugin(),
            problem,
        })
    }
}

enum Output {
    Typed(Vec<wit::OutputRecord>),
    Raw(Vec<u8>),
}
