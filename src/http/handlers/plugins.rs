//! `/v1/plugins…`: upload (the component is the request body), list, describe, delete.

use hyper::body::Incoming;
use hyper::{Request, StatusCode};

use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::router::{HandlerResult, json, no_content, read_body_limited};

/// `PUT /v1/plugins/{name}` with `application/wasm` → 201 `{name, digest, world, size, created}`.
pub async fn upload(state: &AppState, name: &str, req: Request<Incoming>) -> HandlerResult {
    // Refused before a byte of a large upload is read (the broker checks again).
    state.broker.authorize(
        crate::broker::ResourceType::Plugin,
        name,
        crate::broker::Operation::Create,
    )?;
    let content_type = req
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if let Some(ct) = content_type {
        if !(ct.starts_with("application/wasm") || ct.starts_with("application/octet-stream")) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                1,
                format!("upload the component as application/wasm, not {ct}"),
            ));
        }
    }
    let limit = state.config.max_plugin_bytes;
    let body = read_body_limited(req, limit).await.map_err(|e| {
        if e.status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::unprocessable(
                20,
                format!("component is larger than the plugin size limit of {limit} bytes"),
            )
        } else {
            e
        }
    })?;
    let plugin = state.broker.upload_plugin(name, body).await?;
    json(StatusCode::CREATED, &plugin)
}

/// `GET /v1/plugins`.
pub fn list(state: &AppState) -> HandlerResult {
    json(StatusCode::OK, &state.broker.list_plugins())
}

/// `GET /v1/plugins/{name}`.
pub fn get(state: &AppState, name: &str) -> HandlerResult {
    json(StatusCode::OK, &state.broker.get_plugin(name)?)
}

/// `DELETE /v1/plugins/{name}` → 204, or 409 while a transform uses it.
pub async fn delete(state: &AppState, name: &str) -> HandlerResult {
    state.broker.delete_plugin(name).await?;
    Ok(no_content())
}
