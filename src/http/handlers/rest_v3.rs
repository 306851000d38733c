//! Confluent REST Proxy API v3 (API-COMPAT §2), under `/v3` and Confluent Server's `/kafka/v3`:
//! the one cluster, topics (list, create, describe, delete), partitions with their offsets,
//! and produce ([`records`]: streaming and batch). A thin adapter over the broker; answers are
//! `application/json` in v3's resource shapes (`kind`, `metadata.self`, `related` links).

mod convert;
mod records;

use std::collections::BTreeMap;

use hyper::body::Incoming;
use hyper::header::HOST;
use hyper::{Method, Request, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::broker::{StorageError, TopicDescription};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::router::{HandlerResult, no_content, read_body, respond};

/// This gateway's cluster id (one cluster, one node).
pub const CLUSTER_ID: &str = "tidegate";

/// The v3 paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Clusters,
    Cluster,
    Topics,
    Topic,
    Partitions,
    Partition,
    Records,
    RecordsBatch,
}

const PATHS: &[(&str, Route)] = &[
    ("/clusters", Route::Clusters),
    ("/clusters/{cluster}", Route::Cluster),
    ("/clusters/{cluster}/topics", Route::Topics),
    ("/clusters/{cluster}/topics/{topic}", Route::Topic),
    (
        "/clusters/{cluster}/topics/{topic}/partitions",
        Route::Partitions,
    ),
    (
        "/clusters/{cluster}/topics/{topic}/partitions/{partition}",
        Route::Partition,
    ),
    ("/clusters/{cluster}/topics/{topic}/records", Route::Records),
    (
        "/clusters/{cluster}/topics/{topic}/records:batch",
        Route::RecordsBatch,
    ),
];

/// Path patterns under both prefixes, for the router's table.
pub fn routes() -> impl Iterator<Item = (String, Route)> {
    ["/v3", "/kafka/v3"]
        .into_iter()
        .flat_map(|prefix| PATHS.iter().map(move |(p, r)| (format!("{prefix}{p}"), *r)))
}

/// An error in v3's body shape (`error_code`, `message`): the same as v2's.
pub(super) use super::rest_v2::error;

fn reply(status: StatusCode, value: &Value) -> HandlerResult {
    let body = serde_json::to_vec(value).map_err(|e| ApiError::internal(&e))?;
    Ok(respond(status, "application/json", body))
}

/// The path parameters of a v3 request.
pub struct Path<'a> {
    /// `{cluster}`.
    pub cluster: &'a str,
    /// `{topic}`.
    pub topic: &'a str,
    /// `{partition}`.
    pub partition: &'a str,
}

/// Serves one v3 request; the first value names the route for metrics.
pub async fn dispatch(
    state: &AppState,
    route: Route,
    path: Path<'_>,
    req: Request<Incoming>,
) -> (&'static str, HandlerResult) {
    let method = req.method().clone();
    if route != Route::Clusters && path.cluster != CLUSTER_ID {
        let e = error(
            StatusCode::NOT_FOUND,
            404,
            format!("Cluster {} cannot be found.", path.cluster),
        );
        return ("v3_unknown_cluster", Err(e));
    }
    let base = base_url(&req);
    let t = path.topic;
    match (route, &method) {
        (Route::Clusters, &Method::GET) => {
            let list = json!({"kind": "KafkaClusterList",
                "metadata": {"self": format!("{base}/clusters"), "next": null},
                "data": [cluster(&base)]});
            ("v3_clusters", reply(StatusCode::OK, &list))
        }
        (Route::Cluster, &Method::GET) => ("v3_cluster", reply(StatusCode::OK, &cluster(&base))),
        (Route::Topics, &Method::GET) => {
            let data: Vec<Value> = state
                .broker
                .list_topics()
                .iter()
                .filter(|t| !t.internal)
                .map(|t| topic_json(&base, t))
                .collect();
            let list = json!({"kind": "KafkaTopicList",
                "metadata": {"self": format!("{base}/clusters/{CLUSTER_ID}/topics"), "next": null},
                "data": data});
            ("v3_topics", reply(StatusCode::OK, &list))
        }
        (Route::Topics, &Method::POST) => ("v3_create_topic", create(state, &base, req).await),
        (Route::Topic, &Method::GET) => (
            "v3_topic",
            describe(state, t).and_then(|d| reply(StatusCode::OK, &topic_json(&base, &d))),
        ),
        (Route::Topic, &Method::DELETE) => ("v3_delete_topic", delete(state, t).await),
        (Route::Partitions, &Method::GET) => ("v3_partitions", partitions(state, &base, t)),
        (Route::Partition, &Method::GET) => {
            ("v3_partition", partition(state, &base, t, path.partition))
        }
        (Route::Records, &Method::POST) => ("v3_produce", records::produce(state, t, req).await),
        (Route::RecordsBatch, &Method::POST) => {
            ("v3_produce_batch", records::batch(state, t, req).await)
        }
        _ => {
            let path = req.uri().path().to_owned();
            ("unknown", Err(ApiError::method_not_allowed(&method, &path)))
        }
    }
}

