//! Tidegate: a WebAssembly-extensible event gateway with a durable, partitioned, replayable log.
//!
//! Layers point down only (see `DESIGN.md`):
//!
//! ```text
//! main → gateway → {http, pipeline} → broker → {log, schema, plugin} → event
//! ```
//!
//! `tests/all/architecture.rs` holds that rule: no module imports one above it or skips the
//! one below it. `event` (the vocabulary) and the rank-0 helpers (`durable`, `shutdown`,
//! `telemetry`) are usable everywhere.

pub mod broker;
pub mod config;
pub mod durable;
pub mod event;
pub mod gateway;
pub mod http;
pub mod json_text;
pub mod log;
pub mod pipeline;
pub mod plugin;
pub mod schema;
pub mod shutdown;
pub mod telemetry;
