//! Routing: (method, path) → handler, plus the per-request envelope every route shares
//! (error body, latency and status metrics, request logging).

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use super::handlers::{
    auth_keys, connectors, events, groups, ops, plugins, records, rest_v2, rest_v2_consumers,
    rest_v3, schema_registry, topics, transforms, websocket,
};
use super::{AppState, error::ApiError};
use crate::broker::TargetState;

/// The response body type of every route (a boxed body, so streaming routes fit in too).
pub type Body = UnsyncBoxBody<Bytes, hyper::Error>;
/// What a handler returns.
pub type HandlerResult = Result<Response<Body>, ApiError>;

/// The per-connection hyper service.
#[derive(Clone)]
pub struct Service {
    state: Arc<AppState>,
    peer: SocketAddr,
    /// The common name of the connection's verified client certificate (mutual TLS).
    client: Option<Arc<str>>,
    /// The connection's slot in its principal's connection count (taken by the first
    /// authenticated request, freed when the connection closes and the service is dropped).
    counted: Arc<parking_lot::Mutex<Option<super::limits::Permit>>>,
}

/// The connection's slot in its principal's connection count, for a WebSocket upgrade to
/// carry along: hyper drops the connection's service when it hands the socket over.
#[derive(Clone)]
pub(crate) struct ConnectionSlot(pub(crate) Arc<parking_lot::Mutex<Option<super::limits::Permit>>>);

/// A request's verified client certificate name, for authentication.
#[derive(Clone)]
pub(crate) struct ClientCertificate(pub(crate) Arc<str>);

impl Service {
    pub(crate) fn new(state: Arc<AppState>, peer: SocketAddr) -> Self {
        Self {
            state,
            peer,
            client: None,
            counted: Arc::default(),
        }
    }

    /// The same service for a connection whose client certificate names `client`.
    pub(crate) fn with_client(mut self, client: Option<String>) -> Self {
        self.client = client.map(Arc::from);
        self
    }
}

impl hyper::service::Service<Request<Incoming>> for Service {
    type Response = Response<Body>;
    type Error = std::convert::Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn call(&self, mut req: Request<Incoming>) -> Self::Future {
        let state = Arc::clone(&self.state);
        let peer = self.peer;
        let counted = Arc::clone(&self.counted);
        req.extensions_mut()
            .insert(ConnectionSlot(Arc::clone(&self.counted)));
        if let Some(client) = &self.client {
            req.extensions_mut()
                .insert(ClientCertificate(Arc::clone(client)));
        }
        Box::pin(async move {
            let started = Instant::now();
            let method = req.method().clone();
            let path = req.uri().path().to_owned();
            let (route, result) = dispatch(&state, req, peer, &counted).await;
            let over_connections = matches!(&result, Err(e) if e.error_code == 42905);
            let mut response = result.unwrap_or_else(|e| error_response(&e));
            if over_connections {
                // The connection is not the principal's to keep.
                response.headers_mut().insert(
                    hyper::header::CONNECTION,
                    hyper::header::HeaderValue::from_static("close"),
                );
            }
            let status = response.status().as_u16();
            state
                .metrics
                .observe_request(route, status, started.elapsed().as_secs_f64());
            tracing::debug!(%peer, %method, %path, status, "Request served.");
            Ok(response)
        })
    }
}

/// Every path the API serves, once: matchit finds the route, [`dispatch`] picks the handler by
/// method (a known path with another method is a 405, not a 404).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Healthz,
    Readyz,
    Metrics,
    OpenApi,
    Topics,
    Topic,
    TopicRecords,
    TopicValidate,
    TopicEvents,
    TopicSubscribe,
    Multiplexed,
    PartitionRecords,
    PartitionOffsets,
    Groups,
    GroupOffsets,
    Plugins,
    Plugin,
    Transforms,
    Transform,
    TransformPause,
    TransformResume,
    Connectors,
    Connector,
    ConnectorConfig,
    ConnectorStatus,
    ConnectorTasks,
    ConnectorTaskStatus,
    ConnectorTaskRestart,
    ConnectorPause,
    ConnectorResume,
    ConnectorStop,
    ConnectorRestart,
    ConnectorOffsets,
    ConnectorTopics,
    ConnectorPlugins,
    ConnectorPluginConfig,
    ConnectorPluginValidate,
    Root,
    AuthKeys,
    AuthKey,
    Acls,
    Audit,
    /// Confluent's Schema Registry API (its own dispatch).
    Registry(schema_registry::Route),
    /// Confluent's REST Proxy v2 (its own dispatch).
    RestV2(rest_v2::Route),
    /// REST Proxy v2 consumer instances (their own dispatch).
    RestV2Consumers(rest_v2_consumers::Route),
    /// REST Proxy v3 (its own dispatch).
    RestV3(rest_v3::Route),
}

