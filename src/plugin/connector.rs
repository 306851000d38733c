//! Connector instances: the `sink-connector` and `source-connector` worlds at run time, and
//! config validation with per-field answers.
//!
//! Owns the connector call sequence on one instance (`open` first; then `put`/`flush` or
//! `poll`/`commit`; `close` when retired) and its replacement after a poisoning failure: the
//! next call opens a fresh instance with the same config (a source with its latest committed
//! offsets). Every guest call runs on the plugin runtime under the instance's limits. It must
//! not decide retries, offsets or dead letters (the pipeline does).

use std::sync::Arc;

use tokio::time::error::Elapsed;
use wasmtime::Store;

use super::bindings::sink::exports::tidegate::plugin::{sink, validate as sink_validate};
use super::bindings::sink::tidegate::plugin::connector_types as wit_connector;
use super::bindings::source::exports::tidegate::plugin::{source, validate as source_validate};
use super::bindings::tidegate::plugin::types as wit;
use super::call::{self, begin, finish};
use super::convert::{self, OutputCheck};
use super::error::{Error, Result};
use super::grants::Grants;
use super::host::HostState;
use super::runtime::{Shared, backstop};
use super::state::{MemoryStateStore, StateStore};
use super::template::{Indices, Template};
use super::transform::Plugin;
use super::{BatchContext, Limits, OutputRecord, World};
use crate::event::{Record, StoredRecord};

/// One refusal from a connector's `validate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The config key ("" for the config as a whole).
    pub field: String,
    /// Why.
    pub message: String,
}

/// A source's position in one source partition (both JSON texts the plugin defines).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SourceOffset {
    /// Which source partition.
    pub partition: String,
    /// The position after the last record taken from it.
    pub offset: String,
}

/// A record a source produced, with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRecord {
    /// The record.
    pub record: Record,
    /// Its source partition and the offset after it.
    pub position: SourceOffset,
}

/// Everything needed to (re)start an instance.
struct Recipe {
    shared: Arc<Shared>,
    template: Arc<Template>,
    config: Arc<[(String, String)]>,
    limits: Limits,
    state: Arc<dyn StateStore>,
    grants: Arc<Grants>,
}

impl Plugin {
    fn expect(&self, world: World, expected: &'static str) -> Result<()> {
        if self.info().world == world {
            return Ok(());
        }
        Err(Error::WrongWorld {
            plugin: self.info().digest.clone(),
            world: self.info().world,
            expected,
        })
    }

    /// Runs a connector's `validate` on a throw-away instance with no state and no grants.
    ///
    /// # Errors
    /// `WrongWorld` for a transform; `Timeout`, `MemoryLimit`, `Trap`.
    pub async fn validate(
        &self,
        config: &[(String, String)],
        limits: Limits,
    ) -> Result<Vec<FieldError>> {
        if self.info().world.is_transform() {
            return Err(Error::WrongWorld {
                plugin: self.info().digest.clone(),
                world: self.info().world,
                expected: "a connector world",
            });
        }
        let template = Arc::clone(self.template());
        let config = config.to_vec();
        self.shared()
            .run(async move {
                let state: Arc<dyn StateStore> = Arc::new(MemoryStateStore::default());
                let mut store =
                    call::new_store(&template, &limits, state, &Arc::new(Grants::none()))?;
                begin(&mut store, &limits);
                let store_ref = &mut store;
                let called = async {
                    let instance = template.pre.instantiate_async(&mut *store_ref).await?;
                    let errors = match &template.indices {
                        Indices::Sink { validate, .. } => validate
                            .load(&mut *store_ref, &instance)?
                            .call_validate(&mut *store_ref, &config)
                            .await?
                            .into_iter()
                            .map(|e: sink_validate::FieldError| (e.field, e.message))
                            .collect(),
                        Indices::Source { validate, .. } => validate
                            .load(&mut *store_ref, &instance)?
                            .call_validate(&mut *store_ref, &config)
                            .await?
                            .into_iter()
                            .map(|e: source_validate::FieldError| (e.field, e.message))
                            .collect(),
                        _ => Vec::new(),
                    };
                    wasmtime::Result::Ok(errors)
                };
                let called = tokio::time::timeout(backstop(limits.call_timeout()), called).await;
                let errors: Vec<(String, String)> = finish(&mut store, &limits, called)?;
                Ok(errors
                    .into_iter()
                    .map(|(field, message)| FieldError { field, message })
                    .collect())
            })
            .await?
    }

    fn recipe(
        &self,
        config: &[(String, String)],
        limits: Limits,
        state: Arc<dyn StateStore>,
        grants: Grants,
    ) -> Recipe {
        Recipe {
            shared: Arc::clone(self.shared()),
            template: Arc::clone(self.template()),
            config: config.into(),
            limits,
            state,
            grants: Arc::new(grants),
        }
    }

