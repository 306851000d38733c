//! The registry's changes: registration, soft and permanent deletes, configuration and mode.
//! Each plans its entries under the write lock, then commits them (append, then apply).

use super::reads::{effective_config, effective_mode, find_version, view};
use super::state::{Entry, SchemaRecord, State, StoredNextId, StoredVersion, identity, keys};
use super::{Registry, parse_request};
use crate::event::SchemaId;
use crate::schema::error::{Error, Result};
use crate::schema::types::{Config, Mode, SchemaRequest, SchemaView, VersionSpec};

/// Longest subject name accepted.
const MAX_SUBJECT_LEN: usize = 1024;

fn check_subject(subject: &str) -> Result<()> {
    if subject.is_empty()
        || subject.len() > MAX_SUBJECT_LEN
        || subject.chars().any(char::is_control)
    {
        return Err(Error::InvalidSubject(format!(
            "'{subject}': a subject is 1 to {MAX_SUBJECT_LEN} bytes without control characters"
        )));
    }
    Ok(())
}

fn writable(state: &State, subject: &str) -> Result<Mode> {
    match effective_mode(state, Some(subject)) {
        Mode::Readonly | Mode::ReadonlyOverride => Err(Error::OperationNotPermitted(format!(
            "Subject {subject} is in read-only mode"
        ))),
        mode => Ok(mode),
    }
}

fn json_entry<T: serde::Serialize>(key: String, value: &T) -> Entry {
    Entry {
        key,
        // Our own plain structs: serialising them cannot fail.
        value: Some(serde_json::to_vec(value).unwrap_or_default()),
    }
}

fn version_entry(subject: &str, version: u32, record: &SchemaRecord, deleted: bool) -> Entry {
    json_entry(
        keys::version(subject, version),
        &StoredVersion {
            id: record.id.0,
            deleted,
            kind: record.kind,
            schema: record.canonical.to_string(),
            references: record.references.clone(),
            metadata: record.metadata.clone(),
            rule_set: record.rule_set.clone(),
        },
    )
}

enum Planned {
    Existing(SchemaView),
    New(Vec<Entry>, SchemaView),
}

impl Registry {
    /// Registers `request` under `subject` (API-COMPAT §3.4): an identical live version is
    /// returned as is; otherwise the schema must pass the subject's compatibility level, and
    /// gets the id it already has elsewhere or a new one.
    ///
    /// # Errors
    /// 409 incompatible, 42201 invalid, 42205 read-only or import rules, 42207, 42208, 42209.
    pub async fn register(&self, subject: &str, request: SchemaRequest) -> Result<SchemaView> {
        check_subject(subject)?;
        let _writer = self.write.lock().await;
        let planned = {
            let state = self.state.read();
            self.plan_register(&state, subject, request)?
        };
        match planned {
            Planned::Existing(view) => Ok(view),
            Planned::New(entries, view) => {
                self.commit(entries).await?;
                Ok(view)
            }
        }
    }

