//! `/v1/groups…`: consumer-group committed offsets and lag.

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::json;

use crate::http::AppState;
use crate::http::router::{HandlerResult, json, no_content, parse_json, read_body};
use crate::http::wire::CommitBody;

/// `GET /v1/groups` → `{"groups": [...]}`.
pub fn list(state: &AppState) -> HandlerResult {
    json(
        StatusCode::OK,
        &json!({ "groups": state.broker.list_groups() }),
    )
}

/// `GET /v1/groups/{group}/offsets` → `{"offsets": [{topic, partition, offset, lag}]}`.
pub fn get(state: &AppState, group: &str) -> HandlerResult {
    let offsets = state.broker.group_offsets(group)?;
    json(StatusCode::OK, &json!({ "offsets": offsets }))
}

/// `POST /v1/groups/{group}/offsets` → 204 once durable.
pub async fn commit(state: &AppState, group: &str, req: Request<Incoming>) -> HandlerResult {
    let body = read_body(state, req).await?;
    let commit: CommitBody = parse_json(&body)?;
    state.broker.commit_offsets(group, &commit.offsets).await?;
    Ok(no_content())
}
