//! Confluent's Schema Registry API on the main listener (API-COMPAT §3): subjects, versions,
//! schemas by id, references, config, mode and compatibility tests. Bodies and error codes
//! are Confluent's, so its clients work unchanged; answers are
//! `application/vnd.schemaregistry.v1+json`.

mod views;

use hyper::body::Incoming;
use hyper::header::{ACCEPT, CONTENT_TYPE};
use hyper::{Method, Request, StatusCode};
use serde::Serialize;
use serde_json::json;

use crate::broker::{
    SchemaConfig, SchemaDeleted, SchemaError, SchemaId, SchemaLevel, SchemaMode, SchemaPolicy,
    SchemaVersion,
};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::router::{HandlerResult, media_type, parse_json, query, read_body, respond};
use views::{ConfigBody, ModeBody, SchemaBody, SchemaEntity, SchemaString};

const CONTENT_TYPE_V1: &str = "application/vnd.schemaregistry.v1+json";

/// The registry's paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Types,
    Subjects,
    Subject,
    Versions,
    Version,
    VersionSchema,
    ReferencedBy,
    SchemaById,
    SchemaByIdText,
    SchemaByIdSubjects,
    SchemaByIdVersions,
    GlobalConfig,
    SubjectConfig,
    GlobalMode,
    SubjectMode,
    CompatibilityVersion,
    CompatibilityAll,
    Associations,
}

/// Path patterns, for the router's table.
pub const ROUTES: &[(&str, Route)] = &[
    ("/schemas/types", Route::Types),
    ("/subjects", Route::Subjects),
    ("/subjects/{subject}", Route::Subject),
    ("/subjects/{subject}/versions", Route::Versions),
    ("/subjects/{subject}/versions/{version}", Route::Version),
    (
        "/subjects/{subject}/versions/{version}/schema",
        Route::VersionSchema,
    ),
    (
        "/subjects/{subject}/versions/{version}/referencedby",
        Route::ReferencedBy,
    ),
    ("/schemas/ids/{id}", Route::SchemaById),
    ("/schemas/ids/{id}/schema", Route::SchemaByIdText),
    ("/schemas/ids/{id}/subjects", Route::SchemaByIdSubjects),
    ("/schemas/ids/{id}/versions", Route::SchemaByIdVersions),
    ("/config", Route::GlobalConfig),
    ("/config/{subject}", Route::SubjectConfig),
    ("/mode", Route::GlobalMode),
    ("/mode/{subject}", Route::SubjectMode),
    (
        "/compatibility/subjects/{subject}/versions/{version}",
        Route::CompatibilityVersion,
    ),
    (
        "/compatibility/subjects/{subject}/versions",
        Route::CompatibilityAll,
    ),
    (
        "/associations/resources/{namespace}/{name}",
        Route::Associations,
    ),
];

/// The path parameters a registry route uses.
pub struct Path<'a> {
    pub subject: &'a str,
    pub version: &'a str,
    pub id: &'a str,
}

/// Serves one registry request; the first value names the route for metrics.
pub async fn dispatch(
    state: &AppState,
    route: Route,
    path: Path<'_>,
    req: Request<Incoming>,
) -> (&'static str, HandlerResult) {
    let method = req.method().clone();
    let name = route_name(route, &method);
    if name == "unknown" {
        let uri = req.uri().path().to_owned();
        return (name, Err(ApiError::method_not_allowed(&method, &uri)));
    }
    if let Err(e) = authorize(state, route, &method, path.subject) {
        return (name, Err(e));
    }
    if let Err(e) = negotiate(&req) {
        return (name, Err(e));
    }
    (name, serve(state, route, &method, &path, req).await)
}

