//! Capabilities a connector's configuration grants its plugin: outbound HTTP to an allow-list
//! of hosts or URL prefixes, and optionally one directory. Transforms get [`Grants::none`].
//!
//! Owns the allow-list matching and the `wasi:http` hook that enforces it: a request whose URL
//! matches no entry fails with `HTTP-request-denied` before any connection or DNS lookup. It
//! must not decide which directory a connector may have (the caller resolves and creates it).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper::Uri;
use wasmtime_wasi_http::{RequestOptions, WasiHttpHooks};

/// Longest a connector may wait for a connection, and for a response's first byte or next
/// bytes. The guest may ask for less; the `wasi:http` default of 600 s would outlive any call.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);

/// What one plugin instance may reach outside its sandbox.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// Outbound HTTP allow-list (see [`AllowEntry`]); empty = no network.
    pub http_allow: Vec<AllowEntry>,
    /// A host directory the plugin sees at `/data`, read-write.
    pub dir: Option<PathBuf>,
}

impl Grants {
    /// Nothing: no network, no files (what transforms get).
    #[must_use]
    pub fn none() -> Self {
        Self::default()
    }

    /// Whether a request to `uri` is allowed.
    #[must_use]
    pub fn allows(&self, uri: &Uri) -> bool {
        self.http_allow.iter().any(|entry| entry.matches(uri))
    }
}

/// One allow-list entry: a host (`api.example.com`, any port and path; `api.example.com:8443`,
/// that port) or a URL prefix (`https://api.example.com/hooks/`: that scheme, host and port,
/// and paths under that one; a prefix not ending in `/` also matches itself exactly).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowEntry {
    scheme: Option<String>,
    host: String,
    port: Option<u16>,
    path: Option<String>,
}

impl AllowEntry {
    /// Parses one entry.
    ///
    /// # Errors
    /// A description of what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("an empty entry".into());
        }
        if text.contains("://") {
            let uri: Uri = text
                .parse()
                .map_err(|e| format!("'{text}' is not a URL: {e}"))?;
            let scheme = uri.scheme_str().map(str::to_ascii_lowercase);
            if !matches!(scheme.as_deref(), Some("http" | "https")) {
                return Err(format!("'{text}': only http and https URLs can be allowed"));
            }
            let host = uri
                .host()
                .ok_or_else(|| format!("'{text}' names no host"))?
                .to_ascii_lowercase();
            let port = uri.port_u16().or_else(|| default_port(scheme.as_deref()));
            if uri.query().is_some() {
                return Err(format!("'{text}': a prefix cannot have a query"));
            }
            let path = Some(uri.path().to_owned()).filter(|p| p != "/" && !p.is_empty());
            return Ok(Self {
                scheme,
                host,
                port,
                path,
            });
        }
        let authority: hyper::http::uri::Authority = text
            .parse()
            .map_err(|e| format!("'{text}' is not a host or host:port: {e}"))?;
        if authority.as_str().contains('@') {
            return Err(format!("'{text}': no user information allowed"));
        }
        Ok(Self {
            scheme: None,
            host: authority.host().to_ascii_lowercase(),
            port: authority.port_u16(),
            path: None,
        })
    }

    /// Parses a comma-separated list.
    ///
    /// # Errors
    /// The first entry that does not parse.
    pub fn parse_list(text: &str) -> Result<Vec<Self>, String> {
        text.split(',')
            .filter(|e| !e.trim().is_empty())
            .map(Self::parse)
            .collect()
    }

    fn matches(&self, uri: &Uri) -> bool {
        let scheme = uri.scheme_str().map(str::to_ascii_lowercase);
        let Some(host) = uri.host() else {
            return false;
        };
        if !host.eq_ignore_ascii_case(&self.host) {
            return false;
        }
        if self.scheme.is_some() && self.scheme != scheme {
            return false;
        }
        let port = uri.port_u16().or_else(|| default_port(scheme.as_deref()));
        if self.port.is_some() && self.port != port {
            return false;
        }
        match &self.path {
            None => true,
            Some(prefix) => {
                let path = uri.path();
                path == prefix
                    || (path.starts_with(prefix.as_str())
                        && (prefix.ends_with('/') || path[prefix.len()..].starts_with('/')))
            }
        }
    }
}

fn default_port(scheme: Option<&str>) -> Option<u16> {
    match scheme {
        Some("http") => Some(80),
        Some("https") => Some(443),
        _ => None,
    }
}

/// The `wasi:http` hooks of one instance: the allow-list in front of the default client.
pub(crate) struct HttpHooks {
    pub(crate) grants: Arc<Grants>,
    pub(crate) plugin: Arc<str>,
}

type Sent = wasmtime_wasi_http::Result<(
    hyper::Response<wasmtime_wasi_http::WasiBody>,
    Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
)>;

impl WasiHttpHooks for HttpHooks {
    fn send_request(
        &mut self,
        request: hyper::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<dyn Future<Output = Sent> + Send> {
        if !self.grants.allows(request.uri()) {
            tracing::warn!(plugin = &*self.plugin, url = %request.uri(),
                "Plugin request outside its allow-list denied.");
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        let clamp =
            |asked: Option<Duration>, most: Duration| Some(asked.map_or(most, |d| d.min(most)));
        let options = options.unwrap_or_default();
        let options = RequestOptions {
            connect_timeout: clamp(options.connect_timeout, CONNECT_TIMEOUT),
            first_byte_timeout: clamp(options.first_byte_timeout, RESPONSE_TIMEOUT),
            between_bytes_timeout: clamp(options.between_bytes_timeout, RESPONSE_TIMEOUT),
        };
        Box::new(async move {
            use http_body_util::BodyExt;
            let (response, io) =
                wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = _> + Send>,
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(list: &str, url: &str) -> bool {
        let grants = Grants {
            http_allow: AllowEntry::parse_list(list).expect("valid list"),
            dir: None,
        };
        grants.allows(&url.parse().expect("valid url"))
    }

    #[test]
    fn hosts_and_prefixes_match_exactly() {
        assert!(allows("api.example.com", "https://api.example.com/x?y=1"));
        assert!(allows("API.example.com", "http://api.example.com:8080/"));
        assert!(!allows(
            "api.example.com",
            "https://api.example.com.evil.net/"
        ));
        assert!(!allows(
            "api.example.com",
            "https://evil.net/?api.example.com"
        ));
        assert!(allows("127.0.0.1:8080", "http://127.0.0.1:8080/hook"));
        assert!(!allows("127.0.0.1:8080", "http://127.0.0.1:8081/hook"));
        assert!(allows(
            "http://127.0.0.1:9/hooks",
            "http://127.0.0.1:9/hooks"
        ));
        assert!(allows(
            "http://127.0.0.1:9/hooks",
            "http://127.0.0.1:9/hooks/a?b"
        ));
        assert!(!allows(
            "http://127.0.0.1:9/hooks",
            "http://127.0.0.1:9/hooksevil"
        ));
        assert!(!allows(
            "http://127.0.0.1:9/hooks",
            "https://127.0.0.1:9/hooks"
        ));
        assert!(allows("https://h.example/", "https://h.example:443/any"));
        assert!(!allows("https://h.example/", "https://h.example:444/any"));
        assert!(!allows("", "http://127.0.0.1/"));
    }

    #[test]
    fn bad_entries_are_refused() {
        for bad in ["ftp://x/", "http://", "a b", "https://x/?q=1", "user@host"] {
            assert!(AllowEntry::parse(bad).is_err(), "{bad}");
        }
    }
}
