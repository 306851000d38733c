//! Validating and precompiling uploads.
//!
//! Owns the upload checks (size, component header, world, imports) and the bounded compile:
//! a dedicated OS thread, one at a time, awaited with a timeout. It must not run compilation
//! on a tokio worker (Cranelift can take seconds for a 17 MiB Python guest) nor keep more than
//! one compilation alive: the permit travels with the thread, so even a compile abandoned
//! after its timeout blocks the next one until it really ends. With `PluginConfig::compiler` set
//! (the gateway binary does), Cranelift runs in a child process under a hard address-space cap
//! (`isolate`) and a timed-out compile is killed; without it, memory is bounded only by
//! `max_component_bytes` (compiler memory grows with code size) times one concurrent compile.

use std::sync::Arc;

use bytes::Bytes;
use wasmtime::component::Component;

use super::error::{Error, Result};
use super::runtime::Shared;
use super::{PluginInfo, World, cache, isolate};

/// Export names that select a world (the package version must be 0.1.x).
const TRANSFORMER: &str = "tidegate:plugin/transformer@0.1.";
const TRANSFORMER_RAW: &str = "tidegate:plugin/transformer-raw@0.1.";
const SINK: &str = "tidegate:plugin/sink@0.1.";
const SOURCE: &str = "tidegate:plugin/source@0.1.";
/// What connectors may import on top of [`GRANTED`] (denied at run time unless their config
/// grants it).
const GRANTED_TO_CONNECTORS: &[&str] = &["wasi:http/"];
/// Imports a plugin may have: our host interfaces, and WASI 0.2 (granted as `sandbox` says).
const GRANTED: &[&str] = &[
    "tidegate:plugin/log@0.1.",
    "tidegate:plugin/kv@0.1.",
    "tidegate:plugin/types@0.1.",
    "tidegate:plugin/connector-types@0.1.",
    "wasi:cli/",
    "wasi:clocks/",
    "wasi:filesystem/",
    "wasi:io/",
    "wasi:random/",
    "wasi:sockets/",
];

const MAGIC: &[u8; 4] = b"\0asm";
const CORE_MODULE_VERSION: [u8; 4] = [1, 0, 0, 0];
const COMPONENT_VERSION: [u8; 4] = [0x0d, 0, 1, 0];

/// Cheap checks on the raw bytes, before any parsing.
pub(crate) fn check_header(wasm: &[u8], limit: usize) -> Result<()> {
    if wasm.len() > limit {
        return Err(Error::TooLarge {
            size: wasm.len(),
            limit,
        });
    }
    let not = |reason: &str| {
        Err(Error::NotAComponent {
            reason: reason.to_owned(),
        })
    };
    if wasm.len() < 8 || &wasm[..4] != MAGIC {
        return not("missing the `\\0asm` magic number");
    }
    match <[u8; 4]>::try_from(&wasm[4..8]) {
        Ok(COMPONENT_VERSION) => Ok(()),
        Ok(CORE_MODULE_VERSION) => not("this is a core WebAssembly module; build a component \
             (e.g. `cargo build --target wasm32-wasip2` with wit-bindgen)"),
        _ => not("unsupported WebAssembly version or layer"),
    }
}

