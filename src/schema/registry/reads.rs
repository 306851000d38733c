//! The registry's queries: subjects, versions, schemas by id, references, configuration and
//! mode, and lookups and compatibility tests that change nothing.

use std::sync::Arc;

use super::state::{SchemaRecord, State, VersionEntry, identity};
use super::{Registry, parse_request};
use crate::event::SchemaId;
use crate::schema::compat::{self, Existing};
use crate::schema::error::{Error, Result};
use crate::schema::parsed::Parsed;
use crate::schema::types::{Config, Level, Mode, Policy, SchemaRequest, SchemaView, VersionSpec};

/// Which versions a listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Deleted {
    /// Live only (the default).
    #[default]
    Exclude,
    /// Live and soft-deleted.
    Include,
    /// Soft-deleted only.
    Only,
}

impl Deleted {
    /// From the `deleted` and `deletedOnly` query flags.
    #[must_use]
    pub fn from_flags(deleted: bool, deleted_only: bool) -> Self {
        match (deleted, deleted_only) {
            (_, true) => Self::Only,
            (true, false) => Self::Include,
            (false, false) => Self::Exclude,
        }
    }

    fn shows(self, entry: &VersionEntry) -> bool {
        match self {
            Self::Exclude => !entry.deleted,
            Self::Include => true,
            Self::Only => entry.deleted,
        }
    }
}

pub(super) fn view(
    subject: &str,
    version: u32,
    entry: VersionEntry,
    record: &SchemaRecord,
) -> SchemaView {
    SchemaView {
        subject: subject.to_owned(),
        version,
        id: record.id,
        kind: record.kind,
        schema: Arc::clone(&record.canonical),
        references: record.references.clone(),
        metadata: record.metadata.clone(),
        rule_set: record.rule_set.clone(),
        deleted: entry.deleted,
    }
}

/// The version `spec` names in `subject`: `(version, entry)`.
pub(super) fn find_version(
    state: &State,
    subject: &str,
    spec: VersionSpec,
    include_deleted: bool,
) -> Result<(u32, VersionEntry)> {
    let versions = state
        .versions(subject)
        .filter(|v| include_deleted || v.values().any(|e| !e.deleted))
        .ok_or_else(|| Error::SubjectNotFound(subject.to_owned()))?;
    let found = match spec {
        VersionSpec::Latest => versions
            .iter()
            .rev()
            .find(|(_, e)| include_deleted || !e.deleted),
        VersionSpec::Number(n) => versions
            .get_key_value(&n)
            .filter(|(_, e)| include_deleted || !e.deleted),
    };
    let spec_text = match spec {
        VersionSpec::Latest => "latest".to_owned(),
        VersionSpec::Number(n) => n.to_string(),
    };
    found
        .map(|(v, e)| (*v, *e))
        .ok_or(Error::VersionNotFound(spec_text))
}

