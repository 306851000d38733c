//! Request handlers: each decodes its input, calls the broker, and encodes the answer.
//! They hold no state and no storage logic.

pub mod auth_keys;
pub mod connectors;
pub mod events;
pub mod groups;
pub mod ops;
pub mod plugins;
pub mod records;
pub mod rest_v2;
pub mod rest_v2_consumers;
pub mod rest_v3;
pub mod schema_registry;
pub mod stream_params;
pub mod topics;
pub mod transforms;
pub mod websocket;