/// Which of our worlds the component targets, and that it imports nothing we do not grant.
pub(crate) fn inspect(engine: &wasmtime::Engine, component: &Component) -> Result<World> {
    let ty = component.component_type();
    let exports: Vec<String> = ty
        .exports(engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    let exported = |prefix: &str| exports.iter().any(|e| e.starts_with(prefix));
    let world = if exported(TRANSFORMER) {
        World::Transform
    } else if exported(TRANSFORMER_RAW) {
        World::TransformRaw
    } else if exported(SINK) {
        World::Sink
    } else if exported(SOURCE) {
        World::Source
    } else {
        return Err(Error::UnknownWorld { exports });
    };
    let connector_only: &[&str] = if world.is_transform() {
        &[]
    } else {
        GRANTED_TO_CONNECTORS
    };
    if let Some((name, _)) = ty.imports(engine).find(|(n, _)| {
        !GRANTED
            .iter()
            .chain(connector_only)
            .any(|g| n.starts_with(g))
    }) {
        return Err(Error::ForbiddenImport {
            name: name.to_owned(),
        });
    }
    Ok(world)
}

/// Validates, compiles and durably stores an upload. Returns the info and the component.
pub(crate) async fn compile(shared: &Arc<Shared>, wasm: Bytes) -> Result<(PluginInfo, Component)> {
    check_header(&wasm, shared.config.max_component_bytes)?;
    let limit = shared.config.compile_timeout;
    let permit = Arc::clone(&shared.compile_permit);
    let worker = Arc::clone(shared);
    let child = isolate::Handle::default();
    let thread_child = child.clone();
    shared
        .run(async move {
            let bounded = async move {
                let permit = permit.acquire_owned().await.map_err(|e| Error::Runtime {
                    reason: e.to_string(),
                })?;
                let (tx, rx) = tokio::sync::oneshot::channel();
                std::thread::Builder::new()
                    .name("tidegate-plugin-compile".into())
                    .spawn(move || {
                        let _ = tx.send(compile_blocking(&worker, &wasm, &thread_child));
                        drop(permit);
                    })
                    .map_err(|e| Error::Runtime {
                        reason: format!("cannot start a compile thread: {e}"),
                    })?;
                rx.await.map_err(|e| Error::Runtime {
                    reason: e.to_string(),
                })?
            };
            let outcome = tokio::time::timeout(limit, bounded).await;
            if outcome.is_err() {
                // An isolated compile is stopped for real; an in-process one runs to its end.
                child.kill();
            }
            outcome.unwrap_or(Err(Error::CompileTimeout { limit }))
        })
        .await?
}

fn compile_blocking(
    shared: &Shared,
    wasm: &[u8],
    child: &isolate::Handle,
) -> Result<(PluginInfo, Component)> {
    let (digest, hex) = cache::digest_of(wasm);
    let started = std::time::Instant::now();
    let dir = &shared.config.cache_dir;
    let cwasm = cache::cwasm_path(dir, &hex);
    let component = match &shared.config.compiler {
        None => Component::new(&shared.engine, wasm).map_err(|e| Error::Compile {
            reason: format!("{e:#}"),
        })?,
        Some(process) => {
            // The child compiled it under a memory cap; map its artifact like a cached one.
            let artifact = isolate::run(process, wasm, child)?;
            cache::write_durably(&cwasm, &artifact)?;
            cache::load_artifact(&shared.engine, &cwasm)?.ok_or_else(|| Error::Compile {
                reason: "the compiler process produced an artifact this engine cannot load".into(),
            })?
        }
    };
    let checked = inspect(&shared.engine, &component).and_then(|world| {
        shared
            .linker
            .instantiate_pre(&component)
            .map(|_| world)
            .map_err(|e| Error::Compile {
                reason: format!("{e:#}"),
            })
    });
    let world = match checked {
        Ok(world) => world,
        Err(e) => {
            // Leave nothing of a refused upload in the cache.
            let _ = std::fs::remove_file(&cwasm);
            return Err(e);
        }
    };
    if shared.config.compiler.is_none() {
        let artifact = component.serialize().map_err(|e| Error::Compile {
            reason: format!("{e:#}"),
        })?;
        cache::write_durably(&cwasm, &artifact)?;
    }
    cache::write_durably(&cache::wasm_path(dir, &hex), wasm)?;
    tracing::info!(plugin = %digest, world = world.as_str(), size = wasm.len(),
        elapsed_ms = started.elapsed().as_millis(), "Plugin compiled.");
    Ok((
        PluginInfo {
            digest,
            world,
            size: wasm.len(),
        },
        component,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_checks_are_precise() {
        let err = |b: &[u8]| check_header(b, 64).expect_err("refused").to_string();
        assert!(err(b"hello world!").contains("magic"));
        assert!(err(b"\0asm\x01\0\0\0").contains("core WebAssembly module"));
        assert!(err(b"\0asm\x0e\0\x01\0").contains("unsupported"));
        assert!(err(&[0; 65]).contains("65 bytes, the limit is 64"));
        assert!(check_header(b"\0asm\x0d\0\x01\0", 64).is_ok());
    }
}