    /// Opens a sink instance (instantiate + `open(config)`).
    ///
    /// # Errors
    /// `WrongWorld`; `Open` if the guest refuses; `InvalidConfig` if a grant cannot be
    /// honoured (the directory is missing); `Timeout`, `MemoryLimit`, `Trap`.
    pub async fn open_sink(
        &self,
        config: &[(String, String)],
        limits: Limits,
        state: Arc<dyn StateStore>,
        grants: Grants,
    ) -> Result<SinkInstance> {
        self.expect(World::Sink, "the sink-connector world")?;
        let recipe = self.recipe(config, limits, state, grants);
        let live = recipe.run(SinkLive::start).await??;
        Ok(SinkInstance {
            recipe,
            live: Some(live),
        })
    }

    /// Opens a source instance (instantiate + `open(config, committed)`).
    ///
    /// # Errors
    /// As [`Plugin::open_sink`].
    pub async fn open_source(
        &self,
        config: &[(String, String)],
        committed: Vec<SourceOffset>,
        limits: Limits,
        state: Arc<dyn StateStore>,
        grants: Grants,
    ) -> Result<SourceInstance> {
        self.expect(World::Source, "the source-connector world")?;
        let recipe = self.recipe(config, limits, state, grants);
        let offsets = Arc::new(committed);
        let live = {
            let offsets = Arc::clone(&offsets);
            recipe.run(move |r| SourceLive::start(r, offsets)).await??
        };
        Ok(SourceInstance {
            recipe,
            committed: offsets,
            live: Some(live),
        })
    }
}

impl Recipe {
    /// Calls `close` on a live instance being retired (best effort).
    async fn retire<L: LiveConnector>(&self, live: Option<L>) {
        if let Some(live) = live {
            let _ = self.run(move |r| async move { r.close(live).await }).await;
        }
    }

    /// Runs `f(self-copy)` on the plugin runtime.
    async fn run<T, F, Fut>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(Arc<RecipeParts>) -> Fut,
        Fut: Future<Output = T> + Send + 'static,
    {
        let parts = Arc::new(RecipeParts {
            template: Arc::clone(&self.template),
            config: Arc::clone(&self.config),
            limits: self.limits,
            state: Arc::clone(&self.state),
            grants: Arc::clone(&self.grants),
        });
        self.shared.run(f(parts)).await
    }
}

/// The `Send + 'static` part of a [`Recipe`], moved into calls.
struct RecipeParts {
    template: Arc<Template>,
    config: Arc<[(String, String)]>,
    limits: Limits,
    state: Arc<dyn StateStore>,
    grants: Arc<Grants>,
}

impl RecipeParts {
    fn store(&self) -> Result<Store<HostState>> {
        call::new_store(
            &self.template,
            &self.limits,
            Arc::clone(&self.state),
            &self.grants,
        )
    }

    fn opened(&self, refused: std::result::Result<(), String>) -> Result<()> {
        refused.map_err(|message| Error::Open {
            plugin: self.template.info.digest.clone(),
            message,
        })
    }

    /// Classifies a finished call: a host-side failure (trap, timeout, …) or the guest's
    /// `connector-error`.
    fn settle<T>(
        &self,
        store: &mut Store<HostState>,
        called: Result<wasmtime::Result<Result<T, wit_connector::ConnectorError>>, Elapsed>,
    ) -> Result<T> {
        let (retryable, message) = match finish(store, &self.limits, called)? {
            Ok(value) => return Ok(value),
            Err(wit_connector::ConnectorError::Retryable(m)) => (true, m),
            Err(wit_connector::ConnectorError::Fatal(m)) => (false, m),
        };
        Err(Error::Guest {
            plugin: self.template.info.digest.clone(),
            message,
            retryable,
        })
    }

    /// Calls `close` on a retiring instance (best effort, within the call budget).
    async fn close<L: LiveConnector>(&self, mut live: L) {
        begin(live.store(), &self.limits);
        let called =
            tokio::time::timeout(backstop(self.limits.call_timeout()), live.close_call()).await;
        let _ = finish(live.store(), &self.limits, called);
    }
}

/// A live connector instance of either world.
trait LiveConnector: Send + 'static {
    fn store(&mut self) -> &mut Store<HostState>;
    /// The guest's `close` export.
    fn close_call(&mut self) -> impl Future<Output = wasmtime::Result<()>> + Send + '_;
}

impl LiveConnector for SinkLive {
    fn store(&mut self) -> &mut Store<HostState> {
        &mut self.store
    }