/// `http://<host>/v3` (or `/kafka/v3`, as the request came), for `self` links.
fn base_url(req: &Request<Incoming>) -> String {
    let host = req
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let prefix = if req.uri().path().starts_with("/kafka/") {
        "/kafka/v3"
    } else {
        "/v3"
    };
    format!("http://{host}{prefix}")
}

fn related(url: String) -> Value {
    json!({"related": url})
}

fn cluster(base: &str) -> Value {
    let me = format!("{base}/clusters/{CLUSTER_ID}");
    json!({
        "kind": "KafkaCluster",
        "metadata": {"self": me, "resource_name": format!("crn:///kafka={CLUSTER_ID}")},
        "cluster_id": CLUSTER_ID,
        "controller": related(format!("{me}/brokers/0")),
        "acls": related(format!("{me}/acls")),
        "brokers": related(format!("{me}/brokers")),
        "broker_configs": related(format!("{me}/broker-configs")),
        "consumer_groups": related(format!("{me}/consumer-groups")),
        "topics": related(format!("{me}/topics")),
        "partition_reassignments": related(format!("{me}/topics/-/partitions/-/reassignment")),
    })
}

fn topic_json(base: &str, t: &TopicDescription) -> Value {
    let me = format!("{base}/clusters/{CLUSTER_ID}/topics/{}", t.name);
    json!({
        "kind": "KafkaTopic",
        "metadata": {"self": me,
                     "resource_name": format!("crn:///kafka={CLUSTER_ID}/topic={}", t.name)},
        "cluster_id": CLUSTER_ID,
        "topic_name": t.name,
        "is_internal": t.internal,
        "replication_factor": 1,
        "partitions_count": t.partitions.len(),
        "partitions": related(format!("{me}/partitions")),
        "configs": related(format!("{me}/configs")),
        "partition_reassignments": related(format!("{me}/partitions/-/reassignment")),
        "authorized_operations": [],
    })
}

fn not_found() -> ApiError {
    error(
        StatusCode::NOT_FOUND,
        40403,
        "This server does not host this topic-partition.",
    )
}