/// Kafka Connect's paths, served both at the root (where Connect tooling looks) and under
/// `/v1`.
const CONNECT_ROUTES: &[(&str, Route)] = &[
    ("/connectors", Route::Connectors),
    ("/connectors/{name}", Route::Connector),
    ("/connectors/{name}/config", Route::ConnectorConfig),
    ("/connectors/{name}/status", Route::ConnectorStatus),
    ("/connectors/{name}/tasks", Route::ConnectorTasks),
    (
        "/connectors/{name}/tasks/{task}/status",
        Route::ConnectorTaskStatus,
    ),
    (
        "/connectors/{name}/tasks/{task}/restart",
        Route::ConnectorTaskRestart,
    ),
    ("/connectors/{name}/pause", Route::ConnectorPause),
    ("/connectors/{name}/resume", Route::ConnectorResume),
    ("/connectors/{name}/stop", Route::ConnectorStop),
    ("/connectors/{name}/restart", Route::ConnectorRestart),
    ("/connectors/{name}/offsets", Route::ConnectorOffsets),
    ("/connectors/{name}/topics", Route::ConnectorTopics),
    ("/connector-plugins", Route::ConnectorPlugins),
    (
        "/connector-plugins/{name}/config",
        Route::ConnectorPluginConfig,
    ),
    (
        "/connector-plugins/{name}/config/validate",
        Route::ConnectorPluginValidate,
    ),
];

const ROUTES: &[(&str, Route)] = &[
    ("/", Route::Root),
    ("/healthz", Route::Healthz),
    ("/readyz", Route::Readyz),
    ("/metrics", Route::Metrics),
    ("/openapi.json", Route::OpenApi),
    ("/v1/topics", Route::Topics),
    ("/v1/topics/{topic}", Route::Topic),
    ("/v1/topics/{topic}/records", Route::TopicRecords),
    ("/v1/topics/{topic}/validate", Route::TopicValidate),
    ("/v1/topics/{topic}/events", Route::TopicEvents),
    ("/v1/topics/{topic}/subscribe", Route::TopicSubscribe),
    ("/v1/ws", Route::Multiplexed),
    (
        "/v1/topics/{topic}/partitions/{partition}/records",
        Route::PartitionRecords,
    ),
    (
        "/v1/topics/{topic}/partitions/{partition}/offsets",
        Route::PartitionOffsets,
    ),
    ("/v1/groups", Route::Groups),
    ("/v1/groups/{group}/offsets", Route::GroupOffsets),
    ("/v1/plugins", Route::Plugins),
    ("/v1/plugins/{name}", Route::Plugin),
    ("/v1/transforms", Route::Transforms),
    ("/v1/transforms/{name}", Route::Transform),
    ("/v1/transforms/{name}/pause", Route::TransformPause),
    ("/v1/transforms/{name}/resume", Route::TransformResume),
    ("/v1/auth/keys", Route::AuthKeys),
    ("/v1/auth/keys/{name}", Route::AuthKey),
    ("/v1/acls", Route::Acls),
    ("/v1/audit", Route::Audit),
];

