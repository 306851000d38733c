//! Schemas: the registry (subjects, versions, global ids, compatibility, modes) and the
//! formats it understands — Avro and JSON Schema — with compatibility rules and the
//! Confluent wire format.
//!
//! Independent of `log` and `plugin`, it imports only `event`. Persistence is a [`Store`]
//! the broker implements over its internal topic `__schemas`; nothing here does I/O.

pub mod avro;
pub mod capture;
mod cel_fast;
mod cel_message;
pub mod compat;
mod error;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzz;
pub mod json;
pub mod json_compat;
mod json_fast;
mod object_key;
pub mod parsed;
mod registry;
pub mod rules;
pub mod types;
pub mod validate;
pub mod wire;

pub use error::{Error, Result};
pub use parsed::Parsed;
pub use registry::{Deleted, Entry, MAX_SCHEMA_BYTES, Registry, Store};
pub use types::{
    Config, Level, Mode, Policy, Reference, SchemaKind, SchemaRequest, SchemaView, VersionSpec,
};
pub use validate::{Checked, Strategy, Validator, Violation};
