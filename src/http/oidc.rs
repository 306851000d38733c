//! OIDC / JWT bearer tokens: a token signed by one of the keys of a JWKS, issued by the
//! configured issuer for the configured audience and not expired, names its principal in one
//! claim (`sub` by default) and its groups in another (`groups`), so ACLs can name
//! `Group:<name>` (which Kafka cannot).
//!
//! Owns loading the JWKS — a file read at start, or a URL fetched at start and again when the
//! cached set is older than the refresh interval or a token names a key id the set lacks (the
//! identity provider rotated its keys), at most once per [`MIN_REFETCH`] (or per refresh
//! interval, when that is shorter) — and checking
//! tokens. A failed refetch keeps the previous set. Only asymmetric algorithms are accepted,
//! and a key is used only with its own algorithm: a token cannot pick HS256 and sign with a
//! public key. It must not authorize.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::Value;

use crate::broker::Principal;

/// What to trust and which claims to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSettings {
    /// The `iss` every token must carry.
    pub issuer: String,
    /// The `aud` every token must include.
    pub audience: String,
    /// Where the key set (`{"keys": [...]}`) comes from.
    pub jwks: JwksSource,
    /// The claim naming the principal.
    pub principal_claim: String,
    /// The claim listing the principal's groups (an array of strings, or one string).
    pub groups_claim: String,
}

/// Where the JWKS comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// A file, read once at start.
    File(PathBuf),
    /// An `https://` URL (or `http://` on a loopback address), fetched at start and refreshed
    /// every `refresh`.
    Url {
        /// The URL.
        url: String,
        /// Age after which the cached set is fetched again.
        refresh: Duration,
    },
}

impl std::fmt::Display for JwksSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Url { url, .. } => f.write_str(url),
        }
    }
}

/// Least time between two fetches of a JWKS URL, so tokens with made-up key ids cannot make
/// the gateway hammer the identity provider.
pub const MIN_REFETCH: Duration = Duration::from_secs(30);
/// Longest a JWKS fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest JWKS document accepted.
const MAX_JWKS_BYTES: usize = 1 << 20;

/// Why the JWKS could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("OIDC JWKS {source_name}: {problem}")]
pub struct OidcError {
    source_name: String,
    problem: String,
}

/// (kid, algorithm, key) of every usable key.
type Keys = Vec<(Option<String>, Algorithm, DecodingKey)>;

type HttpsClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    http_body_util::Empty<bytes::Bytes>,
>;

/// A loaded verifier.
pub struct Oidc {
    settings: OidcSettings,
    keys: Arc<parking_lot::RwLock<Arc<Keys>>>,
    /// For URL sources: the client, and when the set was last fetched (tried).
    fetcher: Option<(HttpsClient, Arc<tokio::sync::Mutex<Instant>>)>,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc")
            .field("settings", &self.settings)
            .field("keys", &self.keys.read().len())
            .finish()
    }
}

/// The algorithm a JWK's parameters allow (its `alg`, else the family's usual one).
fn algorithm_of(jwk: &jsonwebtoken::jwk::Jwk) -> Option<Algorithm> {
    let declared = jwk
        .common
        .key_algorithm
        .and_then(|a| a.to_string().parse::<Algorithm>().ok());
    let algorithm = match (&jwk.algorithm, declared) {
        (_, Some(a)) => a,
        (AlgorithmParameters::RSA(_), None) => Algorithm::RS256,
        (AlgorithmParameters::EllipticCurve(p), None) => match p.curve {
            jsonwebtoken::jwk::EllipticCurve::P384 => Algorithm::ES384,
            _ => Algorithm::ES256,
        },
        (AlgorithmParameters::OctetKeyPair(_), None) => Algorithm::EdDSA,
        (AlgorithmParameters::OctetKey(_), None) => return None,
    };
    // Shared-secret algorithms have no place in a public key set.
    (!matches!(
        algorithm,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
    ))
    .then_some(algorithm)
}

impl Oidc {
    /// Reads the JWKS file, or fetches the URL.
    ///
    /// # Errors
    /// The file or URL cannot be read, is not a JWKS, or has no usable key.
    pub async fn load(settings: OidcSettings) -> Result<Self, OidcError> {
        let fail = |problem: String| OidcError {
            source_name: settings.jwks.to_string(),
            problem,
        };
        let (text, fetcher) = match &settings.jwks {
            JwksSource::File(path) => (std::fs::read(path).map_err(|e| fail(e.to_string()))?, None),
            JwksSource::Url { url, .. } => {
                let client = https_client().map_err(fail)?;
                let text = fetch(&client, url).await.map_err(fail)?;
                (
                    text,
                    Some((client, Arc::new(tokio::sync::Mutex::new(Instant::now())))),
                )
            }
        };
        let keys = parse_keys(&text).map_err(fail)?;
        Ok(Self {
            settings,
            keys: Arc::new(parking_lot::RwLock::new(Arc::new(keys))),
            fetcher,
        })
    }

