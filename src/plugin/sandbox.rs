//! The WASI context a plugin instance sees, and the capture of its stderr.
//!
//! Owns exactly what is granted behind the `wasi:*` imports. Grants: none of the host's files
//! (except a connector's one granted directory, at `/data`), environment, arguments or raw
//! network (TCP/UDP disabled and every address denied; no name lookup; `wasi:http` is filtered
//! by the allow-list in `grants`); stdin empty; stdout discarded; stderr kept in a bounded buffer (last
//! [`STDERR_TAIL`] bytes) for trap reports; wall and monotonic clocks rounded to 1 ms (enough
//! for timestamps, too coarse for timing side channels); secure random (cannot be withheld:
//! language runtimes seed hash maps from it). It must not grant anything else.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{FsPerms, HostMonotonicClock, HostWallClock, WasiCtx};

use super::grants::Grants;

/// How much of a guest's stderr is kept (the end of it: panic messages come last).
pub(crate) const STDERR_TAIL: usize = 8 << 10;

const CLOCK_RESOLUTION: Duration = Duration::from_millis(1);

/// Where a granted directory appears inside the sandbox.
pub const GUEST_DIR: &str = "/data";

/// Builds the context for one instance, writing stderr into `stderr`, with the directory of
/// `grants` (if any) preopened read-write at [`GUEST_DIR`].
pub(crate) fn wasi_ctx(stderr: &Stderr, grants: &Grants) -> Result<WasiCtx, String> {
    let mut builder = WasiCtx::builder();
    if let Some(dir) = &grants.dir {
        builder
            .preopened_dir(dir, GUEST_DIR, FsPerms::ReadWrite)
            .map_err(|e| format!("cannot open the granted directory {}: {e}", dir.display()))?;
    }
    Ok(builder
        .stderr(stderr.clone())
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .socket_addr_check(|_, _| Box::pin(async { false }))
        .wall_clock(CoarseWallClock)
        .monotonic_clock(CoarseMonotonicClock {
            start: std::time::Instant::now(),
        })
        .build())
}

/// A bounded, shareable stderr sink keeping the last [`STDERR_TAIL`] bytes.
#[derive(Clone, Default)]
pub(crate) struct Stderr {
    buf: Arc<Mutex<Vec<u8>>>,
}

impl Stderr {
    fn append(&self, bytes: &[u8]) {
        let mut buf = self.buf.lock().unwrap_or_else(PoisonError::into_inner);
        let bytes = &bytes[bytes.len().saturating_sub(STDERR_TAIL)..];
        let overflow = (buf.len() + bytes.len()).saturating_sub(STDERR_TAIL);
        buf.drain(..overflow);
        buf.extend_from_slice(bytes);
    }

    /// Takes what was captured so far (lossy UTF-8, trimmed).
    pub(crate) fn take(&self) -> String {
        let buf = std::mem::take(&mut *self.buf.lock().unwrap_or_else(PoisonError::into_inner));
        String::from_utf8_lossy(&buf).trim().to_owned()
    }
}

impl IsTerminal for Stderr {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Stderr {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Stderr {
    async fn ready(&mut self) {}
}

impl OutputStream for Stderr {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        // Always accept: excess output is dropped from the front, never refused (a refused
        // write would make a chatty guest's `eprintln!` panic).
        Ok(64 << 10)
    }
}

impl tokio::io::AsyncWrite for Stderr {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn round_down(d: Duration) -> Duration {
    let ms = d.as_millis();
    Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

struct CoarseWallClock;

impl HostWallClock for CoarseWallClock {
    fn resolution(&self) -> Duration {
        CLOCK_RESOLUTION
    }

    fn now(&self) -> Duration {
        round_down(
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default(),
        )
    }
}

struct CoarseMonotonicClock {
    start: std::time::Instant,
}

impl HostMonotonicClock for CoarseMonotonicClock {
    fn resolution(&self) -> u64 {
        1_000_000
    }

    fn now(&self) -> u64 {
        u64::try_from(round_down(self.start.elapsed()).as_nanos()).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stderr_keeps_the_tail() {
        let s = Stderr::default();
        s.append(&vec![b'a'; STDERR_TAIL]);
        s.append(b"panicked here");
        let text = s.take();
        assert_eq!(text.len(), STDERR_TAIL);
        assert!(text.ends_with("panicked here"));
        assert!(s.take().is_empty());
    }
}