fn routes() -> &'static matchit::Router<Route> {
    static TABLE: std::sync::LazyLock<matchit::Router<Route>> = std::sync::LazyLock::new(|| {
        let mut router = matchit::Router::new();
        let connect = CONNECT_ROUTES
            .iter()
            .flat_map(|(p, r)| [((*p).to_owned(), *r), (format!("/v1{p}"), *r)]);
        let registry = schema_registry::ROUTES
            .iter()
            .map(|(p, r)| ((*p).to_owned(), Route::Registry(*r)));
        let proxy = rest_v2::ROUTES
            .iter()
            .map(|(p, r)| ((*p).to_owned(), Route::RestV2(*r)));
        let consumers = rest_v2_consumers::ROUTES
            .iter()
            .map(|(p, r)| ((*p).to_owned(), Route::RestV2Consumers(*r)));
        let all = ROUTES
            .iter()
            .map(|(p, r)| ((*p).to_owned(), *r))
            .chain(connect)
            .chain(registry)
            .chain(proxy)
            .chain(consumers)
            .chain(rest_v3::routes().map(|(p, r)| (p, Route::RestV3(r))));
        for (pattern, route) in all {
            if let Err(e) = router.insert(pattern.clone(), route) {
                // A conflicting pattern is a bug in the tables above; the unit test catches it.
                tracing::error!(pattern, error = %e, "route not registered");
            }
        }
        router
    });
    &TABLE
}

/// Finds the route of `path` (a trailing slash is ignored) and its decoded parameters.
fn find(path: &str) -> Option<(Route, Params)> {
    let trimmed = match path.trim_end_matches('/') {
        "" => "/",
        p => p,
    };
    let m = routes().at(trimmed).ok()?;
    let params = m
        .params
        .iter()
        .map(|(k, v)| {
            let v = percent_encoding::percent_decode_str(v).decode_utf8_lossy();
            (k, v.into_owned())
        })
        .collect();
    Some((*m.value, Params(params)))
}

