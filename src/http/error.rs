//! The one place errors become HTTP answers: status plus `{"error_code", "message"}`, where
//! `error_code = status * 100 + detail` (Confluent's shape, so their clients read it).
//!
//! The matches are exhaustive on purpose: a new error variant must be given a status here.
//! Internal failures answer 500 with a generic message; the detail goes to the log.

use hyper::StatusCode;
use serde::Serialize;

use crate::broker::{self, PluginError, SchemaError, StorageError};

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// `status * 100 + detail`.
    pub error_code: u32,
    /// Human-readable message naming what was wrong.
    pub message: String,
    /// Per-field problems (a refused connector config), as `errors` in the body.
    pub fields: Vec<FieldProblem>,
    /// Seconds a client should wait before retrying (429), sent as `Retry-After`.
    pub retry_after: Option<u64>,
}

/// One refused config field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldProblem {
    /// The config key.
    pub field: String,
    /// Why it was refused.
    pub message: String,
}

#[derive(Serialize)]
struct Body<'a> {
    error_code: u32,
    message: &'a str,
    #[serde(skip_serializing_if = "<[FieldProblem]>::is_empty")]
    errors: &'a [FieldProblem],
}

impl ApiError {
    /// An error with `status` and detail number `detail` (1–99).
    pub fn new(status: StatusCode, detail: u32, message: impl Into<String>) -> Self {
        Self {
            status,
            error_code: u32::from(status.as_u16()) * 100 + detail,
            message: message.into(),
            fields: Vec::new(),
            retry_after: None,
        }
    }

    /// An error whose `error_code` is given whole (Confluent's 5-digit codes, or a bare
    /// status such as the registry's 409).
    pub fn with_code(status: StatusCode, error_code: u32, message: impl Into<String>) -> Self {
        Self {
            status,
            error_code,
            message: message.into(),
            fields: Vec::new(),
            retry_after: None,
        }
    }

    /// 400: the body is not the JSON the endpoint expects.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 1, message)
    }

    /// 404 for paths no route serves.
    pub fn no_route(method: &hyper::Method, path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            0,
            format!("no route for {method} {path}"),
        )
    }

    /// 405 for a known path with the wrong method.
    pub fn method_not_allowed(method: &hyper::Method, path: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            1,
            format!("{method} is not allowed on {path}"),
        )
    }

    /// 413: the request body exceeds the limit.
    pub fn body_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            1,
            format!("request body exceeds the limit of {limit} bytes"),
        )
    }

    /// 422: a request whose JSON is well-formed but whose content is not acceptable.
    pub fn unprocessable(detail: u32, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, detail, message)
    }

    /// 500 with a generic message; `detail` is logged, not sent.
    pub fn internal(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "Request failed with an internal error.");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            1,
            "internal server error; see the server log",
        )
    }

    /// The JSON body.
    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(&Body {
            error_code: self.error_code,
            message: &self.message,
            errors: &self.fields,
        })
        .unwrap_or_default()
    }
}

impl From<broker::Error> for ApiError {
    fn from(e: broker::Error) -> Self {
        use broker::Error as B;
        let message = e.to_string();
        match e {
            B::InvalidConnectorConfig(errors) => {
                let mut api = Self::unprocessable(11, message);
                api.fields = errors
                    .into_iter()
                    .map(|e| FieldProblem {
                        field: e.field,
                        message: e.message,
                    })
                    .collect();
                api
            }
            B::Storage(inner) => inner.into(),
            B::InvalidTopicName(_) => Self::unprocessable(1, message),
            B::InvalidPartitionCount { .. } => Self::unprocessable(2, message),
            B::InvalidConfig { .. } => Self::unprocessable(3, message),
            B::RecordTooLarge { .. } => Self::unprocessable(4, message),
            B::RecordPartition { .. } => Self::unprocessable(5, message),
            B::EmptyProduce => Self::unprocessable(6, message),
            B::TooManyRecords { .. } => Self::new(StatusCode::PAYLOAD_TOO_LARGE, 2, message),
            B::IdempotencyKeyReused(_) => Self::unprocessable(10, message),
            B::InvalidCommit { .. } => Self::unprocessable(7, message),
            B::InternalTopic(_) => Self::new(StatusCode::FORBIDDEN, 1, message),
            B::InvalidSubscription(_) => Self::bad_request(message),
            B::UnknownGroup(_) => Self::new(StatusCode::NOT_FOUND, 3, message),
            B::UnknownInstance { .. } => Self::new(StatusCode::NOT_FOUND, 3, message),
            B::InstanceExists { .. } => Self::new(StatusCode::CONFLICT, 2, message),
            B::InstanceState(_) => Self::new(StatusCode::CONFLICT, 3, message),
            B::InvalidInstanceConfig(_) => Self::unprocessable(4, message),
            B::Auth(_) => Self::unprocessable(40, message),
            B::CredentialsGone(_) => Self::new(StatusCode::UNAUTHORIZED, 1, message),
            B::UnknownApiKey(_) => Self::new(StatusCode::NOT_FOUND, 20, message),
            B::Denied { .. } => Self::new(StatusCode::FORBIDDEN, 1, message),
            B::InternalState { .. } => Self::internal(&message),
            B::Plugin(inner) => inner.into(),
            B::UnknownPlugin(_) => Self::new(StatusCode::NOT_FOUND, 4, message),
            B::UnknownTransform(_) => Self::new(StatusCode::NOT_FOUND, 5, message),
            B::PluginInUse { .. } => Self::new(StatusCode::CONFLICT, 2, message),
            B::TransformExists(_) => Self::new(StatusCode::CONFLICT, 3, message),
            B::InvalidDefinition { .. } => Self::unprocessable(9, message),
            B::UnknownConnector(_) => Self::new(StatusCode::NOT_FOUND, 6, message),
            B::ConnectorExists(_) => Self::new(StatusCode::CONFLICT, 4, message),
            B::ConnectorNotStopped(_) => Self::bad_request(message),
            B::InvalidOffsets(_) => Self::bad_request(message),
            B::InvalidRecord { .. } => Self::unprocessable(30, message),
            B::Schema(inner) => inner.into(),
        }
    }
}