fn route_name(route: Route, method: &Method) -> &'static str {
    use Route as R;
    match (route, method) {
        (R::Types, &Method::GET) => "sr_types",
        (R::Subjects, &Method::GET) => "sr_subjects",
        (R::Subject, &Method::POST) => "sr_lookup",
        (R::Subject, &Method::DELETE) => "sr_delete_subject",
        (R::Versions, &Method::GET) => "sr_versions",
        (R::Versions, &Method::POST) => "sr_register",
        (R::Version, &Method::GET) => "sr_version",
        (R::Version, &Method::DELETE) => "sr_delete_version",
        (R::VersionSchema, &Method::GET) => "sr_version_schema",
        (R::ReferencedBy, &Method::GET) => "sr_referenced_by",
        (R::SchemaById, &Method::GET) => "sr_schema",
        (R::SchemaByIdText, &Method::GET) => "sr_schema_text",
        (R::SchemaByIdSubjects, &Method::GET) => "sr_schema_subjects",
        (R::SchemaByIdVersions, &Method::GET) => "sr_schema_versions",
        (R::GlobalConfig | R::SubjectConfig, &Method::GET) => "sr_get_config",
        (R::GlobalConfig | R::SubjectConfig, &Method::PUT) => "sr_put_config",
        (R::GlobalConfig | R::SubjectConfig, &Method::DELETE) => "sr_delete_config",
        (R::GlobalMode | R::SubjectMode, &Method::GET) => "sr_get_mode",
        (R::GlobalMode | R::SubjectMode, &Method::PUT) => "sr_put_mode",
        (R::GlobalMode | R::SubjectMode, &Method::DELETE) => "sr_delete_mode",
        (R::CompatibilityVersion | R::CompatibilityAll, &Method::POST) => "sr_compatibility",
        (R::Associations, &Method::GET) => "sr_associations",
        _ => "unknown",
    }
}

/// Content-Type (when there is a body) and Accept must name a type the registry speaks.
fn negotiate(req: &Request<Incoming>) -> Result<(), ApiError> {
    const BODY_TYPES: [&str; 4] = [
        "application/vnd.schemaregistry.v1+json",
        "application/vnd.schemaregistry+json",
        "application/json",
        "application/octet-stream",
    ];
    if matches!(*req.method(), Method::POST | Method::PUT) {
        if let Some(ct) = req.headers().get(CONTENT_TYPE) {
            let essence = media_type(ct.to_str().unwrap_or(""));
            if !BODY_TYPES.contains(&essence.as_str()) {
                return Err(ApiError::with_code(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    415,
                    format!("HTTP 415 Unsupported Media Type: {essence}"),
                ));
            }
        }
    }
    if let Some(accept) = req.headers().get(ACCEPT) {
        let accept = accept.to_str().unwrap_or("").to_ascii_lowercase();
        let ok = accept.split(',').any(|item| {
            let essence = item.split(';').next().unwrap_or("").trim();
            matches!(
                essence,
                "*/*"
                    | "application/*"
                    | "application/vnd.schemaregistry.v1+json"
                    | "application/vnd.schemaregistry+json"
                    | "application/json"
            )
        });
        if !ok {
            return Err(ApiError::with_code(
                StatusCode::NOT_ACCEPTABLE,
                406,
                "HTTP 406 Not Acceptable",
            ));
        }
    }
    Ok(())
}

fn reply<T: Serialize>(value: &T) -> HandlerResult {
    let body = serde_json::to_vec(value).map_err(|e| ApiError::internal(&e))?;
    Ok(respond(StatusCode::OK, CONTENT_TYPE_V1, body))
}

/// A query flag; Python's client sends `True`/`False`.
fn flag(params: &[(String, String)], name: &str) -> Result<bool, ApiError> {
    match params.iter().find(|(k, _)| k == name) {
        None => Ok(false),
        Some((_, v)) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some((_, v)) if v.eq_ignore_ascii_case("false") || v.is_empty() => Ok(false),
        Some((_, v)) => Err(ApiError::bad_request(format!(
            "{name}={v}: use true or false"
        ))),
    }
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn schema_id(raw: &str) -> Result<SchemaId, ApiError> {
    match raw.parse::<u32>() {
        Ok(id) if id >= 1 => Ok(SchemaId(id)),
        _ => Err(ApiError::with_code(
            StatusCode::NOT_FOUND,
            40403,
            format!("Schema {raw} not found"),
        )),
    }
}

/// `offset` and `limit` paging over a listing (`limit` ≤ 0 means all).
fn page<T>(items: Vec<T>, params: &[(String, String)]) -> Vec<T> {
    let offset = param(params, "offset")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let limit = param(params, "limit")
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|l| *l > 0)
        .and_then(|l| usize::try_from(l).ok())
        .unwrap_or(usize::MAX);
    items.into_iter().skip(offset).take(limit).collect()
}

async fn body<T: serde::de::DeserializeOwned>(
    state: &AppState,
    req: Request<Incoming>,
) -> Result<T, ApiError> {
    let bytes = read_body(state, req).await?;
    parse_json(&bytes)
}