impl Registry {
    /// Subjects, sorted, optionally only those starting with `prefix`.
    #[must_use]
    pub fn subjects(&self, prefix: &str, deleted: Deleted) -> Vec<String> {
        let state = self.state.read();
        state
            .subjects
            .iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .filter(|(_, versions)| match deleted {
                Deleted::Exclude => versions.values().any(|e| !e.deleted),
                Deleted::Include => true,
                Deleted::Only => versions.values().all(|e| e.deleted),
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// A subject's version numbers, ascending.
    ///
    /// # Errors
    /// 40401 when none are shown.
    pub fn versions(&self, subject: &str, deleted: Deleted) -> Result<Vec<u32>> {
        let state = self.state.read();
        let versions: Vec<u32> = state
            .versions(subject)
            .map(|v| {
                v.iter()
                    .filter(|(_, e)| deleted.shows(e))
                    .map(|(n, _)| *n)
                    .collect()
            })
            .unwrap_or_default();
        if versions.is_empty() {
            return Err(Error::SubjectNotFound(subject.to_owned()));
        }
        Ok(versions)
    }

    /// One version of a subject.
    ///
    /// # Errors
    /// 40401, 40402.
    pub fn version(&self, subject: &str, spec: VersionSpec, deleted: bool) -> Result<SchemaView> {
        let state = self.state.read();
        let (version, entry) = find_version(&state, subject, spec, deleted)?;
        let record = state
            .schemas
            .get(&entry.id)
            .ok_or(Error::SchemaNotFound(entry.id))?;
        Ok(view(subject, version, entry, record))
    }

    /// The id of `subject`'s newest live version, without building its view.
    #[must_use]
    pub fn latest_id(&self, subject: &str) -> Option<SchemaId> {
        let state = self.state.read();
        state
            .versions(subject)?
            .values()
            .rev()
            .find(|e| !e.deleted)
            .map(|e| e.id)
    }

    /// Whether `subject` has a version (live or soft-deleted) holding `id`; looks at that
    /// subject only.
    #[must_use]
    pub fn subject_has(&self, subject: &str, id: SchemaId) -> bool {
        let state = self.state.read();
        state
            .versions(subject)
            .is_some_and(|versions| versions.values().any(|e| e.id == id))
    }

    /// Ids of the schemas that reference a version.
    ///
    /// # Errors
    /// 40401, 40402.
    pub fn referenced_by(&self, subject: &str, spec: VersionSpec) -> Result<Vec<SchemaId>> {
        let state = self.state.read();
        let (version, _) = find_version(&state, subject, spec, true)?;
        Ok(state.referrers(subject, version))
    }

    /// The schema with `id` (subject and version left empty).
    ///
    /// # Errors
    /// 40403.
    pub fn schema(&self, id: SchemaId) -> Result<SchemaView> {
        let state = self.state.read();
        let record = state.schemas.get(&id).ok_or(Error::SchemaNotFound(id))?;
        Ok(view("", 0, VersionEntry { id, deleted: false }, record))
    }

    /// `(subject, version)` pairs that use `id`.
    ///
    /// # Errors
    /// 40403.
    pub fn uses_of(&self, id: SchemaId, deleted: bool) -> Result<Vec<(String, u32)>> {
        let state = self.state.read();
        if !state.schemas.contains_key(&id) {
            return Err(Error::SchemaNotFound(id));
        }
        Ok(state
            .subjects
            .iter()
            .flat_map(|(s, versions)| {
                versions
                    .iter()
                    .filter(move |(_, e)| e.id == id && (deleted || !e.deleted))
                    .map(move |(v, _)| (s.clone(), *v))
            })
            .collect())
    }

    /// The configuration of `subject` (or the global one for `None`); a subject without its
    /// own answers 40408 unless `default_to_global`. The global one always has a level.
    ///
    /// # Errors
    /// 40408.
    pub fn config(&self, subject: Option<&str>, default_to_global: bool) -> Result<Config> {
        let state = self.state.read();
        let global = global_config(&state);
        match subject {
            None => Ok(global),
            Some(s) => match state.config.get(&Some(s.to_owned())) {
                Some(c) => Ok(*c),
                None if default_to_global => Ok(global),
                None => Err(Error::NoSubjectConfig(s.to_owned())),
            },
        }
    }

    /// The mode of `subject` (or the global one); 40409 for a subject without its own unless
    /// `default_to_global`.
    ///
    /// # Errors
    /// 40409.
    pub fn mode(&self, subject: Option<&str>, default_to_global: bool) -> Result<Mode> {
        let state = self.state.read();
        let global = state.mode.get(&None).copied().unwrap_or_default();
        match subject {
            None => Ok(global),
            Some(s) => match state.mode.get(&Some(s.to_owned())) {
                Some(m) => Ok(*m),
                None if default_to_global => Ok(global),
                None => Err(Error::NoSubjectMode(s.to_owned())),
            },
        }
    }

    /// Finds a version of `subject` holding the same schema as `request`: the same identity,
    /// else the same canonical text (ignoring metadata and rule set).
    ///
    /// # Errors
    /// 40401 (unknown subject), 40403 (no match), 42201 (invalid schema).
    pub fn lookup(
        &self,
        subject: &str,
        request: &SchemaRequest,
        deleted: bool,
    ) -> Result<SchemaView> {
        let state = self.state.read();
        let versions = state
            .versions(subject)
            .filter(|v| deleted || v.values().any(|e| !e.deleted))
            .ok_or_else(|| Error::SubjectNotFound(subject.to_owned()))?;
        let (_, canonical) =
            parse_request(&state, request.kind, &request.schema, &request.references)?;
        let candidate = SchemaRecord {
            id: SchemaId(0),
            kind: request.kind,
            canonical: canonical.into(),
            references: request.references.clone(),
            metadata: request.metadata.clone(),
            rule_set: request.rule_set.clone(),
        };
        let wanted = state.by_identity.get(&identity(&candidate)).copied();
        let shown = |e: &VersionEntry| deleted || !e.deleted;
        let by_identity = versions
            .iter()
            .rev()
            .find(|(_, e)| shown(e) && Some(e.id) == wanted);
        let by_text = || {
            versions.iter().rev().find(|(_, e)| {
                shown(e)
                    && state.schemas.get(&e.id).is_some_and(|r| {
                        r.kind == candidate.kind
                            && r.canonical == candidate.canonical
                            && r.references == candidate.references
                    })
            })
        };
        let (version, entry) = by_identity
            .or_else(by_text)
            .ok_or(Error::SchemaNotRegistered)?;
        let record = state
            .schemas
            .get(&entry.id)
            .ok_or(Error::SchemaNotFound(entry.id))?;
        Ok(view(subject, *version, *entry, record))
    }

    /// Tests `request` against `subject` under its level: against one version when `spec`
    /// names it, else against what the level requires. Empty means compatible.
    ///
    /// # Errors
    /// 40401/40402 for a named version that does not exist, 42201 for an invalid schema.
    pub fn test_compatibility(
        &self,
        subject: &str,
        request: &SchemaRequest,
        spec: Option<VersionSpec>,
    ) -> Result<Vec<String>> {
        let state = self.state.read();
        let (candidate, _) =
            parse_request(&state, request.kind, &request.schema, &request.references)?;
        let (level, policy) = effective_config(&state, subject);
        let chosen: Vec<(u32, SchemaId)> = match spec {
            Some(VersionSpec::Latest) if state.live(subject).is_empty() => Vec::new(),
            Some(spec) => {
                let (v, e) = find_version(&state, subject, spec, false)?;
                vec![(v, e.id)]
            }
            None => state.live(subject).into_iter().rev().collect(),
        };
        // One named version is checked in the level's direction, whatever its transitivity.
        let level = if spec.is_some() {
            non_transitive(level)
        } else {
            level
        };
        self.check_against(&state, level, policy, &candidate, &chosen)
    }

    pub(super) fn check_against(
        &self,
        state: &State,
        level: Level,
        policy: Policy,
        candidate: &Parsed,
        versions: &[(u32, SchemaId)],
    ) -> Result<Vec<String>> {
        let mut parsed = Vec::with_capacity(versions.len());
        for (version, id) in versions {
            let record = state.schemas.get(id).ok_or(Error::SchemaNotFound(*id))?;
            parsed.push((
                *version,
                Arc::clone(&record.canonical),
                self.parsed_record(state, record)?,
            ));
        }
        let existing: Vec<Existing<'_>> = parsed
            .iter()
            .map(|(version, text, parsed)| Existing {
                version: *version,
                text,
                parsed,
            })
            .collect();
        Ok(compat::check(level, policy, candidate, &existing))
    }
}

fn non_transitive(level: Level) -> Level {
    match level {
        Level::BackwardTransitive => Level::Backward,
        Level::ForwardTransitive => Level::Forward,
        Level::FullTransitive => Level::Full,
        other => other,
    }
}

fn global_config(state: &State) -> Config {
    let stored = state.config.get(&None).copied().unwrap_or_default();
    Config {
        compatibility: Some(stored.compatibility.unwrap_or_default()),
        policy: stored.policy,
    }
}

/// The level and policy that apply to `subject`.
pub(super) fn effective_config(state: &State, subject: &str) -> (Level, Policy) {
    let global = global_config(state);
    let own = state
        .config
        .get(&Some(subject.to_owned()))
        .copied()
        .unwrap_or_default();
    (
        own.compatibility
            .or(global.compatibility)
            .unwrap_or_default(),
        own.policy.or(global.policy).unwrap_or_default(),
    )
}

/// The mode writes to `subject` obey.
pub(super) fn effective_mode(state: &State, subject: Option<&str>) -> Mode {
    let global = state.mode.get(&None).copied().unwrap_or_default();
    if global == Mode::ReadonlyOverride {
        return global;
    }
    subject
        .and_then(|s| state.mode.get(&Some(s.to_owned())).copied())
        .unwrap_or(global)
}