/// A matched route's path parameters, percent-decoded.
struct Params(Vec<(&'static str, String)>);

impl Params {
    fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| *k == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

async fn dispatch(
    state: &Arc<AppState>,
    req: Request<Incoming>,
    peer: SocketAddr,
    counted: &parking_lot::Mutex<Option<super::limits::Permit>>,
) -> (&'static str, HandlerResult) {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let Some((route, params)) = find(&path) else {
        return ("unknown", Err(ApiError::no_route(&method, &path)));
    };
    let public = matches!(route, Route::Healthz | Route::Readyz);
    let streaming = matches!(
        route,
        Route::TopicEvents | Route::TopicSubscribe | Route::Multiplexed
    );
    let principal = if public {
        crate::broker::Principal {
            name: "ANONYMOUS".into(),
            groups: Vec::new(),
            superuser: false,
            ..crate::broker::Principal::default()
        }
    } else {
        match super::auth::authenticate(state, &req, streaming).await {
            Ok(p) => p,
            Err(e) => return ("unauthenticated", Err(e)),
        }
    };
    // Health checks are never limited: a flood of them must not fail the orchestrator's.
    if !public {
        if let Err(e) = state.limits.admit(&principal) {
            return ("rate_limited", Err(e));
        }
        if let Err(e) = state.limits.attribute_connection(counted, &principal) {
            return ("rate_limited", Err(e));
        }
    }
    // Everything this request does through the broker is checked against its ACLs.
    let state = &Arc::new(state.acting_as(principal));
    let request = format!("{method} {path}");
    let (action, result) = route_request(state, route, &params, req).await;
    if method != Method::GET && !DATA_PATH.contains(&action) {
        let status = match &result {
            Ok(response) => response.status().as_u16(),
            Err(e) => e.status.as_u16(),
        };
        let entry = crate::broker::AuditEntry {
            time_ms: 0,
            principal: String::new(),
            address: peer.to_string(),
            action: action.to_owned(),
            request,
            status,
        };
        state.broker.record_audit(entry).await;
    }
    (action, result)
}

/// The actions that move data rather than administer the gateway (not audited).
const DATA_PATH: &[&str] = &[
    "produce",
    "validate",
    "commit_offsets",
    "v2_produce",
    "v2_create_consumer",
    "v2_delete_consumer",
    "v2_subscribe",
    "v2_unsubscribe",
    "v2_assign",
    "v2_seek",
    "v2_seek_beginning",
    "v2_seek_end",
    "v2_commit",
    "v2_committed",
    "v2_records",
    "v3_produce",
    "v3_produce_batch",
    "events",
    "subscribe",
    "ws",
    "unknown",
    "unauthenticated",
    "rate_limited",
];

/// Serves an authenticated request by its route.
async fn route_request(
    state: &Arc<AppState>,
    route: Route,
    params: &Params,
    req: Request<Incoming>,
) -> (&'static str, HandlerResult) {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let (t, p) = (params.get("topic"), params.get("partition"));
    let (g, n) = (params.get("group"), params.get("name"));
    let task = params.get("task");
    if let Route::Registry(route) = route {
        let path = schema_registry::Path {
            subject: params.get("subject"),
            version: params.get("version"),
            id: params.get("id"),
        };
        return schema_registry::dispatch(state, route, path, req).await;
    }
    if let Route::RestV2(route) = route {
        return rest_v2::dispatch(state, route, t, p, req).await;
    }
    if let Route::RestV3(route) = route {
        let path = rest_v3::Path {
            cluster: params.get("cluster"),
            topic: t,
            partition: p,
        };
        return rest_v3::dispatch(state, route, path, req).await;
    }
    if let Route::RestV2Consumers(route) = route {
        let instance = params.get("instance");
        return rest_v2_consumers::dispatch(state, route, g, instance, req).await;
    }
    match (route, &method) {
        (Route::Healthz, &Method::GET) => ("healthz", Ok(ops::healthz())),
        (Route::Readyz, &Method::GET) => ("readyz", Ok(ops::healthz())),
        (Route::Metrics, &Method::GET) => ("metrics", Ok(ops::metrics(state))),
        (Route::OpenApi, &Method::GET) => ("openapi", Ok(ops::openapi())),
        (Route::Topics, &Method::GET) => ("list_topics", topics::list(state)),
        (Route::Topics, &Method::POST) => ("create_topic", topics::create(state, req).await),
        (Route::Topic, &Method::GET) => ("describe_topic", topics::describe(state, t)),
        (Route::Topic, &Method::DELETE) => ("delete_topic", topics::delete(state, t).await),
        (Route::Topic, &Method::PATCH) => ("alter_topic", topics::alter(state, t, req).await),
        (Route::TopicRecords, &Method::POST) => ("produce", records::produce(state, t, req).await),
        (Route::TopicValidate, &Method::POST) => {
            ("validate", records::validate(state, t, req).await)
        }
        (Route::TopicEvents, &Method::GET) => ("events", events::events(state, t, &req).await),
        (Route::TopicSubscribe, &Method::GET) => {
            ("subscribe", websocket::subscribe(state, t, req).await)
        }
        (Route::Multiplexed, &Method::GET) => ("ws", websocket::multiplexed(state, req).await),
        (Route::PartitionRecords, &Method::GET) => {
            ("fetch", records::fetch(state, t, p, &req).await)
        }
        (Route::PartitionOffsets, &Method::GET) => {
            ("offsets", records::offset_for_time(state, t, p, &req).await)
        }
        (Route::Groups, &Method::GET) => ("list_groups", groups::list(state)),
        (Route::GroupOffsets, &Method::GET) => ("group_offsets", groups::get(state, g)),
        (Route::GroupOffsets, &Method::POST) => {
            ("commit_offsets", groups::commit(state, g, req).await)
        }
        (Route::Plugins, &Method::GET) => ("list_plugins", plugins::list(state)),
        (Route::Plugin, &Method::PUT) => ("upload_plugin", plugins::upload(state, n, req).await),
        (Route::Plugin, &Method::GET) => ("get_plugin", plugins::get(state, n)),
        (Route::Plugin, &Method::DELETE) => ("delete_plugin", plugins::delete(state, n).await),
        (Route::Transforms, &Method::GET) => ("list_transforms", transforms::list(state)),
        (Route::Transforms, &Method::POST) => {
            ("create_transform", transforms::create(state, req).await)
        }
        (Route::Transform, &Method::GET) => ("get_transform", transforms::get(state, n)),
        (Route::Transform, &Method::DELETE) => {
            ("delete_transform", transforms::delete(state, n).await)
        }
        (Route::TransformPause, &Method::POST) => (
            "pause_transform",
            transforms::set_paused(state, n, true).await,
        ),
        (Route::TransformResume, &Method::POST) => (
            "resume_transform",
            transforms::set_paused(state, n, false).await,
        ),
        (Route::Connectors, &Method::GET) => ("list_connectors", connectors::list(state, &req)),
        (Route::Connectors, &Method::POST) => {
            ("create_connector", connectors::create(state, req).await)
        }
        (Route::Connector, &Method::GET) => ("get_connector", connectors::get(state, n)),
        (Route::Connector, &Method::DELETE) => {
            ("delete_connector", connectors::delete(state, n).await)
        }
        (Route::ConnectorConfig, &Method::GET) => {
            ("get_connector_config", connectors::get_config(state, n))
        }
        (Route::ConnectorConfig, &Method::PUT) => (
            "put_connector_config",
            connectors::put_config(state, n, req).await,
        ),
        (Route::ConnectorStatus, &Method::GET) => {
            ("connector_status", connectors::status(state, n))
        }
        (Route::ConnectorTasks, &Method::GET) => ("connector_tasks", connectors::tasks(state, n)),
        (Route::ConnectorTaskStatus, &Method::GET) => (
            "connector_task_status",
            connectors::task_status(state, n, task),
        ),
        (Route::ConnectorTaskRestart, &Method::POST) => (
            "restart_connector_task",
            connectors::restart_task(state, n, task),
        ),
        (Route::ConnectorPause, &Method::PUT) => (
            "pause_connector",
            connectors::set_target(state, n, TargetState::Paused).await,
        ),
        (Route::ConnectorResume, &Method::PUT) => (
            "resume_connector",
            connectors::set_target(state, n, TargetState::Running).await,
        ),
        (Route::ConnectorStop, &Method::PUT) => (
            "stop_connector",
            connectors::set_target(state, n, TargetState::Stopped).await,
        ),
        (Route::ConnectorRestart, &Method::POST) => {
            ("restart_connector", connectors::restart(state, n, &req))
        }
        (Route::ConnectorOffsets, &Method::GET) => {
            ("connector_offsets", connectors::offsets(state, n))
        }
        (Route::ConnectorOffsets, &Method::PATCH) => (
            "alter_connector_offsets",
            connectors::alter_offsets(state, n, req).await,
        ),
        (Route::ConnectorOffsets, &Method::DELETE) => (
            "reset_connector_offsets",
            connectors::reset_offsets(state, n).await,
        ),
        (Route::Root, &Method::GET) => ("root", connectors::root()),
        (Route::AuthKeys, &Method::POST) => ("create_api_key", auth_keys::create(state, req).await),
        (Route::AuthKeys, &Method::GET) => ("list_api_keys", auth_keys::list(state)),
        (Route::Acls, &Method::POST) => ("add_acl", auth_keys::add_acl(state, req).await),
        (Route::Acls, &Method::GET) => ("list_acls", auth_keys::list_acls(state)),
        (Route::Audit, &Method::GET) => ("audit", auth_keys::audit(state, &req).await),
        (Route::Acls, &Method::DELETE) => ("remove_acl", auth_keys::remove_acl(state, req).await),
        (Route::AuthKey, &Method::DELETE) => ("revoke_api_key", auth_keys::revoke(state, n).await),
        (Route::ConnectorTopics, &Method::GET) => {
            ("connector_topics", connectors::topics(state, n))
        }
        (Route::ConnectorPluginConfig, &Method::GET) => (
            "connector_plugin_config",
            connectors::plugin_config(state, n),
        ),
        (Route::ConnectorPlugins, &Method::GET) => {
            ("connector_plugins", connectors::plugins(state))
        }
        (Route::ConnectorPluginValidate, &Method::PUT) => (
            "validate_connector_config",
            connectors::validate(state, n, req).await,
        ),
        (_, m) => ("unknown", Err(ApiError::method_not_allowed(m, &path))),
    }
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
            .boxed_unsync(),
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
    let mut response = respond(e.status, "application/json", e.body());
    if let Some(seconds) = e.retry_after {
        response.headers_mut().insert(
            hyper::header::RETRY_AFTER,
            hyper::header::HeaderValue::from(seconds),
        );
    }
    if e.status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            hyper::header::WWW_AUTHENTICATE,
            hyper::header::HeaderValue::from_static(
                r#"Bearer realm="tidegate", Basic realm="tidegate""#,
            ),
        );
    }
    response
}

