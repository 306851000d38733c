//! Kafka Connect's REST API, served at `/connectors…` and `/connector-plugins…` (the paths
//! Connect tooling knows) and mirrored under `/v1/`: create, list (`?expand=status,info`),
//! describe, config get/put, status, tasks, pause/resume/stop, restart, delete, offsets
//! (KIP-875) and config validation. Shapes and status codes are Connect's; errors use our
//! `{"error_code", "message"}` body (Connect's has the same two fields).

use std::collections::BTreeMap;

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json as js};

use crate::broker::{OffsetEntry, TargetState};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::router::{HandlerResult, json, no_content, parse_json, query, read_body};

/// `POST /connectors` body.
#[derive(Deserialize)]
struct CreateRequest {
    name: String,
    #[serde(default)]
    config: Option<BTreeMap<String, Value>>,
}

/// Connect accepts scalar config values of any JSON type and keeps them as strings.
fn stringify(config: BTreeMap<String, Value>) -> Result<BTreeMap<String, String>, ApiError> {
    config
        .into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            Value::Number(n) => Ok((k, n.to_string())),
            Value::Bool(b) => Ok((k, b.to_string())),
            Value::Null => Ok((k, String::new())),
            _ => Err(ApiError::bad_request(format!(
                "config value of '{k}' must be a string, number or boolean"
            ))),
        })
        .collect()
}

/// `POST /connectors` → 201 with the connector's info.
pub async fn create(state: &AppState, req: Request<Incoming>) -> HandlerResult {
    let body = read_body(state, req).await?;
    let request: CreateRequest = parse_json(&body)?;
    let Some(config) = request.config else {
        return Err(ApiError::bad_request(
            "connector config is missing: give {\"name\", \"config\": {...}}",
        ));
    };
    let (info, _) = state
        .broker
        .put_connector(&request.name, stringify(config)?, true)
        .await?;
    json(StatusCode::CREATED, &info)
}

/// `GET /connectors` → names, or with `expand=status` / `expand=info` a map of both.
pub fn list(state: &AppState, req: &Request<Incoming>) -> HandlerResult {
    let expand: Vec<String> = query(req)
        .into_iter()
        .filter(|(k, _)| k == "expand")
        .flat_map(|(_, v)| v.split(',').map(str::to_owned).collect::<Vec<_>>())
        .collect();
    let names = state.broker.list_connectors();
    if expand.is_empty() {
        return json(StatusCode::OK, &names);
    }
    let mut out = serde_json::Map::new();
    for name in names {
        let mut entry = serde_json::Map::new();
        for what in &expand {
            let value = match what.as_str() {
                "status" => serde_json::to_value(state.broker.connector_status(&name)?),
                "info" => serde_json::to_value(state.broker.connector_info(&name)?),
                other => {
                    return Err(ApiError::bad_request(format!(
                        "expand={other}: use status or info"
                    )));
                }
            };
            entry.insert(what.clone(), value.map_err(|e| ApiError::internal(&e))?);
        }
        out.insert(name, Value::Object(entry));
    }
    json(StatusCode::OK, &out)
}

/// `GET /connectors/{name}`.
pub fn get(state: &AppState, name: &str) -> HandlerResult {
    json(StatusCode::OK, &state.broker.connector_info(name)?)
}

/// `GET /connectors/{name}/config`.
pub fn get_config(state: &AppState, name: &str) -> HandlerResult {
    json(StatusCode::OK, &state.broker.connector_info(name)?.config)
}

/// `PUT /connectors/{name}/config` → 201 created or 200 updated (applied live).
pub async fn put_config(state: &AppState, name: &str, req: Request<Incoming>) -> HandlerResult {
    let body = read_body(state, req).await?;
    let config: BTreeMap<String, Value> = parse_json(&body)?;
    let (info, created) = state
        .broker
        .put_connector(name, stringify(config)?, false)
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    json(status, &info)
}

/// `GET /connectors/{name}/status`.
pub fn status(state: &AppState, name: &str) -> HandlerResult {
    json(StatusCode::OK, &state.broker.connector_status(name)?)
}

fn task_number(task: &str) -> Result<u32, ApiError> {
    match task.parse::<u32>() {
        Ok(0) => Ok(0),
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            7,
            format!("task {task} not found: a connector runs task 0"),
        )),
    }
}

/// `GET /connectors/{name}/tasks` → `[{id, config}]`.
pub fn tasks(state: &AppState, name: &str) -> HandlerResult {
    let info = state.broker.connector_info(name)?;
    let tasks: Vec<Value> = info
        .tasks
        .iter()
        .map(|t| js!({"id": t, "config": info.config}))
        .collect();
    json(StatusCode::OK, &tasks)
}

/// `GET /connectors/{name}/tasks/{task}/status`.
pub fn task_status(state: &AppState, name: &str, task: &str) -> HandlerResult {
    let status = state.broker.connector_status(name)?;
    task_number(task)?;
    let task = status.tasks.into_iter().next().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            7,
            format!("connector {name} has no running task"),
        )
    })?;
    json(StatusCode::OK, &task)
}

/// `PUT /connectors/{name}/pause|resume` → 202, `…/stop` → 204.
pub async fn set_target(state: &AppState, name: &str, target: TargetState) -> HandlerResult {
    state.broker.set_connector_target(name, target).await?;
    Ok(match target {
        TargetState::Stopped => no_content(),
        _ => accepted(),
    })
}

fn accepted() -> hyper::Response<crate::http::router::Body> {
    let mut response = no_content();
    *response.status_mut() = StatusCode::ACCEPTED;
    response
}

