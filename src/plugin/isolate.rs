//! Compilation in a child process with a hard address-space cap, so a hostile component cannot
//! exhaust the gateway's memory while Cranelift compiles it.
//!
//! Owns both ends: [`precompile_capped`] runs in the child (`tidegate plugin-compile`): it caps
//! its own address space with `RLIMIT_AS`, precompiles the component from stdin with the
//! gateway's engine settings and writes the artifact to stdout; [`run`] in the gateway feeds
//! the child, collects the artifact, and kills the child if the caller gives up (timeout). It
//! must not validate worlds or imports: the gateway does that on the artifact it gets back.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};

use super::{Error, Result};

/// Largest stderr kept from a failed child.
const STDERR_TAIL: usize = 4096;

/// How to start the compiler process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompilerProcess {
    /// The executable (the `tidegate` binary).
    pub program: PathBuf,
    /// Address-space cap of the child, in bytes.
    pub max_memory_bytes: u64,
}

/// The child's side: caps its address space, precompiles `wasm`, returns the artifact.
///
/// # Errors
/// `Compile` if the bytes do not compile (including when the cap stops the compiler).
pub fn precompile_capped(wasm: &[u8], max_memory_bytes: u64) -> Result<Vec<u8>> {
    rlimit::setrlimit(rlimit::Resource::AS, max_memory_bytes, max_memory_bytes).map_err(|e| {
        Error::Runtime {
            reason: format!("cannot cap the compiler's memory: {e}"),
        }
    })?;
    let engine =
        wasmtime::Engine::new(&super::runtime::base_config()).map_err(|e| Error::Compile {
            reason: format!("{e:#}"),
        })?;
    engine
        .precompile_component(wasm)
        .map_err(|e| Error::Compile {
            reason: format!("{e:#}"),
        })
}

/// A running compiler child that the timeout path can kill.
#[derive(Clone, Default)]
pub(crate) struct Handle(Arc<Mutex<Option<Child>>>);

impl Handle {
    /// Kills the child, if one is running (the caller stopped waiting).
    pub(crate) fn kill(&self) {
        if let Some(child) = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
        {
            let _ = child.kill();
        }
    }
}

/// The gateway's side: runs the compiler process on `wasm` and returns the artifact.
pub(crate) fn run(process: &CompilerProcess, wasm: &[u8], handle: &Handle) -> Result<Vec<u8>> {
    let spawn_error = |e: std::io::Error| Error::Runtime {
        reason: format!(
            "cannot start the plugin compiler {}: {e}",
            process.program.display()
        ),
    };
    let mut child = Command::new(&process.program)
        .args([
            "plugin-compile",
            "--max-memory-bytes",
            &process.max_memory_bytes.to_string(),
        ])
        // The binary's allocator (mimalloc) reserves 1 GiB of address space per arena by
        // default; under an address-space cap that starves thread creation. Small arenas make
        // the cap measure what the compiler really uses.
        .env("MIMALLOC_ARENA_RESERVE", "16MiB")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_error)?;
    let (stdin, stdout, stderr) = (child.stdin.take(), child.stdout.take(), child.stderr.take());
    *handle.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(child);
    let writer = stdin.map(|mut stdin| {
        let wasm = wasm.to_vec();
        // A separate thread, so a child that stops reading cannot deadlock us on a full pipe.
        std::thread::spawn(move || stdin.write_all(&wasm))
    });
    let errors = stderr.map(|mut stderr| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        })
    });
    let mut artifact = Vec::new();
    if let Some(mut stdout) = stdout {
        let _ = stdout.read_to_end(&mut artifact);
    }
    let status = handle
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
        .map(|mut c| c.wait());
    if let Some(writer) = writer {
        let _ = writer.join();
    }
    let stderr = errors.and_then(|t| t.join().ok()).unwrap_or_default();
    match status {
        Some(Ok(status)) if status.success() => Ok(artifact),
        other => {
            let from = (stderr.len().saturating_sub(STDERR_TAIL)..stderr.len())
                .find(|i| stderr.is_char_boundary(*i))
                .unwrap_or(stderr.len());
            let tail = &stderr[from..];
            let out_of_memory =
                tail.contains("memory allocation") || tail.contains("out of memory");
            if out_of_memory {
                return Err(Error::CompileMemory {
                    limit: process.max_memory_bytes,
                });
            }
            let how = match other {
                Some(Ok(status)) => status.to_string(),
                Some(Err(e)) => e.to_string(),
                None => "no child".into(),
            };
            Err(Error::Compile {
                reason: format!("compiler process failed ({how}): {}", tail.trim()),
            })
        }
    }
}
