//! Authentication at the HTTP edge, the same for every front end: every route but the health
//! checks needs credentials when `--auth-required` is on. Accepted: `Authorization: Bearer
//! <api key>`, `Authorization: Basic` with the key's id as user and its secret as password
//! (Confluent clients' `basic.auth.user.info`), the admin token, for the streaming routes
//! (SSE, WebSocket) a `token` query parameter, since browsers cannot set headers there, and
//! under mutual TLS the client certificate's common name when no other credential is sent.
//!
//! Owns extracting and checking credentials and the 401 answer; the broker checks keys.
//! What an authenticated principal may do is not decided here.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hyper::StatusCode;
use hyper::body::Incoming;
use hyper::header::AUTHORIZATION;
use sha2::{Digest, Sha256};

use super::AppState;
use super::error::ApiError;
use crate::broker::Principal;

/// Authentication settings.
#[derive(Clone, Default)]
pub struct AuthConfig {
    /// Refuse requests without valid credentials.
    pub required: bool,
    /// A static token for the `admin` superuser (bootstraps key management).
    pub admin_token: Option<String>,
    /// OIDC/JWT bearer tokens, when configured.
    pub oidc: Option<std::sync::Arc<super::oidc::Oidc>>,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("required", &self.required)
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// The 401 answer (the router adds `WWW-Authenticate`).
pub(crate) fn unauthenticated(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, 1, message)
}

/// The credential a request carries, if any.
fn credential(
    req: &hyper::Request<Incoming>,
    allow_query: bool,
) -> Result<Option<String>, ApiError> {
    if let Some(value) = req.headers().get(AUTHORIZATION) {
        let text = value
            .to_str()
            .map_err(|_| unauthenticated("the Authorization header is not text"))?;
        let (scheme, rest) = text.trim().split_once(' ').unwrap_or((text, ""));
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            return Ok(Some(rest.to_owned()));
        }
        if scheme.eq_ignore_ascii_case("basic") {
            let decoded = BASE64
                .decode(rest)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    unauthenticated("Basic credentials are not base64 of user:password")
                })?;
            let (user, password) = decoded.split_once(':').unwrap_or((&decoded, ""));
            // user = the key's id, password = its secret; a whole key as password also works.
            let token = if password.contains('.') || user.is_empty() {
                password.to_owned()
            } else {
                format!("{user}.{password}")
            };
            return Ok(Some(token));
        }
        return Err(unauthenticated("use Authorization: Bearer or Basic"));
    }
    if allow_query {
        let token = req.uri().query().and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "token")
                .map(|(_, v)| v.into_owned())
        });
        return Ok(token);
    }
    Ok(None)
}

/// The caller, or 401. With authentication off, every caller is an anonymous superuser.
pub(crate) async fn authenticate(
    state: &AppState,
    req: &hyper::Request<Incoming>,
    allow_query: bool,
) -> Result<Principal, ApiError> {
    let auth = &state.config.auth;
    if !auth.required {
        return Ok(Principal {
            name: "ANONYMOUS".into(),
            groups: Vec::new(),
            superuser: true,
            ..Principal::default()
        });
    }
    let Some(token) = credential(req, allow_query)? else {
        // Mutual TLS: a verified client certificate names the principal.
        if let Some(cert) = req.extensions().get::<super::router::ClientCertificate>() {
            return Ok(Principal {
                name: cert.0.to_string(),
                groups: Vec::new(),
                superuser: false,
                ..Principal::default()
            });
        }
        return Err(unauthenticated(
            "authentication required: send Authorization: Bearer <api key> (or Basic), or a client certificate",
        ));
    };
    if let Some(admin) = &auth.admin_token {
        // Digests, so the comparison's time says nothing about the token.
        if Sha256::digest(admin.as_bytes()) == Sha256::digest(token.as_bytes()) {
            return Ok(Principal {
                name: "admin".into(),
                groups: Vec::new(),
                superuser: true,
                ..Principal::default()
            });
        }
    }
    // A JWT has three base64url parts; an API key has one dot.
    if let Some(oidc) = &auth.oidc
        && token.matches('.').count() == 2
    {
        return oidc
            .verify(&token)
            .await
            .ok_or_else(|| unauthenticated("invalid or expired token"));
    }
    state
        .broker
        .authenticate_key(&token)
        .await
        .ok_or_else(|| unauthenticated("invalid, expired or revoked credentials"))
}
