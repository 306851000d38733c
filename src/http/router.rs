//! Routing: (method, path) → handler, plus the per-request envelope every route shares
//! (error body, latency and status metrics, request logging).

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use super::handlers::{groups, ops, plugins, records, topics, transforms};
use super::{AppState, error::ApiError};

/// The response body type of every route (a boxed body, so streaming routes fit in too).
pub type Body = BoxBody<Bytes, hyper::Error>;
/// What a handler returns.
pub type HandlerResult = Result<Response<Body>, ApiError>;

/// The per-connection hyper service.
#[derive(Clone)]
pub struct Service {
    state: Arc<AppState>,
    peer: SocketAddr,
}

impl Service {
    pub(crate) fn new(state: Arc<AppState>, peer: SocketAddr) -> Self {
        Self { state, peer }
    }
}

impl hyper::service::Service<Request<Incoming>> for Service {
    type Response = Response<Body>;
    type Error = std::convert::Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let state = Arc::clone(&self.state);
        let peer = self.peer;
        Box::pin(async move {
            let started = Instant::now();
            let method = req.method().clone();
            let path = req.uri().path().to_owned();
            let (route, result) = dispatch(&state, req).await;
            let response = result.unwrap_or_else(|e| error_response(&e));
            let status = response.status().as_u16();
            state
                .metrics
                .observe_request(route, status, started.elapsed().as_secs_f64());
            tracing::debug!(%peer, %method, %path, status, "Request served.");
            Ok(response)
        })
    }
}

async fn dispatch(state: &AppState, req: Request<Incoming>) -> (&'static str, HandlerResult) {
    let path = req.uri().path().to_owned();
    let segments: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let seg: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = req.method().clone();
    match (seg.as_slice(), &method) {
        (["healthz"], &Method::GET) => ("healthz", Ok(ops::healthz())),
        (["readyz"], &Method::GET) => ("readyz", Ok(ops::healthz())),
        (["metrics"], &Method::GET) => ("metrics", Ok(ops::metrics(state))),
        (["openapi.json"], &Method::GET) => ("openapi", Ok(ops::openapi())),
        (["v1", "topics"], &Method::GET) => ("list_topics", topics::list(state)),
        (["v1", "topics"], &Method::POST) => ("create_topic", topics::create(state, req).await),
        (["v1", "topics", t], &Method::GET) => ("describe_topic", topics::describe(state, t)),
        (["v1", "topics", t], &Method::DELETE) => ("delete_topic", topics::delete(state, t).await),
        (["v1", "topics", t], &Method::PATCH) => {
            ("alter_topic", topics::alter(state, t, req).await)
        }
        (["v1", "topics", t, "records"], &Method::POST) => {
            ("produce", records::produce(state, t, req).await)
        }
        (["v1", "topics", t, "partitions", p, "records"], &Method::GET) => {
            ("fetch", records::fetch(state, t, p, &req).await)
        }
        (["v1", "topics", t, "partitions", p, "offsets"], &Method::GET) => {
            ("offsets", records::offset_for_time(state, t, p, &req).await)
        }
        (["v1", "groups"], &Method::GET) => ("list_groups", groups::list(state)),
        (["v1", "groups", g, "offsets"], &Method::GET) => ("group_offsets", groups::get(state, g)),
        (["v1", "groups", g, "offsets"], &Method::POST) => {
            ("commit_offsets", groups::commit(state, g, req).await)
        }
        (["v1", "plugins"], &Method::GET) => ("list_plugins", plugins::list(state)),
        (["v1", "plugins", n], &Method::PUT) => {
            ("upload_plugin", plugins::upload(state, n, req).await)
        }
        (["v1", "plugins", n], &Method::GET) => ("get_plugin", plugins::get(state, n)),
        (["v1", "plugins", n], &Method::DELETE) => {
            ("delete_plugin", plugins::delete(state, n).await)
        }
        (["v1", "transforms"], &Method::GET) => ("list_transforms", transforms::list(state)),
        (["v1", "transforms"], &Method::POST) => {
            ("create_transform", transforms::create(state, req).await)
        }
        (["v1", "transforms", n], &Method::GET) => ("get_transform", transforms::get(state, n)),
        (["v1", "transforms", n], &Method::DELETE) => {
            ("delete_transform", transforms::delete(state, n).await)
        }
        (["v1", "transforms", n, "pause"], &Method::POST) => (
            "pause_transform",
            transforms::set_paused(state, n, true).await,
        ),
        (["v1", "transforms", n, "resume"], &Method::POST) => (
            "resume_transform",
            transforms::set_paused(state, n, false).await,
        ),
        (known, m) if is_known_path(known) => {
            ("unknown", Err(ApiError::method_not_allowed(m, &path)))
        }
        (_, m) => ("unknown", Err(ApiError::no_route(m, &path))),
    }
}

fn is_known_path(seg: &[&str]) -> bool {
    matches!(
        seg,
        ["healthz" | "readyz" | "metrics" | "openapi.json"]
            | ["v1", "topics" | "groups" | "plugins" | "transforms"]
            | ["v1", "plugins" | "transforms", _]
            | ["v1", "transforms", _, "pause" | "resume"]
            | ["v1", "topics", _]
            | ["v1", "topics", _, "records"]
            | ["v1", "topics", _, "partitions", _, "records" | "offsets"]
            | ["v1", "groups", _, "offsets"]
    )
}

/// A complete response with `status`, a content type and `body`.
pub fn respond(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut response = Response::new(
        Full::new(body.into())
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A JSON response of a serializable value.
pub fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> HandlerResult {
    let body = serde_json::to_vec(value).map_err(|e| ApiError::internal(&e))?;
    Ok(respond(status, "application/json", body))
}

/// 204 No Content.
pub fn no_content() -> Response<Body> {
    let mut response = respond(StatusCode::NO_CONTENT, "application/json", Bytes::new());
    response.headers_mut().remove(CONTENT_TYPE);
    response
}

fn error_response(e: &ApiError) -> Response<Body> {
    respond(e.status, "application/json", e.body())
}

/// Reads a whole request body, refusing more than the configured limit with 413.
pub async fn read_body(state: &AppState, req: Request<Incoming>) -> Result<Bytes, ApiError> {
    read_body_limited(req, state.config.max_body_bytes).await
}

/// Reads a whole request body, refusing more than `limit` bytes with 413.
pub async fn read_body_limited(req: Request<Incoming>, limit: usize) -> Result<Bytes, ApiError> {
    let declared = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::body_too_large(limit));
    }
    match http_body_util::Limited::new(req.into_body(), limit)
        .collect()
        .await
    {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            Err(ApiError::body_too_large(limit))
        }
        Err(e) => Err(ApiError::bad_request(format!(
            "could not read the request body: {e}"
        ))),
    }
}

/// Parses a JSON body into `T`, answering 400 with serde's explanation when it does not fit.
pub fn parse_json<'a, T: serde::Deserialize<'a>>(body: &'a [u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

/// The query parameters of a request, decoded.
pub fn query(req: &Request<Incoming>) -> Vec<(String, String)> {
    req.uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}
