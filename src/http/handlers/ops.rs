//! Operations endpoints: health, Prometheus metrics, the OpenAPI document.

use hyper::StatusCode;

use crate::http::AppState;
use crate::http::openapi;
use crate::http::router::{Body, respond};

/// `GET /healthz` and `/readyz`: 200 once the server answers at all.
pub fn healthz() -> hyper::Response<Body> {
    respond(
        StatusCode::OK,
        "application/json",
        &br#"{"status":"ok"}"#[..],
    )
}

/// `GET /metrics`.
pub fn metrics(state: &AppState) -> hyper::Response<Body> {
    let text = state.metrics.render(&state.broker);
    respond(
        StatusCode::OK,
        "application/openmetrics-text; version=1.0.0; charset=utf-8",
        text,
    )
}

/// `GET /openapi.json`.
pub fn openapi() -> hyper::Response<Body> {
    respond(StatusCode::OK, "application/json", openapi::DOCUMENT)
}
