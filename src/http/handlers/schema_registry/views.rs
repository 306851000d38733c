//! The Schema Registry's JSON bodies, as Confluent's clients send and read them
//! (API-COMPAT §3.3): request bodies in, entities out, empty fields omitted.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::broker::{SchemaKind, SchemaReference, SchemaRequest, SchemaView};
use crate::http::error::ApiError;

/// A register, lookup or compatibility body; unknown fields ignored.
#[derive(Deserialize)]
pub struct SchemaBody {
    #[serde(default)]
    schema: Option<String>,
    #[serde(rename = "schemaType", default)]
    schema_type: Option<String>,
    #[serde(default)]
    references: Option<Vec<ReferenceBody>>,
    #[serde(default)]
    metadata: Option<Value>,
    #[serde(rename = "ruleSet", default)]
    rule_set: Option<Value>,
    #[serde(default)]
    id: Option<i64>,
    #[serde(default)]
    version: Option<i64>,
}

#[derive(Deserialize)]
struct ReferenceBody {
    name: String,
    subject: String,
    version: i64,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::with_code(hyper::StatusCode::UNPROCESSABLE_ENTITY, 42201, message)
}

impl SchemaBody {
    /// The broker's request, or 42201 naming what is wrong.
    pub fn into_request(self) -> Result<SchemaRequest, ApiError> {
        let kind = match self
            .schema_type
            .as_deref()
            .map(str::to_ascii_uppercase)
            .as_deref()
        {
            None | Some("AVRO") => SchemaKind::Avro,
            Some("JSON") => SchemaKind::Json,
            Some("PROTOBUF") => SchemaKind::Protobuf,
            Some(other) => return Err(invalid(format!("Invalid schema type {other}"))),
        };
        let schema = self
            .schema
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| invalid("Empty schema"))?;
        let references = self
            .references
            .unwrap_or_default()
            .into_iter()
            .map(|r| {
                let version = u32::try_from(r.version)
                    .ok()
                    .filter(|v| *v >= 1)
                    .ok_or_else(|| {
                        invalid(format!(
                            "reference '{}' has invalid version {}",
                            r.name, r.version
                        ))
                    })?;
                Ok(SchemaReference {
                    name: r.name,
                    subject: r.subject,
                    version,
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        let positive = |what: &str, v: Option<i64>| -> Result<Option<u32>, ApiError> {
            match v {
                None | Some(-1 | 0) => Ok(None),
                Some(n) => u32::try_from(n)
                    .ok()
                    .filter(|n| *n <= i32::MAX as u32)
                    .map(Some)
                    .ok_or_else(|| invalid(format!("invalid {what} {n}"))),
            }
        };
        Ok(SchemaRequest {
            schema,
            kind,
            references,
            metadata: self.metadata.filter(|v| !v.is_null()),
            rule_set: self.rule_set.filter(|v| !v.is_null()),
            id: positive("id", self.id)?.map(crate::broker::SchemaId),
            version: positive("version", self.version)?,
        })
    }
}

/// A schema entity (`GET …/versions/{v}`, lookup, register).
#[derive(Serialize)]
pub struct SchemaEntity<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    subject: &'a str,
    #[serde(skip_serializing_if = "is_zero")]
    version: u32,
    id: u32,
    /// Omitted for AVRO, as Confluent 7.x does; clients default to AVRO.
    #[serde(rename = "schemaType", skip_serializing_if = "Option::is_none")]
    schema_type: Option<&'static str>,
    #[serde(skip_serializing_if = "<[SchemaReference]>::is_empty")]
    references: &'a [SchemaReference],
    schema: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<&'a Value>,
    #[serde(rename = "ruleSet", skip_serializing_if = "Option::is_none")]
    rule_set: Option<&'a Value>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    deleted: bool,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

impl<'a> SchemaEntity<'a> {
    /// The full entity.
    pub fn of(view: &'a SchemaView) -> Self {
        Self {
            subject: &view.subject,
            version: view.version,
            id: view.id.0,
            schema_type: (view.kind != SchemaKind::Avro).then(|| view.kind.as_str()),
            references: &view.references,
            schema: &view.schema,
            metadata: view.metadata.as_ref(),
            rule_set: view.rule_set.as_ref(),
            deleted: view.deleted,
        }
    }
}

/// `GET /schemas/ids/{id}` body: no `id` either.
#[derive(Serialize)]
pub struct SchemaString<'a> {
    #[serde(rename = "schemaType", skip_serializing_if = "Option::is_none")]
    schema_type: Option<&'static str>,
    schema: &'a str,
    #[serde(skip_serializing_if = "<[SchemaReference]>::is_empty")]
    references: &'a [SchemaReference],
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<&'a Value>,
    #[serde(rename = "ruleSet", skip_serializing_if = "Option::is_none")]
    rule_set: Option<&'a Value>,
}

impl<'a> SchemaString<'a> {
    pub fn of(view: &'a SchemaView) -> Self {
        Self {
            schema_type: (view.kind != SchemaKind::Avro).then(|| view.kind.as_str()),
            schema: &view.schema,
            references: &view.references,
            metadata: view.metadata.as_ref(),
            rule_set: view.rule_set.as_ref(),
        }
    }
}

/// `PUT /config` body.
#[derive(Deserialize)]
pub struct ConfigBody {
    #[serde(default)]
    pub compatibility: Option<String>,
    #[serde(rename = "compatibilityLevel", default)]
    pub compatibility_level: Option<String>,
    #[serde(rename = "compatibilityPolicy", default)]
    pub compatibility_policy: Option<String>,
}

/// `PUT /mode` body.
#[derive(Deserialize)]
pub struct ModeBody {
    pub mode: String,
}
