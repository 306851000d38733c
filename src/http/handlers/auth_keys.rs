//! `POST /v1/auth/keys`, `GET /v1/auth/keys`, `DELETE /v1/auth/keys/{id}`: API keys, managed by
//! a superuser (the admin token). A new key's text is in the creation answer and nowhere else.

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::broker::{ApiKey, Principal};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::router::{HandlerResult, json, no_content, read_body};

fn superuser(principal: &Principal) -> Result<(), ApiError> {
    if principal.superuser {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        1,
        format!("principal '{}' may not manage API keys", principal.name),
    ))
}

fn view(key: &ApiKey) -> Value {
    json!({
        "id": key.id,
        "principal": key.principal,
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
    description: String,
    #[serde(default)]
    expires_in_ms: Option<i64>,
}

/// Creates a key → 201 with `key`, shown this once.
pub async fn create(
    state: &AppState,
    principal: &Principal,
    req: Request<Incoming>,
) -> HandlerResult {
    superuser(principal)?;
    let body = read_body(state, req).await?;
    let create: CreateKey = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid body: {e}")))?;
    let expires = create
        .expires_in_ms
        .map(|ms| crate::broker::now_ms().saturating_add(ms));
    let (key, text) = state
        .broker
        .create_api_key(&create.principal, &create.description, expires)
        .await?;
    let mut answer = view(&key);
    answer["key"] = Value::String(text);
    json(StatusCode::CREATED, &answer)
}

/// Every key, without secrets.
pub fn list(state: &AppState, principal: &Principal) -> HandlerResult {
    superuser(principal)?;
    let keys: Vec<Value> = state.broker.list_api_keys().iter().map(view).collect();
    json(StatusCode::OK, &json!({ "keys": keys }))
}

/// Revokes a key → 204.
pub async fn revoke(state: &AppState, principal: &Principal, id: &str) -> HandlerResult {
    superuser(principal)?;
    state.broker.revoke_api_key(id).await?;
    Ok(no_content())
}
