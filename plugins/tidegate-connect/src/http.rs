//! A blocking HTTP/1.1 client over `wasi:http/outgoing-handler` 0.2.
//!
//! One call, one request: [`request`] sends the request, streams the body in chunks of at most
//! 4096 bytes (the limit of `blocking-write-and-flush`), waits for the response and reads its
//! body until the stream closes. There are no redirects, no retries and no connection reuse
//! visible to the guest (the host may pool connections).
//!
//! Every failure is an `Err(String)`, never a panic: a malformed URL or header, or a host error,
//! whose text then contains the `ErrorCode` variant's name, e.g. `HttpRequestDenied` for a URL
//! outside the connector's `tidegate.http.allow` list, `ConnectionRefused`,
//! `ConnectionTimeout`. See [`is_denied`].
//!
//! The host bounds every request (connect 10 s, first byte and between bytes 30 s at most); a
//! guest can ask for less with [`request_with_timeout`]. The whole call is also bounded by the
//! connector's call budget (`tidegate.call.timeout.ms`), so keep requests short.

use std::time::Duration;

use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, Method, OutgoingBody, OutgoingRequest,
    RequestOptions, Scheme,
};
use wasip2::io::streams::StreamError;

/// Largest chunk handed to one `blocking-write-and-flush` (the WASI limit is 4096 bytes).
const CHUNK: usize = 4096;

/// Largest read asked of the response stream at once.
const READ: u64 = 64 << 10;

/// A response: status and the whole body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// Whether the status is 2xx.
    #[must_use]
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Up to `max` bytes of the body as (lossy) UTF-8, for error messages.
    #[must_use]
    pub fn body_excerpt(&self, max: usize) -> String {
        let end = self.body.len().min(max);
        let mut text = String::from_utf8_lossy(&self.body[..end]).into_owned();
        if end < self.body.len() {
            text.push('…');
        }
        text
    }
}

/// A URL taken apart the way `wasi:http` wants it.
#[derive(Debug)]
struct Target<'a> {
    scheme: Scheme,
    authority: &'a str,
    /// Path and query, starting with `/`.
    path: String,
}

/// Splits `url` into scheme, authority and path-with-query (a fragment is dropped).
fn split(url: &str) -> Result<Target<'_>, String> {
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("'{url}' contains whitespace or control characters"));
    }
    let (scheme, rest) = if let Some(rest) = strip_prefix_ignore_case(url, "http://") {
        (Scheme::Http, rest)
    } else if let Some(rest) = strip_prefix_ignore_case(url, "https://") {
        (Scheme::Https, rest)
    } else {
        return Err(format!("'{url}' is not an http:// or https:// URL"));
    };
    let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.is_empty() || authority.starts_with(':') {
        return Err(format!("'{url}' names no host"));
    }
    if authority.contains('@') {
        return Err(format!(
            "'{url}': user information in URLs is not supported"
        ));
    }
    let path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    Ok(Target {
        scheme,
        authority,
        path,
    })
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// Checks that `url` is an `http://` or `https://` URL with a host that [`request`] can send
/// to (for config validation; it does not check the connector's allow-list).
///
/// # Errors
/// What is wrong with it, for the operator.
pub fn check_url(url: &str) -> Result<(), String> {
    split(url).map(|_| ())
}

/// Whether an error returned by [`request`] is the host's refusal of a URL outside the
/// connector's `tidegate.http.allow` list (retrying cannot help until the config changes).
#[must_use]
pub fn is_denied(error: &str) -> bool {
    error.contains("HttpRequestDenied")
}

/// Sends one request and waits for the whole response, with the host's timeouts.
///
/// `method` is e.g. `"GET"` or `"POST"`; `headers` are added in order (names are
/// case-insensitive; `host`, `connection`, `transfer-encoding` and the like are refused by the
/// host). With a `body`, a `content-length` header is set; without one, none is sent.
///
/// # Errors
/// A description of what failed (see the module docs); never panics.
pub fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Response, String> {
    request_with_timeout(method, url, headers, body, None)
}