async fn serve(
    state: &AppState,
    route: Route,
    method: &Method,
    path: &Path<'_>,
    req: Request<Incoming>,
) -> HandlerResult {
    use Route as R;
    let registry = state.broker.schemas();
    let params = query(&req);
    let subject = path.subject;
    let deleted = flag(&params, "deleted")?;
    let version = || {
        path.version
            .parse::<SchemaVersion>()
            .map_err(ApiError::from)
    };
    match (route, method) {
        (R::Types, _) => reply(&["JSON", "PROTOBUF", "AVRO"]),
        (R::Subjects, _) => {
            let filter = SchemaDeleted::from_flags(deleted, flag(&params, "deletedOnly")?);
            let prefix = param(&params, "subjectPrefix").unwrap_or("");
            reply(&page(registry.subjects(prefix, filter), &params))
        }
        (R::Versions, &Method::GET) => {
            let filter = SchemaDeleted::from_flags(deleted, flag(&params, "deletedOnly")?);
            reply(&page(registry.versions(subject, filter)?, &params))
        }
        (R::Versions, _) => {
            let request = body::<SchemaBody>(state, req).await?.into_request()?;
            let view = registry.register(subject, request).await?;
            reply(&SchemaEntity::of(&view))
        }
        (R::Subject, &Method::POST) => {
            let request = body::<SchemaBody>(state, req).await?.into_request()?;
            let view = registry.lookup(subject, &request, deleted)?;
            reply(&SchemaEntity::of(&view))
        }
        (R::Subject, _) => {
            let permanent = flag(&params, "permanent")?;
            reply(&registry.delete_subject(subject, permanent).await?)
        }
        (R::Version, &Method::GET) => {
            let view = registry.version(subject, version()?, deleted)?;
            reply(&SchemaEntity::of(&view))
        }
        (R::Version, _) => {
            let permanent = flag(&params, "permanent")?;
            reply(
                &registry
                    .delete_version(subject, version()?, permanent)
                    .await?,
            )
        }
        (R::VersionSchema, _) => {
            let view = registry.version(subject, version()?, deleted)?;
            Ok(respond(
                StatusCode::OK,
                CONTENT_TYPE_V1,
                view.schema.to_string(),
            ))
        }
        (R::ReferencedBy, _) => {
            let ids: Vec<u32> = registry
                .referenced_by(subject, version()?)?
                .into_iter()
                .map(|i| i.0)
                .collect();
            reply(&page(ids, &params))
        }
        (R::SchemaById, _) => {
            let view = registry.schema(schema_id(path.id)?)?;
            reply(&SchemaString::of(&view))
        }
        (R::SchemaByIdText, _) => {
            let view = registry.schema(schema_id(path.id)?)?;
            Ok(respond(
                StatusCode::OK,
                CONTENT_TYPE_V1,
                view.schema.to_string(),
            ))
        }
        (R::SchemaByIdSubjects, _) => {
            let mut subjects: Vec<String> = registry
                .uses_of(schema_id(path.id)?, deleted)?
                .into_iter()
                .map(|(s, _)| s)
                .collect();
            subjects.dedup();
            reply(&page(subjects, &params))
        }
        (R::SchemaByIdVersions, _) => {
            let uses: Vec<_> = registry
                .uses_of(schema_id(path.id)?, deleted)?
                .into_iter()
                .map(|(subject, version)| json!({"subject": subject, "version": version}))
                .collect();
            reply(&page(uses, &params))
        }
        (R::GlobalConfig | R::SubjectConfig, &Method::GET) => {
            let scope = (route == R::SubjectConfig).then_some(subject);
            let config = registry.config(scope, flag(&params, "defaultToGlobal")?)?;
            reply(&config_view(&config, "compatibilityLevel"))
        }
        (R::GlobalConfig | R::SubjectConfig, &Method::PUT) => {
            let scope = (route == R::SubjectConfig).then_some(subject);
            let request: ConfigBody = body(state, req).await?;
            let level = request.compatibility.or(request.compatibility_level);
            let config = SchemaConfig {
                compatibility: level
                    .as_deref()
                    .map(str::parse::<SchemaLevel>)
                    .transpose()?,
                policy: request
                    .compatibility_policy
                    .as_deref()
                    .map(str::parse::<SchemaPolicy>)
                    .transpose()?,
            };
            if config.compatibility.is_none() && config.policy.is_none() {
                return Err(SchemaError::InvalidCompatibility(String::new()).into());
            }
            registry.set_config(scope, config).await?;
            reply(&config_view(&config, "compatibility"))
        }
        (R::GlobalConfig | R::SubjectConfig, _) => {
            let scope = (route == R::SubjectConfig).then_some(subject);
            let previous = registry.delete_config(scope).await?;
            reply(&config_view(&previous, "compatibilityLevel"))
        }
        (R::GlobalMode | R::SubjectMode, &Method::GET) => {
            let scope = (route == R::SubjectMode).then_some(subject);
            let mode = registry.mode(scope, flag(&params, "defaultToGlobal")?)?;
            reply(&json!({"mode": mode.as_str()}))
        }
        (R::GlobalMode | R::SubjectMode, &Method::PUT) => {
            let scope = (route == R::SubjectMode).then_some(subject);
            let force = flag(&params, "force")?;
            let request: ModeBody = body(state, req).await?;
            let mode: SchemaMode = request.mode.parse()?;
            let mode = registry.set_mode(scope, mode, force).await?;
            reply(&json!({"mode": mode.as_str()}))
        }
        (R::GlobalMode | R::SubjectMode, _) => {
            let scope = (route == R::SubjectMode).then_some(subject);
            let previous = registry.delete_mode(scope).await?;
            reply(&json!({"mode": previous.as_str()}))
        }
        (R::CompatibilityVersion | R::CompatibilityAll, _) => {
            let spec = if route == R::CompatibilityVersion {
                Some(version()?)
            } else {
                None
            };
            let verbose = flag(&params, "verbose")?;
            let request = body::<SchemaBody>(state, req).await?.into_request();
            let outcome = request
                .map_err(|e| (e.message.clone(), e))
                .and_then(|request| {
                    registry
                        .test_compatibility(subject, &request, spec)
                        .map_err(|e| match e {
                            SchemaError::InvalidSchema(m) => {
                                (m.clone(), SchemaError::InvalidSchema(m).into())
                            }
                            other => (String::new(), ApiError::from(other)),
                        })
                });
            match outcome {
                Ok(messages) if verbose => {
                    reply(&json!({"is_compatible": messages.is_empty(), "messages": messages}))
                }
                Ok(messages) => reply(&json!({"is_compatible": messages.is_empty()})),
                // With verbose, an invalid schema is an incompatible answer, not an error.
                Err((message, e)) if verbose && e.error_code == 42201 => {
                    reply(&json!({"is_compatible": false, "messages": [message]}))
                }
                Err((_, e)) => Err(e),
            }
        }
        (R::Associations, _) => reply(&json!([])),
    }
}

