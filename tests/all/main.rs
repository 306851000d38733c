//! One integration-test binary: real servers on loopback port 0, real files in temp dirs.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod acls;
mod architecture;
mod auth;
mod bad_input;
mod cli;
mod cloudevents;
mod confluent_clients;
mod connectors;
mod crash;
mod events;
mod flood;
mod groups;
mod hostile;
mod http_api;
mod live_filters;
mod live_groups;
mod oidc;
mod rest_consumers;
mod rest_proxy;
mod rest_proxy_v3;
mod schema_registry;
mod shutdown;
mod slow_clients;
mod stalled;
mod storage_engines;
mod support;
mod tls;
mod transforms;
mod transforms_crash;
mod validation;
mod websocket;