    fn close_call(&mut self) -> impl Future<Output = wasmtime::Result<()>> + Send + '_ {
        self.guest.call_close(&mut self.store)
    }
}

impl LiveConnector for SourceLive {
    fn store(&mut self) -> &mut Store<HostState> {
        &mut self.store
    }

    fn close_call(&mut self) -> impl Future<Output = wasmtime::Result<()>> + Send + '_ {
        self.guest.call_close(&mut self.store)
    }
}

/// A live sink: its store and exports.
struct SinkLive {
    store: Store<HostState>,
    guest: sink::Guest,
}

impl SinkLive {
    async fn start(r: Arc<RecipeParts>) -> Result<Self> {
        let Indices::Sink { sink: ix, .. } = &r.template.indices else {
            return Err(Error::Runtime {
                reason: "host bug: not a sink template".into(),
            });
        };
        let mut store = r.store()?;
        begin(&mut store, &r.limits);
        let store_ref = &mut store;
        let config = r.config.to_vec();
        let started = async {
            let instance = r.template.pre.instantiate_async(&mut *store_ref).await?;
            let guest = ix.load(&mut *store_ref, &instance)?;
            let opened = guest.call_open(&mut *store_ref, &config).await?;
            wasmtime::Result::Ok((guest, opened))
        };
        let started = tokio::time::timeout(backstop(r.limits.call_timeout()), started).await;
        let (guest, opened) = finish(&mut store, &r.limits, started)?;
        r.opened(opened)?;
        Ok(Self { store, guest })
    }
}

/// A sink connector instance for one task. Replaced transparently after a trap.
pub struct SinkInstance {
    recipe: Recipe,
    /// `None` after a poisoning error: the next call opens afresh.
    live: Option<SinkLive>,
}

/// What a sink call does on its live instance.
enum SinkCall {
    Put(wit::BatchContext, Vec<wit::InputRecord>),
    Flush,
}

impl SinkInstance {
    /// Delivers one batch (`put`). `Ok` is the sink's acknowledgement.
    ///
    /// # Errors
    /// `Guest` (retryable or fatal, from `connector-error`), `Timeout`, `MemoryLimit`, `Trap`
    /// (the instance is replaced on the next call), `Open` (re-opening a replacement failed).
    pub async fn put(&mut self, ctx: &BatchContext, batch: &[StoredRecord]) -> Result<()> {
        let call = SinkCall::Put(convert::context(ctx), convert::input(batch));
        self.call(call).await
    }

    /// Makes acknowledged batches durable outside (`flush`).
    ///
    /// # Errors
    /// As [`SinkInstance::put`].
    pub async fn flush(&mut self) -> Result<()> {
        self.call(SinkCall::Flush).await
    }

    async fn call(&mut self, what: SinkCall) -> Result<()> {
        let live = self.live.take();
        let (live, result) = self
            .recipe
            .run(move |r| async move {
                let mut live = match live {
                    Some(live) => live,
                    None => match SinkLive::start(Arc::clone(&r)).await {
                        Ok(live) => live,
                        Err(e) => return (None, Err(e)),
                    },
                };
                begin(&mut live.store, &r.limits);
                let (store, guest) = (&mut live.store, &live.guest);
                let called = async {
                    match &what {
                        SinkCall::Put(ctx, batch) => guest.call_put(&mut *store, ctx, batch).await,
                        SinkCall::Flush => guest.call_flush(&mut *store).await,
                    }
                };
                let called = tokio::time::timeout(backstop(r.limits.call_timeout()), called).await;
                let result = r.settle(&mut live.store, called);
                let poisoned = matches!(&result, Err(e) if e.poisons_instance());
                ((!poisoned).then_some(live), result)
            })
            .await?;
        self.live = live;
        result
    }

    /// Retires the instance (`close`, best effort, within the call budget).
    pub async fn close(mut self) {
        self.recipe.retire(self.live.take()).await;
    }
}

/// A live source: its store and exports.
struct SourceLive {
    store: Store<HostState>,
    guest: source::Guest,
}

fn to_wit(offsets: &[SourceOffset]) -> Vec<wit_connector::SourceOffset> {
    offsets
        .iter()
        .map(|o| wit_connector::SourceOffset {
            partition: o.partition.clone(),
            offset: o.offset.clone(),
        })
        .collect()
}

