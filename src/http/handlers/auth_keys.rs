//! `POST /v1/auth/keys`, `GET /v1/auth/keys`, `DELETE /v1/auth/keys/{id}`: API keys; and
//! `POST`/`GET`/`DELETE /v1/acls`: ACLs. Both managed by the admin token or a principal
//! allowed to alter the cluster (the broker decides). A new key's text is in the creation answer and nowhere else.

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::broker::{Acl, ApiKey};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::router::{HandlerResult, json, no_content, read_body};

fn view(key: &ApiKey) -> Value {
    json!({
        "id": key.id,
        "principal": key.principal,
        "groups": key.groups,
        "description": key.description,
        "created_ms": key.created_ms,
        "expires_ms": key.expires_ms,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateKey {
    principal: String,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    expires_in_ms: Option<i64>,
}

/// Creates a key → 201 with `key`, shown this once.
pub async fn create(state: &AppState, req: Request<Incoming>) -> HandlerResult {
    let body = read_body(state, req).await?;
    let create: CreateKey = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid body: {e}")))?;
    let expires = create
        .expires_in_ms
        .map(|ms| crate::broker::now_ms().saturating_add(ms));
    let (key, text) = state
        .broker
        .create_api_key(
            &create.principal,
            create.groups,
            &create.description,
            expires,
        )
        .await?;
    let mut answer = view(&key);
    answer["key"] = Value::String(text);
    json(StatusCode::CREATED, &answer)
}

/// Every key, without secrets.
pub fn list(state: &AppState) -> HandlerResult {
    let keys: Vec<Value> = state.broker.list_api_keys()?.iter().map(view).collect();
    json(StatusCode::OK, &json!({ "keys": keys }))
}

/// Revokes a key → 204.
pub async fn revoke(state: &AppState, id: &str) -> HandlerResult {
    state.broker.revoke_api_key(id).await?;
    Ok(no_content())
}

/// `POST /v1/acls` with one ACL → 201.
pub async fn add_acl(state: &AppState, req: Request<Incoming>) -> HandlerResult {
    let body = read_body(state, req).await?;
    let acl: Acl = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid ACL: {e}")))?;
    state.broker.add_acl(acl.clone()).await?;
    json(StatusCode::CREATED, &acl)
}

/// `GET /v1/acls` → `{"acls": [...]}`.
pub fn list_acls(state: &AppState) -> HandlerResult {
    json(
        StatusCode::OK,
        &json!({ "acls": state.broker.list_acls()? }),
    )
}

/// `DELETE /v1/acls` with the ACL to remove → `{"removed": n}`.
pub async fn remove_acl(state: &AppState, req: Request<Incoming>) -> HandlerResult {
    let body = read_body(state, req).await?;
    let acl: Acl = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid ACL: {e}")))?;
    let removed = state.broker.remove_acl(&acl).await?;
    json(StatusCode::OK, &json!({ "removed": removed }))
}

/// `GET /v1/audit?offset=&max_records=` → `{"entries": [...], "next_offset"}`.
pub async fn audit(state: &AppState, req: &Request<Incoming>) -> HandlerResult {
    let mut offset = 0u64;
    let mut max = 1_000usize;
    for (name, value) in crate::http::router::query(req) {
        let bad = || ApiError::bad_request(format!("{name}={value} is not a number"));
        match name.as_str() {
            "offset" => offset = value.parse().map_err(|_| bad())?,
            "max_records" => max = value.parse::<usize>().map_err(|_| bad())?.clamp(1, 10_000),
            _ => {}
        }
    }
    let (entries, next) = state.broker.read_audit(offset, max).await?;
    json(
        StatusCode::OK,
        &json!({ "entries": entries, "next_offset": next }),
    )
}
