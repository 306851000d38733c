//! The on-disk component cache: `{cache_dir}/{hex}.wasm` (the upload, the source of truth) and
//! `{hex}.cwasm` (its precompiled form for this wasmtime version and engine config), where
//! `hex` is the SHA-256 of the upload.
//!
//! Owns file naming, digest parsing, durable writes (temp file, fsync, rename, fsync the
//! directory) and the crate's single `unsafe` block: mapping a `.cwasm` back into executable
//! memory. It must not compile or validate components (that is `compile`).

use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::error::{Error, Result};

const DIGEST_PREFIX: &str = "sha256:";

/// `sha256:<hex>` of `bytes`, and the hex alone.
pub(crate) fn digest_of(bytes: &[u8]) -> (String, String) {
    let hash = Sha256::digest(bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    (format!("{DIGEST_PREFIX}{hex}"), hex)
}

/// Checks that `digest` is `sha256:` + 64 lowercase hex digits and returns the hex part. This
/// is also what keeps a digest from naming a path outside the cache directory.
pub(crate) fn parse_digest(digest: &str) -> Result<&str> {
    digest
        .strip_prefix(DIGEST_PREFIX)
        .filter(|h| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .ok_or_else(|| Error::UnknownDigest {
            digest: digest.to_owned(),
        })
}

/// Path of the uploaded component.
pub(crate) fn wasm_path(dir: &Path, hex: &str) -> PathBuf {
    dir.join(format!("{hex}.wasm"))
}

/// Path of the precompiled artifact.
pub(crate) fn cwasm_path(dir: &Path, hex: &str) -> PathBuf {
    dir.join(format!("{hex}.cwasm"))
}

/// Creates the cache directory.
pub(crate) fn create_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(Error::io(dir))
}

/// Writes `bytes` to `path` durably and atomically: readers see the old file or the whole new
/// one, and after `Ok` the file survives a crash.
pub(crate) fn write_durably(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::durable::write_atomic(path, bytes).map_err(Error::io(path))
}

/// Reads the stored upload, `None` if absent.
pub(crate) fn read_wasm(dir: &Path, hex: &str) -> Result<Option<Vec<u8>>> {
    let path = wasm_path(dir, hex);
    match fs::read(&path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::Io { path, source: e }),
    }
}

/// Deletes both files of a digest; missing files are fine.
pub(crate) fn remove(dir: &Path, hex: &str) -> Result<()> {
    for path in [cwasm_path(dir, hex), wasm_path(dir, hex)] {
        match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Error::Io { path, source: e });
            }
            _ => {}
        }
    }
    Ok(())
}

/// Maps a precompiled artifact. `Ok(None)` means a cache miss: the file is absent, or it was
/// produced by another wasmtime version or engine config (wasmtime checks this and refuses).
pub(crate) fn load_artifact(engine: &Engine, path: &Path) -> Result<Option<Component>> {
    if !path.exists() {
        return Ok(None);
    }
    match deserialize(engine, path) {
        Ok(component) => Ok(Some(component)),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "Stale precompiled plugin; recompiling.");
            Ok(None)
        }
    }
}

#[expect(
    unsafe_code,
    reason = "the one place that maps precompiled machine code from disk"
)]
fn deserialize(engine: &Engine, path: &Path) -> wasmtime::Result<Component> {
    // SAFETY: `deserialize_file` trusts the file to be a wasmtime artifact, because it maps its
    // machine code as executable. Every `.cwasm` in the cache directory was produced by this
    // module's own `Component::serialize` output (written by `write_durably` under the digest
    // of the `.wasm` we validated and compiled), never by an uploader: uploads are only ever
    // stored as `.wasm` and compiled. The cache directory is private to the gateway. wasmtime
    // itself rejects artifacts from another version or an incompatible engine config.
    unsafe { Component::deserialize_file(engine, path) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_checked_strictly() {
        let (digest, hex) = digest_of(b"abc");
        assert_eq!(
            hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(parse_digest(&digest).ok(), Some(hex.as_str()));
        for bad in [
            "",
            "sha256:",
            "sha256:../../etc/passwd",
            "md5:abc",
            &digest.to_uppercase(),
        ] {
            assert!(parse_digest(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durable_write_replaces_atomically() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.cwasm");
        write_durably(&path, b"one").expect("write");
        write_durably(&path, b"two").expect("rewrite");
        assert_eq!(fs::read(&path).expect("read"), b"two");
        assert_eq!(
            fs::read_dir(dir.path()).expect("ls").count(),
            1,
            "no temp files left"
        );
    }
}