impl SourceLive {
    async fn start(r: Arc<RecipeParts>, committed: Arc<Vec<SourceOffset>>) -> Result<Self> {
        let Indices::Source { source: ix, .. } = &r.template.indices else {
            return Err(Error::Runtime {
                reason: "host bug: not a source template".into(),
            });
        };
        let mut store = r.store()?;
        begin(&mut store, &r.limits);
        let store_ref = &mut store;
        let (config, committed) = (r.config.to_vec(), to_wit(&committed));
        let started = async {
            let instance = r.template.pre.instantiate_async(&mut *store_ref).await?;
            let guest = ix.load(&mut *store_ref, &instance)?;
            let opened = guest
                .call_open(&mut *store_ref, &config, &committed)
                .await?;
            wasmtime::Result::Ok((guest, opened))
        };
        let started = tokio::time::timeout(backstop(r.limits.call_timeout()), started).await;
        let (guest, opened) = finish(&mut store, &r.limits, started)?;
        r.opened(opened)?;
        Ok(Self { store, guest })
    }
}

/// A source connector instance for one task. Replaced transparently after a trap, re-opened
/// with the offsets last passed to [`SourceInstance::commit`].
pub struct SourceInstance {
    recipe: Recipe,
    committed: Arc<Vec<SourceOffset>>,
    live: Option<SourceLive>,
}

enum SourceCall {
    Poll(u32),
    Commit(Vec<wit_connector::SourceOffset>),
}

enum SourceOut {
    Polled(Vec<source::SourceRecord>),
    Committed,
}

impl SourceInstance {
    /// Up to `max` records (`poll`), checked against the output limits.
    ///
    /// # Errors
    /// `Guest` (retryable or fatal), `Timeout`, `MemoryLimit`, `Trap`, `InvalidOutput` (too
    /// many records or bytes), `Open` (re-opening a replacement failed).
    pub async fn poll(&mut self, max: u32) -> Result<Vec<SourceRecord>> {
        let SourceOut::Polled(records) = self.call(SourceCall::Poll(max)).await? else {
            return Ok(Vec::new());
        };
        let limits = self.recipe.limits;
        let mut check = OutputCheck::new(&limits, None);
        let invalid = |problem: String| Error::InvalidOutput {
            plugin: self.recipe.template.info.digest.clone(),
            problem,
        };
        check.count(records.len()).map_err(&invalid)?;
        let max = usize::try_from(max).unwrap_or(usize::MAX);
        if records.len() > max {
            return Err(invalid(format!(
                "{} records, {max} were asked for",
                records.len()
            )));
        }
        records
            .into_iter()
            .map(|r| {
                let out = OutputRecord {
                    record: convert::record(r.message),
                    output: None,
                };
                check.record(&out).map_err(&invalid)?;
                Ok(SourceRecord {
                    record: out.record,
                    position: SourceOffset {
                        partition: r.position.partition,
                        offset: r.position.offset,
                    },
                })
            })
            .collect()
    }

    /// Tells the source these offsets are durable (`commit`), and remembers them for a
    /// replacement instance's `open`. `all` is every committed offset (what a replacement
    /// must resume from); `advanced` those that moved in this commit.
    ///
    /// # Errors
    /// As [`SourceInstance::poll`].
    pub async fn commit(
        &mut self,
        all: Vec<SourceOffset>,
        advanced: &[SourceOffset],
    ) -> Result<()> {
        self.committed = Arc::new(all);
        self.call(SourceCall::Commit(to_wit(advanced)))
            .await
            .map(drop)
    }

    async fn call(&mut self, what: SourceCall) -> Result<SourceOut> {
        let live = self.live.take();
        let committed = Arc::clone(&self.committed);
        let (live, result) = self
            .recipe
            .run(move |r| async move {
                let mut live = match live {
                    Some(live) => live,
                    None => match SourceLive::start(Arc::clone(&r), committed).await {
                        Ok(live) => live,
                        Err(e) => return (None, Err(e)),
                    },
                };
                begin(&mut live.store, &r.limits);
                let (store, guest) = (&mut live.store, &live.guest);
                let called = async {
                    match &what {
                        SourceCall::Poll(max) => Ok(guest
                            .call_poll(&mut *store, *max)
                            .await?
                            .map(SourceOut::Polled)),
                        SourceCall::Commit(offsets) => {
                            guest.call_commit(&mut *store, offsets).await?;
                            Ok(Ok(SourceOut::Committed))
                        }
                    }
                };
                let called = tokio::time::timeout(backstop(r.limits.call_timeout()), called).await;
                let result = r.settle(&mut live.store, called);
                let poisoned = matches!(&result, Err(e) if e.poisons_instance());
                ((!poisoned).then_some(live), result)
            })
            .await?;
        self.live = live;
        result
    }

    /// Retires the instance (`close`, best effort, within the call budget).
    pub async fn close(mut self) {
        self.recipe.retire(self.live.take()).await;
    }
}
