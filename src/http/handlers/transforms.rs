//! `/v1/transforms…`: create, list, describe (with state, lag and counters), pause, resume,
//! delete.

use hyper::body::Incoming;
use hyper::{Request, StatusCode};

use crate::broker::TransformRequest;
use crate::http::AppState;
use crate::http::router::{HandlerResult, json, no_content, parse_json, read_body};

/// `POST /v1/transforms` → 201 with the transform.
pub async fn create(state: &AppState, req: Request<Incoming>) -> HandlerResult {
    let body = read_body(state, req).await?;
    let request: TransformRequest = parse_json(&body)?;
    json(
        StatusCode::CREATED,
        &state.broker.create_transform(request).await?,
    )
}

/// `GET /v1/transforms`.
pub fn list(state: &AppState) -> HandlerResult {
    json(StatusCode::OK, &state.broker.list_transforms())
}

/// `GET /v1/transforms/{name}`.
pub fn get(state: &AppState, name: &str) -> HandlerResult {
    json(StatusCode::OK, &state.broker.get_transform(name)?)
}

/// `POST /v1/transforms/{name}/pause` and `/resume`.
pub async fn set_paused(state: &AppState, name: &str, paused: bool) -> HandlerResult {
    json(
        StatusCode::OK,
        &state.broker.set_transform_paused(name, paused).await?,
    )
}

/// `DELETE /v1/transforms/{name}` → 204.
pub async fn delete(state: &AppState, name: &str) -> HandlerResult {
    state.broker.delete_transform(name).await?;
    Ok(no_content())
}