impl From<SchemaError> for ApiError {
    fn from(e: SchemaError) -> Self {
        let code = e.code();
        // 5-digit codes start with their status (40401 → 404); 409 is sent bare.
        let status = if code >= 10_000 { code / 100 } else { code };
        let status = u16::try_from(status)
            .ok()
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(error = %e, "Schema registry request failed.");
        }
        Self::with_code(status, code, e.to_string())
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        use StorageError as S;
        let message = e.to_string();
        match e {
            S::UnknownTopic { .. } => Self::new(StatusCode::NOT_FOUND, 1, message),
            S::UnknownPartition { .. } => Self::new(StatusCode::NOT_FOUND, 2, message),
            S::TopicExists { .. } => Self::new(StatusCode::CONFLICT, 1, message),
            S::OffsetOutOfRange { .. } => Self::new(StatusCode::RANGE_NOT_SATISFIABLE, 1, message),
            S::InvalidConfig { .. } => Self::unprocessable(3, message),
            S::BatchTooLarge { .. } => Self::unprocessable(4, message),
            S::Poisoned { .. } => Self::new(StatusCode::SERVICE_UNAVAILABLE, 1, message),
            S::Closed { .. } => Self::new(StatusCode::SERVICE_UNAVAILABLE, 2, message),
            S::NoSpace { .. } => Self::new(StatusCode::INSUFFICIENT_STORAGE, 1, message),
            S::Internal(_) => Self::internal(&message),
        }
    }
}

impl From<PluginError> for ApiError {
    fn from(e: PluginError) -> Self {
        use PluginError as P;
        let message = e.to_string();
        match e {
            P::TooLarge { .. } => Self::unprocessable(20, message),
            P::NotAComponent { .. } => Self::unprocessable(21, message),
            P::UnknownWorld { .. } => Self::unprocessable(22, message),
            P::ForbiddenImport { .. } => Self::unprocessable(23, message),
            P::CompileTimeout { .. } => Self::unprocessable(24, message),
            P::CompileMemory { .. } => Self::unprocessable(28, message),
            P::Compile { .. } => Self::unprocessable(25, message),
            P::InvalidConfig { .. } | P::Open { .. } => Self::unprocessable(26, message),
            P::WrongWorld { .. } => Self::unprocessable(22, message),
            // Only `init` runs a guest during a request: its failure refuses the definition.
            P::Timeout { .. }
            | P::MemoryLimit { .. }
            | P::Trap { .. }
            | P::Guest { .. }
            | P::InvalidOutput { .. } => Self::unprocessable(27, message),
            P::Engine { .. } | P::Io { .. } | P::UnknownDigest { .. } | P::Runtime { .. } => {
                Self::internal(&message)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]
    use super::*;
    use crate::event::TopicName;

    #[test]
    fn a_full_disk_is_507_with_the_json_body() {
        let full = broker::Error::Storage(StorageError::NoSpace {
            topic: TopicName::new("t").unwrap(),
            partition: 0,
        });
        let e = ApiError::from(full);
        assert_eq!(e.status, StatusCode::INSUFFICIENT_STORAGE);
        let body: serde_json::Value = serde_json::from_slice(&e.body()).unwrap();
        assert_eq!(body["error_code"], 50701);
        assert!(body["message"].as_str().unwrap().contains("no space left"));
    }
}