    /// Fetches the set again unless that was tried less than `min_gap` ago. With `wait`, the
    /// caller waits for the fetch (and for one already under way): it needs the newest set;
    /// without, it goes on with the cached one. The fetch runs in a task of its own, so a
    /// caller that goes away (a reset connection) cannot cancel it halfway.
    async fn refetch(&self, min_gap: Duration, wait: bool) {
        let (Some((client, last)), JwksSource::Url { url, .. }) =
            (&self.fetcher, &self.settings.jwks)
        else {
            return;
        };
        let mut guard = if wait {
            Arc::clone(last).lock_owned().await
        } else {
            match Arc::clone(last).try_lock_owned() {
                Ok(guard) => guard,
                Err(_) => return,
            }
        };
        if guard.elapsed() < min_gap {
            return;
        }
        *guard = Instant::now();
        let (client, url, keys) = (client.clone(), url.clone(), Arc::clone(&self.keys));
        let task = tokio::spawn(async move {
            match fetch(&client, &url)
                .await
                .and_then(|text| parse_keys(&text))
            {
                Ok(fresh) => {
                    tracing::info!(url, keys = fresh.len(), "OIDC key set refreshed.");
                    *keys.write() = Arc::new(fresh);
                }
                Err(e) => tracing::warn!(url, error = %e,
                    "OIDC key set refresh failed; keeping the previous set."),
            }
            // Held to the end, so callers waiting for a fetch see its result.
            drop(guard);
        });
        if wait {
            let _ = task.await;
        }
    }

    /// The principal a valid token names; `None` for any token that does not verify. A key id
    /// the cached set lacks makes a URL source fetch the set again first.
    pub async fn verify(&self, token: &str) -> Option<Principal> {
        let header = decode_header(token).ok()?;
        if let JwksSource::Url { refresh, .. } = self.settings.jwks {
            let known = |keys: &Keys| {
                header.kid.is_none()
                    || keys
                        .iter()
                        .any(|(kid, ..)| kid.as_ref() == header.kid.as_ref())
            };
            if known(&self.keys.read()) {
                // Only one request pays for a periodic refresh; the others use the cached set.
                self.refetch(refresh, false).await;
            } else {
                self.refetch(MIN_REFETCH.min(refresh), true).await;
            }
        }
        let keys = Arc::clone(&self.keys.read());
        self.check(&keys, &header, token)
    }

    fn check(&self, keys: &Keys, header: &jsonwebtoken::Header, token: &str) -> Option<Principal> {
        let candidates = keys.iter().filter(|(kid, algorithm, _)| {
            *algorithm == header.alg
                && (header.kid.is_none() || kid.as_ref() == header.kid.as_ref())
        });
        for (_, algorithm, key) in candidates {
            let mut validation = Validation::new(*algorithm);
            validation.set_issuer(&[&self.settings.issuer]);
            validation.set_audience(&[&self.settings.audience]);
            validation.set_required_spec_claims(&["exp", "iss", "aud"]);
            let Ok(data) = decode::<Value>(token, key, &validation) else {
                continue;
            };
            let claims = data.claims;
            let name = claims
                .get(&self.settings.principal_claim)?
                .as_str()?
                .to_owned();
            let groups = match claims.get(&self.settings.groups_claim) {
                Some(Value::Array(items)) => items
                    .iter()
                    .filter_map(|g| g.as_str().map(str::to_owned))
                    .collect(),
                Some(Value::String(one)) => vec![one.clone()],
                _ => Vec::new(),
            };
            return Some(Principal {
                name,
                groups,
                superuser: false,
                key_id: None,
                expires_ms: claims
                    .get("exp")
                    .and_then(Value::as_i64)
                    .map(|s| s.saturating_mul(1000)),
            });
        }
        None
    }
}

fn parse_keys(text: &[u8]) -> Result<Keys, String> {
    let set: JwkSet = serde_json::from_slice(text).map_err(|e| e.to_string())?;
    let mut keys = Vec::new();
    for jwk in &set.keys {
        let Some(algorithm) = algorithm_of(jwk) else {
            continue;
        };
        let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
        keys.push((jwk.common.key_id.clone(), algorithm, key));
    }
    if keys.is_empty() {
        return Err("no asymmetric signing key in the set".into());
    }
    Ok(keys)
}

/// A client that verifies servers against the Mozilla roots.
fn https_client() -> Result<HttpsClient, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_or_http()
        .enable_http1()
        .build();
    Ok(
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(connector),
    )
}

/// GETs `url`: 200 with a body of at most [`MAX_JWKS_BYTES`], within [`FETCH_TIMEOUT`].
async fn fetch(client: &HttpsClient, url: &str) -> Result<Vec<u8>, String> {
    use http_body_util::BodyExt;
    let request = hyper::Request::get(url)
        .header(hyper::header::ACCEPT, "application/json")
        .body(http_body_util::Empty::new())
        .map_err(|e| e.to_string())?;
    let exchange = async {
        let response = client
            .request(request)
            .await
            .map_err(|e| format!("{e:#}"))?;
        if response.status() != hyper::StatusCode::OK {
            return Err(format!("answered {}", response.status()));
        }
        let body = http_body_util::Limited::new(response.into_body(), MAX_JWKS_BYTES);
        body.collect()
            .await
            .map(|b| b.to_bytes().to_vec())
            .map_err(|e| e.to_string())
    };
    tokio::time::timeout(FETCH_TIMEOUT, exchange)
        .await
        .map_err(|_| format!("no answer within {FETCH_TIMEOUT:?}"))?
}

/// Whether `url` may serve keys: `https://`, or `http://` on a loopback address (where no
/// one can sit in the middle).
///
/// # Errors
/// Why not.
pub fn check_jwks_url(url: &str) -> Result<(), String> {
    let uri: hyper::Uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
    let host = uri.host().unwrap_or_default();
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match uri.scheme_str() {
        Some("https") if !host.is_empty() => Ok(()),
        Some("http") if loopback => Ok(()),
        _ => Err(format!(
            "{url}: a key set URL must be https:// (http:// only on a loopback address)"
        )),
    }
}