/// The topic, or v3's 404 (internal topics are not served here).
pub(super) fn describe(state: &AppState, topic: &str) -> Result<TopicDescription, ApiError> {
    match state.broker.describe_topic(topic) {
        Ok(t) if !t.internal => Ok(t),
        Ok(_) => Err(not_found()),
        Err(crate::broker::Error::Storage(StorageError::UnknownTopic { .. }))
        | Err(crate::broker::Error::InvalidTopicName(_)) => Err(not_found()),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct ConfigEntry {
    name: String,
    value: Option<String>,
}

#[derive(Deserialize)]
struct CreateTopic {
    topic_name: String,
    #[serde(default)]
    partitions_count: Option<i64>,
    #[serde(default)]
    replication_factor: Option<i64>,
    #[serde(default)]
    configs: Vec<ConfigEntry>,
    #[serde(default)]
    validate_only: bool,
}

async fn create(state: &AppState, base: &str, req: Request<Incoming>) -> HandlerResult {
    let body = read_body(state, req).await?;
    let create: CreateTopic = serde_json::from_slice(&body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            400,
            format!("invalid JSON body: {e}"),
        )
    })?;
    if create.replication_factor.is_some_and(|r| r != 1 && r != -1) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            40002,
            "replication_factor must be 1 (one node keeps each partition, durably)",
        ));
    }
    let config: BTreeMap<String, String> = create
        .configs
        .into_iter()
        .filter_map(|c| c.value.map(|v| (c.name, v)))
        .collect();
    let partitions = create.partitions_count.unwrap_or(1);
    if create.validate_only {
        crate::event::TopicName::new(&create.topic_name)
            .map_err(|e| error(StatusCode::BAD_REQUEST, 40002, e.to_string()))?;
        if state.broker.describe_topic(&create.topic_name).is_ok() {
            return Err(exists(&create.topic_name));
        }
        let pending = json!({"kind": "KafkaTopic", "cluster_id": CLUSTER_ID,
                             "topic_name": create.topic_name, "partitions_count": partitions,
                             "replication_factor": 1, "is_internal": false});
        return reply(StatusCode::OK, &pending);
    }
    match state
        .broker
        .create_topic(&create.topic_name, partitions, &config)
        .await
    {
        Ok(t) => reply(StatusCode::CREATED, &topic_json(base, &t)),
        Err(crate::broker::Error::Storage(StorageError::TopicExists { .. })) => {
            Err(exists(&create.topic_name))
        }
        Err(e) => Err(error(StatusCode::BAD_REQUEST, 40002, e.to_string())),
    }
}

fn exists(topic: &str) -> ApiError {
    error(
        StatusCode::BAD_REQUEST,
        40002,
        format!("Topic '{topic}' already exists."),
    )
}

async fn delete(state: &AppState, topic: &str) -> HandlerResult {
    describe(state, topic)?;
    state.broker.delete_topic(topic).await?;
    Ok(no_content())
}

fn partition_json(base: &str, topic: &str, p: &crate::broker::PartitionInfo) -> Value {
    let me = format!(
        "{base}/clusters/{CLUSTER_ID}/topics/{topic}/partitions/{}",
        p.partition
    );
    json!({
        "kind": "KafkaPartition",
        "metadata": {"self": me, "resource_name":
            format!("crn:///kafka={CLUSTER_ID}/topic={topic}/partition={}", p.partition)},
        "cluster_id": CLUSTER_ID,
        "topic_name": topic,
        "partition_id": p.partition,
        "leader": related(format!("{me}/replicas/0")),
        "replicas": related(format!("{me}/replicas")),
        "reassignment": related(format!("{me}/reassignment")),
        "earliest_offset": p.start_offset,
        "latest_offset": p.end_offset,
    })
}

fn partitions(state: &AppState, base: &str, topic: &str) -> HandlerResult {
    let t = describe(state, topic)?;
    let data: Vec<Value> = t
        .partitions
        .iter()
        .map(|p| partition_json(base, topic, p))
        .collect();
    let me = format!("{base}/clusters/{CLUSTER_ID}/topics/{topic}/partitions");
    reply(
        StatusCode::OK,
        &json!({"kind": "KafkaPartitionList", "metadata": {"self": me, "next": null}, "data": data}),
    )
}

fn partition(state: &AppState, base: &str, topic: &str, partition: &str) -> HandlerResult {
    let t = describe(state, topic)?;
    let p = partition
        .parse::<u32>()
        .ok()
        .and_then(|n| t.partitions.iter().find(|p| p.partition == n))
        .ok_or_else(not_found)?;
    reply(StatusCode::OK, &partition_json(base, topic, p))
}

/// The parser a streamed v3 produce meets: the body framed into records as it arrives, in
/// chunks whose sizes the input's first byte picks.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn fuzz_stream(data: &[u8]) {
    let Some((&chunk, data)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk).max(1);
    let mut buffer = bytes::BytesMut::new();
    for piece in data.chunks(chunk) {
        buffer.extend_from_slice(piece);
        let _ = records::split_records(&mut buffer);
    }
}