    fn plan_register(
        &self,
        state: &State,
        subject: &str,
        request: SchemaRequest,
    ) -> Result<Planned> {
        let mode = writable(state, subject)?;
        let import = mode == Mode::Import;
        if !import && request.id.is_some() {
            return Err(Error::OperationNotPermitted(format!(
                "Subject {subject} is not in import mode: a schema id may not be chosen"
            )));
        }
        let (parsed, canonical) =
            parse_request(state, request.kind, &request.schema, &request.references)?;
        crate::schema::rules::compile(request.rule_set.as_ref()).map_err(Error::InvalidRuleSet)?;
        let mut record = SchemaRecord {
            id: SchemaId(0),
            kind: request.kind,
            canonical: canonical.into(),
            references: request.references,
            metadata: request.metadata,
            rule_set: request.rule_set,
        };
        let ident = identity(&record);
        let known = state.by_identity.get(&ident).copied();
        let versions = state.versions(subject);
        if let (Some(id), Some(versions)) = (known, versions) {
            if let Some((v, e)) = versions
                .iter()
                .rev()
                .find(|(_, e)| !e.deleted && e.id == id)
            {
                if request.id.is_none_or(|wanted| wanted == id) {
                    let existing = state.schemas.get(&id).ok_or(Error::SchemaNotFound(id))?;
                    return Ok(Planned::Existing(view(subject, *v, *e, existing)));
                }
            }
        }
        let max_version = versions
            .and_then(|v| v.keys().next_back().copied())
            .unwrap_or(0);
        let version = match request.version {
            Some(v) if import => {
                if versions.is_some_and(|existing| existing.contains_key(&v)) {
                    return Err(Error::OperationNotPermitted(format!(
                        "Version {v} of subject {subject} already exists"
                    )));
                }
                v
            }
            Some(v) if v != max_version + 1 => {
                return Err(Error::OperationNotPermitted(format!(
                    "Subject {subject} is not in import mode: the next version is {}, not {v}",
                    max_version + 1
                )));
            }
            _ => max_version + 1,
        };
        if !import {
            let (level, policy) = effective_config(state, subject);
            let live: Vec<(u32, SchemaId)> = state.live(subject).into_iter().rev().collect();
            let messages = self.check_against(state, level, policy, &parsed, &live)?;
            if !messages.is_empty() {
                return Err(Error::Incompatible {
                    subject: subject.to_owned(),
                    messages,
                });
            }
        }
        let mut entries = Vec::with_capacity(2);
        record.id = match (request.id, known) {
            (Some(wanted), _) => {
                if let Some(holder) = state.schemas.get(&wanted) {
                    if identity(holder) != ident {
                        return Err(Error::IdConflict(wanted));
                    }
                }
                wanted
            }
            (None, Some(id)) => id,
            (None, None) => SchemaId(state.next_id.max(1)),
        };
        if record.id.0 >= state.next_id {
            let next_id =
                record.id.0.checked_add(1).ok_or_else(|| {
                    Error::OperationNotPermitted("schema ids are exhausted".into())
                })?;
            entries.push(json_entry(keys::NEXT_ID.into(), &StoredNextId { next_id }));
        }
        entries.push(version_entry(subject, version, &record, false));
        let view = view(
            subject,
            version,
            super::state::VersionEntry {
                id: record.id,
                deleted: false,
            },
            &record,
        );
        Ok(Planned::New(entries, view))
    }

    /// Deletes one version: soft (hidden, out of compatibility checks, id still resolves)
    /// or, after a soft delete, permanently.
    ///
    /// # Errors
    /// 40401, 40402, 40406, 40407, 42205, 42206.
    pub async fn delete_version(
        &self,
        subject: &str,
        spec: VersionSpec,
        permanent: bool,
    ) -> Result<u32> {
        let _writer = self.write.lock().await;
        let (entry, version) = {
            let state = self.state.read();
            writable(&state, subject)?;
            let (version, entry) = find_version(&state, subject, spec, permanent)?;
            if !state.referrers(subject, version).is_empty() {
                return Err(Error::Referenced {
                    subject: subject.to_owned(),
                    version,
                });
            }
            let record = state
                .schemas
                .get(&entry.id)
                .ok_or(Error::SchemaNotFound(entry.id))?;
            let planned = match (permanent, entry.deleted) {
                (false, true) => {
                    return Err(Error::VersionSoftDeleted {
                        subject: subject.to_owned(),
                        version,
                    });
                }
                (false, false) => version_entry(subject, version, record, true),
                (true, false) => {
                    return Err(Error::VersionNotSoftDeleted {
                        subject: subject.to_owned(),
                        version,
                    });
                }
                (true, true) => Entry {
                    key: keys::version(subject, version),
                    value: None,
                },
            };
            (planned, version)
        };
        self.commit(vec![entry]).await?;
        self.forget_unused();
        Ok(version)
    }

    /// Deletes a subject: soft (every live version) or, after a soft delete, permanently
    /// (every version, its configuration and mode). Returns the versions deleted.
    ///
    /// # Errors
    /// 40401, 40404, 40405, 42205, 42206.
    pub async fn delete_subject(&self, subject: &str, permanent: bool) -> Result<Vec<u32>> {
        let _writer = self.write.lock().await;
        let (entries, deleted) = {
            let state = self.state.read();
            writable(&state, subject)?;
            let versions = state
                .versions(subject)
                .ok_or_else(|| Error::SubjectNotFound(subject.to_owned()))?;
            let any_live = versions.values().any(|e| !e.deleted);
            if permanent && any_live {
                return Err(Error::SubjectNotSoftDeleted(subject.to_owned()));
            }
            if !permanent && !any_live {
                return Err(Error::SubjectSoftDeleted(subject.to_owned()));
            }
            let mut entries = Vec::new();
            let mut deleted = Vec::new();
            for (version, entry) in versions {
                if !permanent && entry.deleted {
                    continue;
                }
                if !state.referrers(subject, *version).is_empty() {
                    return Err(Error::Referenced {
                        subject: subject.to_owned(),
                        version: *version,
                    });
                }
                let record = state
                    .schemas
                    .get(&entry.id)
                    .ok_or(Error::SchemaNotFound(entry.id))?;
                entries.push(if permanent {
                    Entry {
                        key: keys::version(subject, *version),
                        value: None,
                    }
                } else {
                    version_entry(subject, *version, record, true)
                });
                deleted.push(*version);
            }
            if permanent {
                let scope = Some(subject.to_owned());
                if state.config.contains_key(&scope) {
                    entries.push(Entry {
                        key: keys::config(Some(subject)),
                        value: None,
                    });
                }
                if state.mode.contains_key(&scope) {
                    entries.push(Entry {
                        key: keys::mode(Some(subject)),
                        value: None,
                    });
                }
            }
            (entries, deleted)
        };
        self.commit(entries).await?;
        self.forget_unused();
        Ok(deleted)
    }

