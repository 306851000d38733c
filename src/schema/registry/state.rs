//! The registry's state and the one function that changes it: [`State::apply`] of a persisted
//! entry. Live writes and replay at start both go through it, so a replayed registry is the
//! one that was written. Owns no I/O and no parsing.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::event::SchemaId;
use crate::schema::types::{Config, Mode, Reference, SchemaKind};

/// One registered schema (shared by every subject version with the same identity).
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaRecord {
    pub id: SchemaId,
    pub kind: SchemaKind,
    pub canonical: Arc<str>,
    pub references: Vec<Reference>,
    pub metadata: Option<serde_json::Value>,
    pub rule_set: Option<serde_json::Value>,
}

/// One version of a subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionEntry {
    pub id: SchemaId,
    pub deleted: bool,
}

/// The persisted form of a subject version (the schema inline, so compaction may drop
/// anything else).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredVersion {
    pub id: u32,
    #[serde(default)]
    pub deleted: bool,
    #[serde(rename = "schemaType", default)]
    pub kind: SchemaKind,
    pub schema: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
    #[serde(rename = "ruleSet", default, skip_serializing_if = "Option::is_none")]
    pub rule_set: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct StoredNextId {
    pub next_id: u32,
}

/// A persisted change: a key of `__schemas` and its JSON value (`None` deletes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: Option<Vec<u8>>,
}

/// Keys of `__schemas`.
pub mod keys {
    pub fn version(subject: &str, version: u32) -> String {
        format!("schema/{subject}/{version:010}")
    }
    pub fn config(subject: Option<&str>) -> String {
        subject.map_or_else(|| "config".into(), |s| format!("config/{s}"))
    }
    pub fn mode(subject: Option<&str>) -> String {
        subject.map_or_else(|| "mode".into(), |s| format!("mode/{s}"))
    }
    pub const NEXT_ID: &str = "next_id";
}

/// Everything the registry knows.
#[derive(Debug, Default)]
pub struct State {
    pub subjects: BTreeMap<String, BTreeMap<u32, VersionEntry>>,
    pub schemas: HashMap<SchemaId, Arc<SchemaRecord>>,
    /// How many versions (live or soft-deleted) use each id.
    users: HashMap<SchemaId, usize>,
    pub by_identity: HashMap<[u8; 32], SchemaId>,
    pub next_id: u32,
    pub config: HashMap<Option<String>, Config>,
    pub mode: HashMap<Option<String>, Mode>,
}

impl State {
    /// Applies one persisted entry. Errors name a malformed entry (the caller logs it and
    /// fails the start: a registry silently missing versions would hand out wrong ids).
    pub fn apply(&mut self, entry: &Entry) -> Result<(), String> {
        let key = entry.key.as_str();
        let value = entry.value.as_deref();
        let bad = |e: serde_json::Error| format!("entry '{key}': {e}");
        if key == keys::NEXT_ID {
            if let Some(v) = value {
                let next: StoredNextId = serde_json::from_slice(v).map_err(bad)?;
                self.next_id = self.next_id.max(next.next_id);
            }
        } else if let Some(rest) = key.strip_prefix("schema/") {
            let (subject, version) = rest
                .rsplit_once('/')
                .and_then(|(s, v)| Some((s, v.parse::<u32>().ok()?)))
                .ok_or_else(|| format!("entry '{key}': malformed key"))?;
            match value {
                Some(v) => {
                    let stored: StoredVersion = serde_json::from_slice(v).map_err(bad)?;
                    self.put_version(subject, version, stored);
                }
                None => self.remove_version(subject, version),
            }
        } else if let Some(scope) = scoped(key, "config") {
            match value {
                Some(v) => {
                    let config: Config = serde_json::from_slice(v).map_err(bad)?;
                    self.config.insert(scope, config);
                }
                None => {
                    self.config.remove(&scope);
                }
            }
        } else if let Some(scope) = scoped(key, "mode") {
            match value {
                Some(v) => {
                    let mode: Mode = serde_json::from_slice(v).map_err(bad)?;
                    self.mode.insert(scope, mode);
                }
                None => {
                    self.mode.remove(&scope);
                }
            }
        } else {
            return Err(format!("entry '{key}': unknown key"));
        }
        Ok(())
    }