/// Reads a whole request body, refusing more than the configured limit with 413.
pub async fn read_body(state: &AppState, req: Request<Incoming>) -> Result<Bytes, ApiError> {
    // Refused before it is read while the principal's produce bytes are in debt.
    state.limits.check_produce(&state.principal)?;
    let body = read_body_limited(req, state.config.max_body_bytes).await?;
    state.limits.charge_produce(&state.principal, body.len());
    Ok(body)
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

/// A media type's essence, lowercased: `Application/JSON; charset=utf-8` → `application/json`.
pub fn media_type(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// The query parameters of a request, decoded.
pub fn query(req: &Request<Incoming>) -> Vec<(String, String)> {
    req.uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::{CONNECT_ROUTES, ROUTES, Route, find};

    #[test]
    fn every_pattern_is_registered_and_parameters_are_decoded() {
        let connect = CONNECT_ROUTES
            .iter()
            .flat_map(|(p, r)| [((*p).to_owned(), *r), (format!("/v1{p}"), *r)]);
        let registry = super::schema_registry::ROUTES
            .iter()
            .map(|(p, r)| ((*p).to_owned(), Route::Registry(*r)))
            .chain(
                super::rest_v2::ROUTES
                    .iter()
                    .map(|(p, r)| ((*p).to_owned(), Route::RestV2(*r))),
            )
            .chain(
                super::rest_v2_consumers::ROUTES
                    .iter()
                    .map(|(p, r)| ((*p).to_owned(), Route::RestV2Consumers(*r))),
            )
            .chain(super::rest_v3::routes().map(|(p, r)| (p, Route::RestV3(r))));
        for (pattern, route) in ROUTES
            .iter()
            .map(|(p, r)| ((*p).to_owned(), *r))
            .chain(connect)
            .chain(registry)
        {
            let path = pattern
                .replace("{subject}", "s")
                .replace("{version}", "1")
                .replace("{id}", "1")
                .replace("{namespace}", "-")
                .replace("{topic}", "t")
                .replace("{partition}", "0")
                .replace("{group}", "g")
                .replace("{name}", "n")
                .replace("{instance}", "i")
                .replace("{cluster}", "c")
                .replace("{task}", "0");
            assert_eq!(find(&path).map(|(r, _)| r), Some(route), "{pattern}");
        }
        let (route, params) = find("/v1/topics/a%2Eb/partitions/3/records/").unwrap_or_else(|| {
            panic!("a trailing slash and an encoded name must still match");
        });
        assert_eq!(route, Route::PartitionRecords);
        assert_eq!((params.get("topic"), params.get("partition")), ("a.b", "3"));
        assert!(find("/v1/topics/a/b/c").is_none());
        // A subject with a slash arrives encoded and is decoded after matching.
        let (_, params) = find("/subjects/a%2Fb/versions/latest").unwrap_or_else(|| {
            panic!("an encoded subject must match");
        });
        assert_eq!(
            (params.get("subject"), params.get("version")),
            ("a/b", "latest")
        );
        assert!(find("/v2/topics").is_none());
    }

    #[test]
    fn openapi_documents_every_route() {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("openapi.json")).unwrap_or_default();
        for (pattern, _) in ROUTES.iter().chain(CONNECT_ROUTES) {
            assert!(
                doc["paths"].get(*pattern).is_some(),
                "openapi.json lacks {pattern}"
            );
        }
    }
}
