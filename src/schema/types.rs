//! The registry's vocabulary: schema kinds, references, versions, compatibility levels and
//! modes, as the Confluent API names them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::error::Error;
use crate::event::SchemaId;

/// A schema's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum SchemaKind {
    /// Apache Avro (the default when a request names none).
    #[default]
    Avro,
    /// JSON Schema.
    Json,
    /// Protocol Buffers: named by clients, refused until supported.
    Protobuf,
}

impl SchemaKind {
    /// The API's name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Avro => "AVRO",
            Self::Json => "JSON",
            Self::Protobuf => "PROTOBUF",
        }
    }
}

/// A named reference to another subject's version (Avro named types, JSON `$ref` targets).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Reference {
    /// The name the referring schema uses (an Avro full name, a JSON `$ref` URI).
    pub name: String,
    /// The subject that holds it.
    pub subject: String,
    /// Its version there.
    pub version: u32,
}

/// A version selector in paths: a number or `latest` (Confluent also takes `-1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSpec {
    /// The newest live version.
    Latest,
    /// A specific version.
    Number(u32),
}

impl FromStr for VersionSpec {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        if s.eq_ignore_ascii_case("latest") || s == "-1" {
            return Ok(Self::Latest);
        }
        match s.parse::<u32>() {
            Ok(n) if (1..=i32::MAX as u32).contains(&n) => Ok(Self::Number(n)),
            _ => Err(Error::InvalidVersion(s.to_owned())),
        }
    }
}

/// A compatibility level (API-COMPAT §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Level {
    /// No check.
    None,
    /// The new schema reads data of the latest.
    #[default]
    Backward,
    /// … of every live version.
    BackwardTransitive,
    /// The latest reads data of the new schema.
    Forward,
    /// Every live version reads data of the new one.
    ForwardTransitive,
    /// Both directions against the latest.
    Full,
    /// Both directions against every live version.
    FullTransitive,
}

impl Level {
    /// The API's name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::Backward => "BACKWARD",
            Self::BackwardTransitive => "BACKWARD_TRANSITIVE",
            Self::Forward => "FORWARD",
            Self::ForwardTransitive => "FORWARD_TRANSITIVE",
            Self::Full => "FULL",
            Self::FullTransitive => "FULL_TRANSITIVE",
        }
    }

    /// Checked against every live version rather than the latest.
    #[must_use]
    pub fn transitive(self) -> bool {
        matches!(
            self,
            Self::BackwardTransitive | Self::ForwardTransitive | Self::FullTransitive
        )
    }

    /// The new schema must read the old ones' data.
    #[must_use]
    pub fn backward(self) -> bool {
        matches!(
            self,
            Self::Backward | Self::BackwardTransitive | Self::Full | Self::FullTransitive
        )
    }

    /// The old schemas must read the new one's data.
    #[must_use]
    pub fn forward(self) -> bool {
        matches!(
            self,
            Self::Forward | Self::ForwardTransitive | Self::Full | Self::FullTransitive
        )
    }
}

impl FromStr for Level {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let level = match s.to_ascii_uppercase().as_str() {
            "NONE" => Self::None,
            "BACKWARD" => Self::Backward,
            "BACKWARD_TRANSITIVE" => Self::BackwardTransitive,
            "FORWARD" => Self::Forward,
            "FORWARD_TRANSITIVE" => Self::ForwardTransitive,
            "FULL" => Self::Full,
            "FULL_TRANSITIVE" => Self::FullTransitive,
            _ => return Err(Error::InvalidCompatibility(s.to_owned())),
        };
        Ok(level)
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How strictly JSON Schema changes are judged: Confluent's rules, or our documented
/// relaxation (an optional property added to an open content model stays BACKWARD).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum Policy {
    /// Confluent's rules.
    #[default]
    Strict,
    /// Our extension.
    Lenient,
}

impl FromStr for Policy {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.to_ascii_uppercase().as_str() {
            "STRICT" => Ok(Self::Strict),
            "LENIENT" => Ok(Self::Lenient),
            _ => Err(Error::InvalidCompatibility(format!(
                "compatibilityPolicy {s} (STRICT or LENIENT)"
            ))),
        }
    }
}

/// A subject's (or the global) configuration; unset fields fall back to the global ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Config {
    /// The compatibility level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compatibility: Option<Level>,
    /// The JSON Schema policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Policy>,
}

/// What writes a subject (or the registry) accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Mode {
    /// Normal operation.
    #[default]
    Readwrite,
    /// Writes refused.
    Readonly,
    /// Writes refused, also to subjects with their own mode.
    ReadonlyOverride,
    /// Registration takes the client's id and version and skips checks (migrations).
    Import,
}

impl Mode {
    /// The API's name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Readwrite => "READWRITE",
            Self::Readonly => "READONLY",
            Self::ReadonlyOverride => "READONLY_OVERRIDE",
            Self::Import => "IMPORT",
        }
    }
}

impl FromStr for Mode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.to_ascii_uppercase().as_str() {
            "READWRITE" => Ok(Self::Readwrite),
            "READONLY" => Ok(Self::Readonly),
            "READONLY_OVERRIDE" => Ok(Self::ReadonlyOverride),
            "IMPORT" => Ok(Self::Import),
            _ => Err(Error::InvalidMode(s.to_owned())),
        }
    }
}

/// A registration or lookup request (Confluent's body; unknown fields ignored).
#[derive(Debug, Clone, Default)]
pub struct SchemaRequest {
    /// The schema text.
    pub schema: String,
    /// Its format.
    pub kind: SchemaKind,
    /// Named references.
    pub references: Vec<Reference>,
    /// Stored and returned verbatim.
    pub metadata: Option<serde_json::Value>,
    /// Stored, returned, and its CEL domain rules evaluated on produce.
    pub rule_set: Option<serde_json::Value>,
    /// IMPORT mode only: the id to register under.
    pub id: Option<SchemaId>,
    /// IMPORT mode only: the version to register as.
    pub version: Option<u32>,
}

/// A registered schema as the API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaView {
    /// The subject (empty when looked up by id alone).
    pub subject: String,
    /// The version (0 when looked up by id alone).
    pub version: u32,
    /// The global id.
    pub id: SchemaId,
    /// Its format.
    pub kind: SchemaKind,
    /// The canonical text.
    pub schema: std::sync::Arc<str>,
    /// Its references.
    pub references: Vec<Reference>,
    /// Verbatim metadata.
    pub metadata: Option<serde_json::Value>,
    /// Verbatim rule set.
    pub rule_set: Option<serde_json::Value>,
    /// Whether this version is soft-deleted.
    pub deleted: bool,
}