fn flag(req: &Request<Incoming>, name: &str) -> Result<bool, ApiError> {
    match query(req).into_iter().find(|(k, _)| k == name) {
        None => Ok(false),
        Some((_, v)) => match v.as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(ApiError::bad_request(format!(
                "{name}={v}: use true or false"
            ))),
        },
    }
}

/// `POST /connectors/{name}/restart[?includeTasks=&onlyFailed=]` → 204, or 202 with the
/// status when either flag is set (as Connect).
pub fn restart(state: &AppState, name: &str, req: &Request<Incoming>) -> HandlerResult {
    let (include_tasks, only_failed) = (flag(req, "includeTasks")?, flag(req, "onlyFailed")?);
    // One task does the connector's work: restarting the connector restarts it.
    let status = state.broker.restart_connector(name, only_failed)?;
    if include_tasks || only_failed {
        json(StatusCode::ACCEPTED, &status)
    } else {
        Ok(no_content())
    }
}

/// `POST /connectors/{name}/tasks/{task}/restart` → 204.
pub fn restart_task(state: &AppState, name: &str, task: &str) -> HandlerResult {
    state.broker.connector_info(name)?;
    task_number(task)?;
    state.broker.restart_connector(name, false)?;
    Ok(no_content())
}

/// `DELETE /connectors/{name}` → 204 once the connector's task has stopped.
pub async fn delete(state: &AppState, name: &str) -> HandlerResult {
    state.broker.delete_connector(name).await?;
    Ok(no_content())
}

/// `GET /connectors/{name}/offsets` → `{"offsets": [{partition, offset}]}`.
pub fn offsets(state: &AppState, name: &str) -> HandlerResult {
    json(
        StatusCode::OK,
        &js!({"offsets": state.broker.connector_offsets(name)?}),
    )
}

#[derive(Deserialize)]
struct OffsetsRequest {
    offsets: Vec<OffsetEntry>,
}

/// `PATCH /connectors/{name}/offsets` (alter) of a stopped connector.
pub async fn alter_offsets(state: &AppState, name: &str, req: Request<Incoming>) -> HandlerResult {
    let body = read_body(state, req).await?;
    let request: OffsetsRequest = parse_json(&body)?;
    state
        .broker
        .change_connector_offsets(name, &request.offsets, false)
        .await?;
    json(
        StatusCode::OK,
        &js!({"message": "The offsets for this connector have been altered successfully"}),
    )
}

/// `DELETE /connectors/{name}/offsets` (reset) of a stopped connector.
pub async fn reset_offsets(state: &AppState, name: &str) -> HandlerResult {
    state
        .broker
        .change_connector_offsets(name, &[], true)
        .await?;
    json(
        StatusCode::OK,
        &js!({"message": "The offsets for this connector have been reset successfully"}),
    )
}

/// `GET /connector-plugins` → `[{class, type, version}]` for every connector plugin.
pub fn plugins(state: &AppState) -> HandlerResult {
    let plugins: Vec<Value> = state
        .broker
        .list_plugins()
        .into_iter()
        .filter_map(|p| {
            let kind = match p.world.as_str() {
                "sink-connector" => "sink",
                "source-connector" => "source",
                _ => return None,
            };
            Some(js!({"class": p.name, "type": kind, "version": p.digest}))
        })
        .collect();
    json(StatusCode::OK, &plugins)
}

/// `PUT /connector-plugins/{plugin}/config/validate` → Connect's `ConfigInfos`.
pub async fn validate(state: &AppState, plugin: &str, req: Request<Incoming>) -> HandlerResult {
    let body = read_body(state, req).await?;
    let config = stringify(parse_json(&body)?)?;
    if let Some(class) = config.get("connector.class")
        && class != plugin
    {
        return Err(ApiError::bad_request(format!(
            "connector.class '{class}' does not match the plugin '{plugin}' in the path"
        )));
    }
    json(
        StatusCode::OK,
        &state
            .broker
            .validate_connector_config(plugin, &config)
            .await?,
    )
}

/// `GET /`: what Kafka Connect answers there (tooling checks it to find a Connect cluster).
pub fn root() -> HandlerResult {
    json(
        StatusCode::OK,
        &js!({
            "version": env!("CARGO_PKG_VERSION"),
            "commit": concat!("tidegate-", env!("CARGO_PKG_VERSION")),
            "kafka_cluster_id": "tidegate",
        }),
    )
}

/// `GET /connectors/{name}/topics`: the topics the connector uses (Connect's active topics).
pub fn topics(state: &AppState, name: &str) -> HandlerResult {
    let info = state.broker.connector_info(name)?;
    let key = match info.kind {
        crate::broker::ConnectorKind::Sink => "topics",
        crate::broker::ConnectorKind::Source => "topic",
    };
    let topics: Vec<&str> = info
        .config
        .get(key)
        .map(|t| {
            t.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .collect()
        })
        .unwrap_or_default();
    json(StatusCode::OK, &js!({ name: {"topics": topics} }))
}

/// `GET /connector-plugins/{plugin}/config`: the config keys the host reads (the plugin's own
/// keys are its `validate`'s business), as Connect's `ConfigKeyInfo` list.
pub fn plugin_config(state: &AppState, plugin: &str) -> HandlerResult {
    let p = state.broker.get_plugin(plugin)?;
    if !p.world.ends_with("-connector") {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            4,
            format!("plugin '{plugin}' is not a connector"),
        ));
    }
    let keys: Vec<Value> = crate::broker::CONNECTOR_HOST_KEYS
        .iter()
        .map(|(name, doc)| {
            js!({"name": name, "type": "STRING", "required": *name == "connector.class",
                 "default_value": null, "importance": "HIGH", "documentation": doc,
                 "group": "Common", "width": "NONE", "display_name": name,
                 "dependents": [], "order": -1})
        })
        .collect();
    json(StatusCode::OK, &keys)
}
