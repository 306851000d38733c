//! Loading a stored plugin into an instantiation template.
//!
//! Owns `Template` (the linked `InstancePre` plus export lookups resolved once) and `load`:
//! cache hit → map the `.cwasm`; miss → recompile from the stored `.wasm`. It must not run
//! guest code (that is `transform`).

use std::sync::Arc;

use wasmtime::component::{Component, InstancePre};

use super::bindings::exports::tidegate::plugin::{config, transformer};
use super::bindings::raw::exports::tidegate::plugin::transformer_raw;
use super::bindings::{sink, source};
use super::error::{Error, Result};
use super::host::HostState;
use super::runtime::Shared;
use super::transform::Plugin;
use super::{PluginInfo, World, cache, compile};

/// Export lookups resolved once per plugin.
pub(crate) enum Indices {
    Typed(transformer::GuestIndices),
    Raw(transformer_raw::GuestIndices),
    Sink {
        sink: sink::exports::tidegate::plugin::sink::GuestIndices,
        validate: sink::exports::tidegate::plugin::validate::GuestIndices,
    },
    Source {
        source: source::exports::tidegate::plugin::source::GuestIndices,
        validate: source::exports::tidegate::plugin::validate::GuestIndices,
    },
}

/// A loaded, linked component: everything needed to instantiate it cheaply.
pub(crate) struct Template {
    pub(crate) info: PluginInfo,
    pub(crate) plugin: Arc<str>,
    pub(crate) pre: InstancePre<HostState>,
    pub(crate) indices: Indices,
    pub(crate) init: Option<config::GuestIndices>,
    /// How this plugin's calls ended (shared by every template of the digest).
    pub(crate) counts: Arc<super::call_counts::CallCounts>,
}

impl Template {
    pub(crate) fn new(
        shared: &Shared,
        info: PluginInfo,
        component: &Component,
    ) -> Result<Arc<Self>> {
        let link = |e: wasmtime::Error| Error::Compile {
            reason: format!("{e:#}"),
        };
        let pre = shared.linker.instantiate_pre(component).map_err(link)?;
        let indices = match info.world {
            World::Transform => Indices::Typed(transformer::GuestIndices::new(&pre).map_err(link)?),
            World::TransformRaw => {
                Indices::Raw(transformer_raw::GuestIndices::new(&pre).map_err(link)?)
            }
            World::Sink => Indices::Sink {
                sink: sink::exports::tidegate::plugin::sink::GuestIndices::new(&pre)
                    .map_err(link)?,
                validate: sink::exports::tidegate::plugin::validate::GuestIndices::new(&pre)
                    .map_err(link)?,
            },
            World::Source => Indices::Source {
                source: source::exports::tidegate::plugin::source::GuestIndices::new(&pre)
                    .map_err(link)?,
                validate: source::exports::tidegate::plugin::validate::GuestIndices::new(&pre)
                    .map_err(link)?,
            },
        };
        let init = config::GuestIndices::new(&pre).ok();
        let plugin = Arc::from(info.digest.as_str());
        let counts = shared.call_counts.of(&info.digest);
        Ok(Arc::new(Self {
            info,
            counts,
            plugin,
            pre,
            indices,
            init,
        }))
    }
}

/// Loads `digest` from the memo, else from the cache directory (see the module docs).
pub(crate) async fn load(shared: &Arc<Shared>, digest: &str) -> Result<Plugin> {
    let hex = cache::parse_digest(digest)?.to_owned();
    if let Some(template) = shared.memoized(digest) {
        return Ok(Plugin::from_template(shared, template));
    }
    let unknown = || Error::UnknownDigest {
        digest: digest.to_owned(),
    };
    let worker = Arc::clone(shared);
    let (size, cached) = shared
        .blocking(move || -> Result<_> {
            let dir = &worker.config.cache_dir;
            // The `.wasm` is the source of truth: without it the digest is unknown.
            let Ok(meta) = std::fs::metadata(cache::wasm_path(dir, &hex)) else {
                return Ok((None, None));
            };
            let cached = cache::load_artifact(&worker.engine, &cache::cwasm_path(dir, &hex))?;
            Ok((
                Some(usize::try_from(meta.len()).unwrap_or(usize::MAX)),
                cached,
            ))
        })
        .await??;
    let size = size.ok_or_else(unknown)?;
    let (info, component) = match cached {
        Some(component) => {
            let world = compile::inspect(&shared.engine, &component)?;
            (
                PluginInfo {
                    digest: digest.to_owned(),
                    world,
                    size,
                },
                component,
            )
        }
        None => {
            let (dir, hex) = (
                shared.config.cache_dir.clone(),
                cache::parse_digest(digest)?.to_owned(),
            );
            let wasm = shared
                .blocking(move || cache::read_wasm(&dir, &hex))
                .await??;
            compile::compile(shared, wasm.ok_or_else(unknown)?.into()).await?
        }
    };
    Plugin::new(shared, info, &component)
}