/// [`request`], asking the host for at most `timeout` to connect, then at most `timeout` for
/// the first response byte and between any two bytes (the host's own limits still apply).
///
/// # Errors
/// As [`request`]; a timeout is `ConnectionTimeout`, `ConnectionReadTimeout` and the like.
pub fn request_with_timeout(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
    timeout: Option<Duration>,
) -> Result<Response, String> {
    let target = split(url)?;
    let fields = Fields::new();
    for (name, value) in headers {
        fields
            .append(name, value.as_bytes())
            .map_err(|e| format!("header '{name}': {e:?}"))?;
    }
    if let Some(body) = body {
        fields
            .set("content-length", &[body.len().to_string().into_bytes()])
            .map_err(|e| format!("header 'content-length': {e:?}"))?;
    }
    let request = OutgoingRequest::new(fields);
    let method = match method.to_ascii_uppercase().as_str() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "PATCH" => Method::Patch,
        "OPTIONS" => Method::Options,
        _ => Method::Other(method.to_owned()),
    };
    request
        .set_method(&method)
        .map_err(|()| format!("invalid method '{method:?}'"))?;
    request
        .set_scheme(Some(&target.scheme))
        .map_err(|()| "invalid scheme".to_owned())?;
    request
        .set_authority(Some(target.authority))
        .map_err(|()| format!("invalid host '{}'", target.authority))?;
    request
        .set_path_with_query(Some(&target.path))
        .map_err(|()| format!("invalid path '{}'", target.path))?;
    // Without a body the request gets none (an empty body could be sent chunked).
    let outgoing = match body {
        Some(_) => Some(
            request
                .body()
                .map_err(|()| "request body taken twice".to_owned())?,
        ),
        None => None,
    };
    let options = timeout.map(options);
    let pending = outgoing_handler::handle(request, options).map_err(|e| format!("{e:?}"))?;
    if let (Some(outgoing), Some(bytes)) = (outgoing, body) {
        if let Err(e) = write_body(&outgoing, bytes) {
            // The host closes the stream when the request failed: its reason is better.
            drop(outgoing);
            return Err(match wait(&pending) {
                Err(code) => code,
                Ok(_) => e,
            });
        }
        OutgoingBody::finish(outgoing, None).map_err(|e| format!("{e:?}"))?;
    }
    let response = wait(&pending)?;
    let status = response.status();
    let incoming = response
        .consume()
        .map_err(|()| "response body taken twice".to_owned())?;
    let mut body = Vec::new();
    {
        let stream = incoming
            .stream()
            .map_err(|()| "response stream taken twice".to_owned())?;
        loop {
            match stream.blocking_read(READ) {
                Ok(bytes) => body.extend_from_slice(&bytes),
                Err(StreamError::Closed) => break,
                Err(e) => return Err(stream_error("reading the response body", e)),
            }
        }
    }
    Ok(Response { status, body })
}

/// Request options asking for `timeout` per phase; a phase the host cannot limit keeps its
/// default.
fn options(timeout: Duration) -> RequestOptions {
    let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
    let options = RequestOptions::new();
    // An `err` means "not supported": the host's own limits then apply.
    let _ = options.set_connect_timeout(Some(nanos));
    let _ = options.set_first_byte_timeout(Some(nanos));
    let _ = options.set_between_bytes_timeout(Some(nanos));
    options
}

fn write_body(outgoing: &OutgoingBody, bytes: &[u8]) -> Result<(), String> {
    let stream = outgoing
        .write()
        .map_err(|()| "request stream taken twice".to_owned())?;
    for chunk in bytes.chunks(CHUNK) {
        stream
            .blocking_write_and_flush(chunk)
            .map_err(|e| stream_error("writing the request body", e))?;
    }
    Ok(())
}

/// Waits for the response head; an `ErrorCode` becomes its Debug text.
fn wait(pending: &FutureIncomingResponse) -> Result<wasip2::http::types::IncomingResponse, String> {
    pending.subscribe().block();
    match pending.get() {
        Some(Ok(Ok(response))) => Ok(response),
        Some(Ok(Err(code))) => Err(describe(&code)),
        Some(Err(())) => Err("response taken twice".into()),
        None => Err("no response after the wait".into()),
    }
}

fn describe(code: &ErrorCode) -> String {
    format!("{code:?}")
}

fn stream_error(what: &str, e: StreamError) -> String {
    match e {
        StreamError::Closed => format!("{what}: stream closed"),
        StreamError::LastOperationFailed(err) => {
            // A failed body stream may carry the HTTP error code behind it.
            match wasip2::http::types::http_error_code(&err) {
                Some(code) => format!("{what}: {}", describe(&code)),
                None => format!("{what}: {}", err.to_debug_string()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(url: &str) -> Option<(String, String)> {
        split(url).ok().map(|t| (t.authority.to_owned(), t.path))
    }

    #[test]
    fn urls_split_into_authority_and_path() {
        assert_eq!(parts("http://h:8080"), Some(("h:8080".into(), "/".into())));
        assert_eq!(
            parts("https://h/a/b?c=1#frag"),
            Some(("h".into(), "/a/b?c=1".into()))
        );
        assert_eq!(parts("HTTP://h?x=1"), Some(("h".into(), "/?x=1".into())));
        assert_eq!(parts("ftp://h/"), None);
        assert_eq!(parts("http:///path"), None);
        assert_eq!(parts("http://u:p@h/"), None);
        assert_eq!(parts("http://h/a b"), None);
    }
}