fn config_view(config: &SchemaConfig, level_key: &str) -> serde_json::Value {
    let mut view = serde_json::Map::new();
    if let Some(level) = config.compatibility {
        view.insert(level_key.into(), json!(level.as_str()));
    }
    if let Some(policy) = config.policy {
        let name = match policy {
            SchemaPolicy::Strict => "STRICT",
            SchemaPolicy::Lenient => "LENIENT",
        };
        view.insert("compatibilityPolicy".into(), json!(name));
    }
    serde_json::Value::Object(view)
}

/// The ACL a registry request needs: subjects are resources (Read to look up and read, Write
/// to register, Alter for their config and mode, Delete); the global config and mode are the
/// cluster's. Reads by schema id and the subject list need only authentication.
fn authorize(
    state: &AppState,
    route: Route,
    method: &Method,
    subject: &str,
) -> Result<(), ApiError> {
    use crate::broker::{Operation as Op, ResourceType as R};
    let read = method == Method::GET;
    let (resource, name, op) = match route {
        Route::Types
        | Route::Subjects
        | Route::SchemaById
        | Route::SchemaByIdText
        | Route::SchemaByIdSubjects
        | Route::SchemaByIdVersions
        | Route::Associations => return Ok(()),
        Route::GlobalConfig | Route::GlobalMode => {
            (R::Cluster, "*", if read { Op::Describe } else { Op::Alter })
        }
        Route::SubjectConfig | Route::SubjectMode => (
            R::Subject,
            subject,
            if read { Op::Describe } else { Op::Alter },
        ),
        Route::Subject | Route::Version if method == Method::DELETE => {
            (R::Subject, subject, Op::Delete)
        }
        Route::Versions if method == Method::POST => (R::Subject, subject, Op::Write),
        Route::Subject
        | Route::Versions
        | Route::Version
        | Route::VersionSchema
        | Route::ReferencedBy
        | Route::CompatibilityVersion
        | Route::CompatibilityAll => (R::Subject, subject, Op::Read),
    };
    state
        .broker
        .authorize(resource, name, op)
        .map_err(Into::into)
}
