//! The OpenAPI 3.1 description of the native API, served at `/openapi.json`.

/// The document (kept beside the code it describes; `tests` check every route is in it).
pub const DOCUMENT: &str = include_str!("openapi.json");
