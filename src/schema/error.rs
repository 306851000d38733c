//! The schema layer's error: every refusal of the registry and of record validation, each
//! knowing the Confluent error code its clients branch on (API-COMPAT §3.2). The HTTP layer
//! maps it to a status once; nothing here speaks HTTP.

use crate::event::SchemaId;

/// A registry or validation failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// 40401.
    #[error("Subject '{0}' not found.")]
    SubjectNotFound(String),
    /// 40402.
    #[error("Version {0} not found.")]
    VersionNotFound(String),
    /// 40403.
    #[error("Schema {0} not found")]
    SchemaNotFound(SchemaId),
    /// 40403 for a lookup that matched nothing.
    #[error("Schema not found")]
    SchemaNotRegistered,
    /// 40404.
    #[error("Subject '{0}' was soft deleted.Set permanent=true to delete permanently")]
    SubjectSoftDeleted(String),
    /// 40406.
    #[error(
        "Subject '{subject}' Version {version} was soft deleted.Set permanent=true to delete permanently"
    )]
    VersionSoftDeleted {
        /// The subject.
        subject: String,
        /// The version.
        version: u32,
    },
    /// 40405.
    #[error("Subject '{0}' was not deleted first before being permanently deleted")]
    SubjectNotSoftDeleted(String),
    /// 40407.
    #[error(
        "Subject '{subject}' Version {version} was not deleted first before being permanently deleted"
    )]
    VersionNotSoftDeleted {
        /// The subject.
        subject: String,
        /// The version.
        version: u32,
    },
    /// 40408.
    #[error("Subject '{0}' does not have subject-level compatibility configured")]
    NoSubjectConfig(String),
    /// 40409.
    #[error("Subject '{0}' does not have subject-level mode configured")]
    NoSubjectMode(String),
    /// 409: the candidate breaks the subject's compatibility level.
    #[error(
        "Schema being registered is incompatible with an earlier schema for subject \"{subject}\", details: [{}]",
        messages.join(", ")
    )]
    Incompatible {
        /// The subject.
        subject: String,
        /// Every reason found.
        messages: Vec<String>,
    },
    /// 42201.
    #[error("Invalid schema: {0}")]
    InvalidSchema(String),
    /// 42202.
    #[error(
        "The specified version '{0}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\""
    )]
    InvalidVersion(String),
    /// 42203.
    #[error(
        "Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive; got '{0}'"
    )]
    InvalidCompatibility(String),
    /// 42204.
    #[error(
        "Invalid mode. Valid values are READWRITE, READONLY, READONLY_OVERRIDE and IMPORT; got '{0}'"
    )]
    InvalidMode(String),
    /// 42205.
    #[error("{0}")]
    OperationNotPermitted(String),
    /// 42206.
    #[error("One or more references exist to the schema {{subject={subject},version={version}}}")]
    Referenced {
        /// The subject.
        subject: String,
        /// The version.
        version: u32,
    },
    /// 42207.
    #[error("Overwrite new schema with id {0} is not permitted: the id holds a different schema")]
    IdConflict(SchemaId),
    /// 42208.
    #[error("Invalid subject: {0}")]
    InvalidSubject(String),
    /// 42209.
    #[error("Schema is {size} bytes, over the limit of {limit}")]
    SchemaTooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// 42210.
    #[error("Invalid rule set: {0}")]
    InvalidRuleSet(String),
    /// 50001: the backing store failed; nothing was changed.
    #[error("Error while storing the schema registry's state: {0}")]
    Store(String),
}

impl Error {
    /// Confluent's `error_code` for this error.
    #[must_use]
    pub fn code(&self) -> u32 {
        match self {
            Self::SubjectNotFound(_) => 40401,
            Self::VersionNotFound(_) => 40402,
            Self::SchemaNotFound(_) | Self::SchemaNotRegistered => 40403,
            Self::SubjectSoftDeleted(_) => 40404,
            Self::SubjectNotSoftDeleted(_) => 40405,
            Self::VersionSoftDeleted { .. } => 40406,
            Self::VersionNotSoftDeleted { .. } => 40407,
            Self::NoSubjectConfig(_) => 40408,
            Self::NoSubjectMode(_) => 40409,
            Self::Incompatible { .. } => 409,
            Self::InvalidSchema(_) => 42201,
            Self::InvalidVersion(_) => 42202,
            Self::InvalidCompatibility(_) => 42203,
            Self::InvalidMode(_) => 42204,
            Self::OperationNotPermitted(_) => 42205,
            Self::Referenced { .. } => 42206,
            Self::IdConflict(_) => 42207,
            Self::InvalidSubject(_) => 42208,
            Self::SchemaTooLarge { .. } => 42209,
            Self::InvalidRuleSet(_) => 42210,
            Self::Store(_) => 50001,
        }
    }
}

/// Shorthand for the schema layer's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