    /// Drops cached parses of schemas no version uses any more.
    fn forget_unused(&self) {
        let state = self.state.read();
        self.parsed
            .lock()
            .retain(|id, _| state.schemas.contains_key(id));
        self.rules
            .lock()
            .retain(|id, _| state.schemas.contains_key(id));
    }

    /// Sets the configuration of `subject` (or the global one); unset fields keep theirs.
    ///
    /// # Errors
    /// Store failures.
    pub async fn set_config(&self, subject: Option<&str>, config: Config) -> Result<Config> {
        if let Some(s) = subject {
            check_subject(s)?;
        }
        let _writer = self.write.lock().await;
        let merged = {
            let state = self.state.read();
            let current = state
                .config
                .get(&subject.map(str::to_owned))
                .copied()
                .unwrap_or_default();
            Config {
                compatibility: config.compatibility.or(current.compatibility),
                policy: config.policy.or(current.policy),
            }
        };
        self.commit(vec![json_entry(keys::config(subject), &merged)])
            .await?;
        Ok(merged)
    }

    /// Removes the configuration of `subject` (it follows the global one again) or resets the
    /// global one; returns what was there.
    ///
    /// # Errors
    /// 40401 for a subject the registry does not know at all.
    pub async fn delete_config(&self, subject: Option<&str>) -> Result<Config> {
        let _writer = self.write.lock().await;
        let previous = {
            let state = self.state.read();
            let scope = subject.map(str::to_owned);
            if let Some(s) = subject {
                if state.versions(s).is_none() && !state.config.contains_key(&scope) {
                    return Err(Error::SubjectNotFound(s.to_owned()));
                }
            }
            state.config.get(&scope).copied()
        };
        let previous = match previous {
            Some(previous) => {
                self.commit(vec![Entry {
                    key: keys::config(subject),
                    value: None,
                }])
                .await?;
                previous
            }
            None => self.config(subject, true)?,
        };
        Ok(previous)
    }

    /// Sets the mode of `subject` (or the global one). Entering IMPORT where schemas exist
    /// needs `force`.
    ///
    /// # Errors
    /// 42205.
    pub async fn set_mode(&self, subject: Option<&str>, mode: Mode, force: bool) -> Result<Mode> {
        if let Some(s) = subject {
            check_subject(s)?;
        }
        let _writer = self.write.lock().await;
        {
            let state = self.state.read();
            let occupied = match subject {
                None => !state.subjects.is_empty(),
                Some(s) => state.versions(s).is_some(),
            };
            if mode == Mode::Import && occupied && !force {
                return Err(Error::OperationNotPermitted(
                    "Cannot import since found existing subjects".into(),
                ));
            }
        }
        self.commit(vec![json_entry(keys::mode(subject), &mode)])
            .await?;
        Ok(mode)
    }

    /// Removes the mode of `subject` (or resets the global one); returns what was there.
    ///
    /// # Errors
    /// 40401 for a subject the registry does not know at all.
    pub async fn delete_mode(&self, subject: Option<&str>) -> Result<Mode> {
        let _writer = self.write.lock().await;
        let previous = {
            let state = self.state.read();
            let scope = subject.map(str::to_owned);
            if let Some(s) = subject {
                if state.versions(s).is_none() && !state.mode.contains_key(&scope) {
                    return Err(Error::SubjectNotFound(s.to_owned()));
                }
            }
            state.mode.get(&scope).copied()
        };
        match previous {
            Some(previous) => {
                self.commit(vec![Entry {
                    key: keys::mode(subject),
                    value: None,
                }])
                .await?;
                Ok(previous)
            }
            None => self.mode(subject, true),
        }
    }
}
