//! TLS for the client subcommands (`--ca`, `--cert`, `--key`): the server is verified against
//! `--ca` (or the Mozilla roots bundled with webpki-roots when it is not given), and
//! `--cert`/`--key` present a client certificate for mutual TLS.
//!
//! Owns building the rustls client configuration from those files; it must not connect.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use anyhow::{Context, Result, bail};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

/// The files named on the command line.
#[derive(Debug, Clone, Default)]
pub struct TlsFiles {
    /// CA certificates (PEM) the server's certificate must chain to.
    pub ca: Option<PathBuf>,
    /// Client certificate chain (PEM), for mutual TLS.
    pub cert: Option<PathBuf>,
    /// Its private key (PEM).
    pub key: Option<PathBuf>,
}

static FILES: OnceLock<TlsFiles> = OnceLock::new();

/// Sets the files every connection uses.
pub fn set_files(files: TlsFiles) {
    let _ = FILES.set(files);
}

/// A client configuration offering `alpn` (empty: none). Plain-HTTP servers never use it,
/// so for them (`files: false`) the files are not read.
pub(super) fn config(alpn: &[&[u8]], files: bool) -> Result<ClientConfig> {
    let files = match FILES.get() {
        Some(named) if files => named.clone(),
        _ => TlsFiles::default(),
    };
    let mut roots = RootCertStore::empty();
    match &files.ca {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .with_context(|| format!("reading --ca {}", path.display()))?;
            for cert in certs {
                let cert = cert.with_context(|| format!("reading --ca {}", path.display()))?;
                roots
                    .add(cert)
                    .with_context(|| format!("--ca {}", path.display()))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_root_certificates(roots);
    let mut config = match (&files.cert, &files.key) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                .with_context(|| format!("reading --cert {}", cert.display()))?;
            let key = PrivateKeyDer::from_pem_file(key)
                .with_context(|| format!("reading --key {}", key.display()))?;
            builder
                .with_client_auth_cert(chain, key)
                .context("--cert and --key")?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => bail!("--cert and --key go together"),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}
