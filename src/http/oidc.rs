//! OIDC / JWT bearer tokens: a token signed by one of the keys of a JWKS, issued by the
//! configured issuer for the configured audience and not expired, names its principal in one
//! claim (`sub` by default) and its groups in another (`groups`), so ACLs can name
//! `Group:<name>` (which Kafka cannot).
//!
//! Owns loading the JWKS (a file, read at start) and checking tokens. Only asymmetric
//! algorithms are accepted, and a key is used only with its own algorithm: a token cannot pick
//! HS256 and sign with a public key. It must not authorize.

use std::path::PathBuf;

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
    /// The JWKS file (`{"keys": [...]}`).
    pub jwks_file: PathBuf,
    /// The claim naming the principal.
    pub principal_claim: String,
    /// The claim listing the principal's groups (an array of strings, or one string).
    pub groups_claim: String,
}

/// Why the JWKS could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("OIDC JWKS {path}: {problem}")]
pub struct OidcError {
    path: PathBuf,
    problem: String,
}

/// A loaded verifier.
pub struct Oidc {
    settings: OidcSettings,
    /// (kid, algorithm, key) of every usable key.
    keys: Vec<(Option<String>, Algorithm, DecodingKey)>,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc")
            .field("settings", &self.settings)
            .field("keys", &self.keys.len())
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
    /// Reads the JWKS file.
    ///
    /// # Errors
    /// The file is missing, not a JWKS, or has no usable key.
    pub fn load(settings: OidcSettings) -> Result<Self, OidcError> {
        let fail = |problem: String| OidcError {
            path: settings.jwks_file.clone(),
            problem,
        };
        let text = std::fs::read(&settings.jwks_file).map_err(|e| fail(e.to_string()))?;
        let set: JwkSet = serde_json::from_slice(&text).map_err(|e| fail(e.to_string()))?;
        let mut keys = Vec::new();
        for jwk in &set.keys {
            let Some(algorithm) = algorithm_of(jwk) else {
                continue;
            };
            let key = DecodingKey::from_jwk(jwk).map_err(|e| fail(e.to_string()))?;
            keys.push((jwk.common.key_id.clone(), algorithm, key));
        }
        if keys.is_empty() {
            return Err(fail("no asymmetric signing key in the set".into()));
        }
        Ok(Self { settings, keys })
    }

    /// The principal a valid token names; `None` for any token that does not verify.
    pub fn verify(&self, token: &str) -> Option<Principal> {
        let header = decode_header(token).ok()?;
        let candidates = self.keys.iter().filter(|(kid, algorithm, _)| {
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
            });
        }
        None
    }
}
