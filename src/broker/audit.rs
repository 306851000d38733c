//! The audit log: who did what to which resource, when, from where, and how it ended — one
//! JSON record per administrative request (creating, changing or deleting topics, schemas and
//! their config, plugins, transforms, connectors, API keys and ACLs) in the internal topic
//! `__tidegate_audit`, kept 30 days, readable by principals allowed to describe the cluster.
//!
//! Owns the record's shape and its topic. Which requests are administrative is the front end's
//! call (it knows its routes); recording never fails a request: a failed append is logged.

use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::internal::InternalTopic;
use super::storage::{CleanupPolicy, Engine, Storage};
use super::{Broker, Operation, ResourceType, Result, now_ms};
use crate::event::{Record, TopicName};

/// The internal topic holding the audit log.
pub const TOPIC: &str = "__tidegate_audit";
/// How long audit records are kept.
const RETENTION_MS: i64 = 30 * 24 * 3_600_000;

/// One audited request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When, ms since the epoch (filled in when recorded).
    #[serde(default)]
    pub time_ms: i64,
    /// Who (the principal's name; `gateway` for the gateway's own work).
    #[serde(default)]
    pub principal: String,
    /// From where (the client's address).
    pub address: String,
    /// What (the action's name, e.g. `create_topic`, `add_acl`).
    pub action: String,
    /// The request's method and path.
    pub request: String,
    /// The answer's HTTP status.
    pub status: u16,
}

pub(super) async fn open(storage: &Arc<Engine>) -> Result<InternalTopic> {
    InternalTopic::open(storage, TOPIC, |c| {
        c.cleanup_policy = CleanupPolicy::Delete;
        c.retention_ms = RETENTION_MS;
    })
    .await
}

impl Broker {
    /// Records `entry` with the caller as principal and the current time.
    pub async fn record_audit(&self, mut entry: AuditEntry) {
        entry.time_ms = now_ms();
        entry.principal = self
            .caller()
            .map_or_else(|| "gateway".to_owned(), |p| p.name.clone());
        let record = Record {
            value: Some(Bytes::from(serde_json::to_vec(&entry).unwrap_or_default())),
            timestamp: entry.time_ms,
            ..Record::default()
        };
        if let Err(e) = self.inner.audit.append(std::slice::from_ref(&record)).await {
            tracing::warn!(error = %e, action = %entry.action, "Recording an audit entry failed.");
        }
    }

    /// Audit entries from `offset` (at most `max`), and the offset after them (Describe on
    /// the cluster).
    ///
    /// # Errors
    /// Denied; storage errors.
    pub async fn read_audit(&self, offset: u64, max: usize) -> Result<(Vec<AuditEntry>, u64)> {
        self.authorize(ResourceType::Cluster, "*", Operation::Describe)?;
        let name = TopicName::new(TOPIC)?;
        let storage = &self.inner.storage;
        let bounds = storage.offsets(&name, 0)?;
        let from = offset.clamp(bounds.start, bounds.end);
        let read = storage.read(&name, 0, from, max, 8 << 20).await?;
        let entries = read
            .records
            .iter()
            .filter_map(|r| r.record.value.as_ref())
            .filter_map(|v| serde_json::from_slice(v).ok())
            .collect();
        Ok((entries, read.next_offset.max(from)))
    }
}
