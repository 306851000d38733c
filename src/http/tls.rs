//! TLS on the listener (rustls, TLS 1.2 and 1.3 only, ALPN `h2` and `http/1.1`), with
//! optional mutual TLS: a client certificate that does not chain to `--tls-client-ca`, or is
//! expired, is refused in the handshake.
//!
//! Owns loading the PEM files into a server configuration and replacing it — on SIGHUP, and
//! when a file's modification time changes — without touching open connections: each new
//! handshake takes the configuration current at that moment. A reload that fails (a half-
//! written file) keeps the previous configuration and logs why. It must not serve HTTP.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::RwLock;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio_util::sync::CancellationToken;

/// How often the certificate files are checked for changes.
const WATCH_EVERY: Duration = Duration::from_secs(2);

/// Where the listener's certificate, key and (for mutual TLS) client CA are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, PEM, leaf first.
    pub cert: PathBuf,
    /// The private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// CA certificates, PEM, that client certificates must chain to; `None`: no client
    /// certificates asked for.
    pub client_ca: Option<PathBuf>,
    /// Which name of a client certificate is the principal.
    pub client_principal: super::client_cert::CertPrincipal,
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or holds no usable PEM item.
    #[error("{path}: {problem}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// rustls refused the certificate, key or CA.
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// The current server configuration, swapped whole on reload.
pub struct Tls {
    files: TlsFiles,
    current: RwLock<Arc<ServerConfig>>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

fn file_error(path: &std::path::Path, problem: impl std::fmt::Display) -> TlsError {
    TlsError::File {
        path: path.to_path_buf(),
        problem: problem.to_string(),
    }
}

fn load(files: &TlsFiles) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| file_error(&files.cert, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_error(&files.cert, e))?;
    if certs.is_empty() {
        return Err(file_error(&files.cert, "no CERTIFICATE in the file"));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| file_error(&files.key, e))?;
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = match &files.client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(path).map_err(|e| file_error(path, e))? {
                let cert = cert.map_err(|e| file_error(path, e))?;
                roots.add(cert).map_err(|e| file_error(path, e))?;
            }
            if roots.is_empty() {
                return Err(file_error(path, "no CA CERTIFICATE in the file"));
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| TlsError::Config(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

impl Tls {
    /// Loads the files.
    ///
    /// # Errors
    /// A file is missing or unreadable, or rustls refuses its content.
    pub fn load(files: TlsFiles) -> Result<Self, TlsError> {
        let current = RwLock::new(load(&files)?);
        Ok(Self { files, current })
    }

    /// Which name of a client certificate is the principal.
    #[must_use]
    pub fn client_principal(&self) -> super::client_cert::CertPrincipal {
        self.files.client_principal
    }

    /// An acceptor with the configuration current now.
    #[must_use]
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(Arc::clone(&self.current.read()))
    }

    /// Loads the files again; on failure the previous configuration stays.
    pub fn reload(&self) {
        match load(&self.files) {
            Ok(config) => {
                *self.current.write() = config;
                tracing::info!(cert = %self.files.cert.display(), "TLS certificates reloaded.");
            }
            Err(e) => {
                tracing::warn!(error = %e, "TLS reload failed; keeping the previous certificates.")
            }
        }
    }

    fn stamps(&self) -> Vec<Option<SystemTime>> {
        let files = [
            Some(&self.files.cert),
            Some(&self.files.key),
            self.files.client_ca.as_ref(),
        ];
        files
            .into_iter()
            .flatten()
            .map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
            .collect()
    }

    /// Reloads on SIGHUP and when a file changes, until `stop`.
    pub async fn watch(self: Arc<Self>, stop: CancellationToken) {
        let mut hangup =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        let mut seen = self.stamps();
        let mut tick = tokio::time::interval(WATCH_EVERY);
        loop {
            let hup = async {
                match hangup.as_mut() {
                    Some(signal) => signal.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = stop.cancelled() => return,
                _ = hup => self.reload(),
                _ = tick.tick() => {
                    let now = self.stamps();
                    if now != seen {
                        seen = now;
                        self.reload();
                    }
                }
            }
        }
    }
}