    fn put_version(&mut self, subject: &str, version: u32, stored: StoredVersion) {
        let id = SchemaId(stored.id);
        let versions = self.subjects.entry(subject.to_owned()).or_default();
        let previous = versions.insert(
            version,
            VersionEntry {
                id,
                deleted: stored.deleted,
            },
        );
        match previous {
            Some(p) if p.id == id => {}
            Some(p) => {
                self.release(p.id);
                *self.users.entry(id).or_default() += 1;
            }
            None => *self.users.entry(id).or_default() += 1,
        }
        self.next_id = self.next_id.max(stored.id.saturating_add(1));
        if !self.schemas.contains_key(&id) {
            let record = SchemaRecord {
                id,
                kind: stored.kind,
                canonical: stored.schema.into(),
                references: stored.references,
                metadata: stored.metadata,
                rule_set: stored.rule_set,
            };
            self.by_identity.insert(identity(&record), id);
            self.schemas.insert(id, Arc::new(record));
        }
    }

    fn remove_version(&mut self, subject: &str, version: u32) {
        let Some(versions) = self.subjects.get_mut(subject) else {
            return;
        };
        let removed = versions.remove(&version);
        if versions.is_empty() {
            self.subjects.remove(subject);
        }
        if let Some(removed) = removed {
            self.release(removed.id);
        }
    }

    /// Forgets a schema once no version uses it (its id is still never reused: `next_id`).
    fn release(&mut self, id: SchemaId) {
        let Some(count) = self.users.get_mut(&id) else {
            return;
        };
        *count -= 1;
        if *count == 0 {
            self.users.remove(&id);
            if let Some(record) = self.schemas.remove(&id) {
                self.by_identity.remove(&identity(&record));
            }
        }
    }

    /// A subject's versions, newest last; `None` when it has none at all.
    pub fn versions(&self, subject: &str) -> Option<&BTreeMap<u32, VersionEntry>> {
        self.subjects.get(subject)
    }

    /// Live versions of `subject`, oldest first.
    pub fn live(&self, subject: &str) -> Vec<(u32, SchemaId)> {
        self.subjects
            .get(subject)
            .map_or_else(Vec::new, |versions| {
                versions
                    .iter()
                    .filter(|(_, e)| !e.deleted)
                    .map(|(v, e)| (*v, e.id))
                    .collect()
            })
    }

    /// Every live or soft-deleted version whose schema references `(subject, version)`.
    pub fn referrers(&self, subject: &str, version: u32) -> Vec<SchemaId> {
        let mut ids: Vec<SchemaId> = self
            .schemas
            .values()
            .filter(|r| {
                r.references
                    .iter()
                    .any(|x| x.subject == subject && x.version == version)
            })
            .map(|r| r.id)
            .collect();
        ids.sort();
        ids
    }
}

fn scoped(key: &str, prefix: &str) -> Option<Option<String>> {
    if key == prefix {
        return Some(None);
    }
    key.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('/'))
        .map(|s| Some(s.to_owned()))
}

/// What makes two registrations the same schema: format, canonical text, references,
/// metadata and rule set (Confluent hashes the same fields).
pub fn identity(record: &SchemaRecord) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(record.kind.as_str());
    hash.update([0]);
    hash.update(record.canonical.as_bytes());
    for r in &record.references {
        hash.update([1]);
        hash.update(r.name.as_bytes());
        hash.update([0]);
        hash.update(r.subject.as_bytes());
        hash.update(r.version.to_be_bytes());
    }
    for extra in [&record.metadata, &record.rule_set] {
        hash.update([2]);
        if let Some(v) = extra {
            hash.update(crate::schema::json::canonical(v).as_bytes());
        }
    }
    hash.finalize().into()
}
