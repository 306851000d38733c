//! `/v1/topics` and `/v1/topics/{topic}`: create, list, describe, alter config, delete.

use hyper::body::Incoming;
use hyper::{Request, StatusCode};

use crate::http::AppState;
use crate::http::router::{HandlerResult, json, no_content, parse_json, read_body};
use crate::http::wire::{AlterTopic, CreateTopic, config_strings};

/// `POST /v1/topics` → 201 with the description.
pub async fn create(state: &AppState, req: Request<Incoming>) -> HandlerResult {
    let body = read_body(state, req).await?;
    let create: CreateTopic = parse_json(&body)?;
    let config = config_strings(create.config);
    let topic = state
        .broker
        .create_topic(&create.name, create.partitions, &config)
        .await?;
    tracing::info!(topic = %topic.name, partitions = topic.partitions.len(), "Topic created.");
    json(StatusCode::CREATED, &topic)
}

/// `GET /v1/topics` → every topic.
pub fn list(state: &AppState) -> HandlerResult {
    json(StatusCode::OK, &state.broker.list_topics())
}

/// `GET /v1/topics/{topic}`.
pub fn describe(state: &AppState, topic: &str) -> HandlerResult {
    json(StatusCode::OK, &state.broker.describe_topic(topic)?)
}

/// `PATCH /v1/topics/{topic}` with `{"config": {…}}` → the new description.
pub async fn alter(state: &AppState, topic: &str, req: Request<Incoming>) -> HandlerResult {
    let body = read_body(state, req).await?;
    let alter: AlterTopic = parse_json(&body)?;
    let described = state
        .broker
        .alter_topic_config(topic, &config_strings(alter.config))
        .await?;
    json(StatusCode::OK, &described)
}

/// `DELETE /v1/topics/{topic}` → 204.
pub async fn delete(state: &AppState, topic: &str) -> HandlerResult {
    state.broker.delete_topic(topic).await?;
    state.metrics.forget_topic(topic);
    tracing::info!(topic, "Topic deleted.");
    Ok(no_content())
}
