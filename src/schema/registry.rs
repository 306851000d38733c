//! The schema registry: subjects, versions, global ids, compatibility configuration and
//! modes (API-COMPAT §3.4), over a [`Store`] the broker provides (`__schemas`).
//!
//! Reads take a shared lock on the in-memory [`State`]. Writes are serialised: plan the
//! entries against the state, append them to the store, then apply them with the same
//! [`State::apply`] replay uses — a failed append changes nothing, and a restarted registry
//! is exactly the one that was written. Parsed schemas are cached by id (ids are immutable).

mod reads;
pub use reads::Deleted;
mod state;
mod writes;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

pub use state::Entry;
use state::{SchemaRecord, State};

use super::error::{Error, Result};
use super::parsed::{self, Parsed};
use super::rules::{self, Rules};
use super::types::{Reference, SchemaKind};
use crate::event::SchemaId;

/// Largest schema text accepted (42209 beyond).
pub const MAX_SCHEMA_BYTES: usize = 1 << 20;

/// Where the registry's entries are kept.
pub trait Store: Send + Sync + 'static {
    /// Appends `entries` durably and all at once, or fails having appended none.
    fn append<'a>(
        &'a self,
        entries: &'a [Entry],
    ) -> Pin<Box<dyn Future<Output = std::result::Result<(), String>> + Send + 'a>>;
}

/// The registry.
pub struct Registry {
    state: RwLock<State>,
    write: tokio::sync::Mutex<()>,
    store: Arc<dyn Store>,
    parsed: Mutex<HashMap<SchemaId, Arc<Parsed>>>,
    rules: Mutex<HashMap<SchemaId, Arc<Rules>>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").finish_non_exhaustive()
    }
}

impl Registry {
    /// An empty registry writing to `store`; feed it the stored entries with [`Self::replay`]
    /// before serving.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            state: RwLock::new(State::default()),
            write: tokio::sync::Mutex::new(()),
            store,
            parsed: Mutex::new(HashMap::new()),
            rules: Mutex::new(HashMap::new()),
        }
    }

    /// Applies one stored entry (at start, in offset order).
    ///
    /// # Errors
    /// A malformed entry.
    pub fn replay(&self, entry: &Entry) -> std::result::Result<(), String> {
        self.state.write().apply(entry)
    }

    /// Appends `entries`, then applies them.
    async fn commit(&self, entries: Vec<Entry>) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        self.store.append(&entries).await.map_err(Error::Store)?;
        let mut state = self.state.write();
        for entry in &entries {
            // Entries were built from the state a moment ago; one that does not apply is a bug
            // to report, not a reason to stop applying the rest.
            if let Err(e) = state.apply(entry) {
                tracing::error!(error = %e, "A schema registry entry did not apply.");
            }
        }
        Ok(())
    }

    /// The parsed form of a registered schema (cached).
    fn parsed_record(&self, state: &State, record: &SchemaRecord) -> Result<Arc<Parsed>> {
        if let Some(p) = self.parsed.lock().get(&record.id) {
            return Ok(Arc::clone(p));
        }
        let references = reference_texts(state, &record.references)?;
        let (parsed, _) = parsed::parse(record.kind, &record.canonical, &references)
            .map_err(|e| Error::InvalidSchema(format!("stored schema {}: {e}", record.id)))?;
        let parsed = Arc::new(parsed);
        self.parsed.lock().insert(record.id, Arc::clone(&parsed));
        Ok(parsed)
    }

    /// The parsed schema with `id`.
    ///
    /// # Errors
    /// 40403 for an unknown id.
    pub fn parsed_by_id(&self, id: SchemaId) -> Result<Arc<Parsed>> {
        let state = self.state.read();
        let record = state.schemas.get(&id).ok_or(Error::SchemaNotFound(id))?;
        self.parsed_record(&state, record)
    }
}

impl Registry {
    /// The compiled data-contract rules of the schema with `id` (cached).
    ///
    /// # Errors
    /// 40403 for an unknown id, 42210 for a stored rule set that no longer compiles.
    pub fn rules_by_id(&self, id: SchemaId) -> Result<Arc<Rules>> {
        if let Some(r) = self.rules.lock().get(&id) {
            return Ok(Arc::clone(r));
        }
        let rule_set = {
            let state = self.state.read();
            let record = state.schemas.get(&id).ok_or(Error::SchemaNotFound(id))?;
            record.rule_set.clone()
        };
        let mut compiled = rules::compile(rule_set.as_ref()).map_err(Error::InvalidRuleSet)?;
        // The fast path captures an Avro record's enum fields as symbol indexes.
        if !compiled.is_empty()
            && let Ok(parsed) = self.parsed_by_id(id)
            && let Parsed::Avro(avro) = &*parsed
            && let Some(plan) = &avro.plan
        {
            compiled = compiled.with_enums(|field| plan.enum_symbols(field));
        }
        let compiled = Arc::new(compiled);
        self.rules.lock().insert(id, Arc::clone(&compiled));
        Ok(compiled)
    }
}

/// Parses a request's schema with its references resolved against `state`.
fn parse_request(
    state: &State,
    kind: SchemaKind,
    text: &str,
    references: &[Reference],
) -> Result<(Parsed, String)> {
    if text.len() > MAX_SCHEMA_BYTES {
        return Err(Error::SchemaTooLarge {
            size: text.len(),
            limit: MAX_SCHEMA_BYTES,
        });
    }
    if kind == SchemaKind::Protobuf {
        return Err(Error::InvalidSchema("PROTOBUF is not supported yet".into()));
    }
    let texts = reference_texts(state, references)?;
    parsed::parse(kind, text, &texts).map_err(|e| {
        Error::InvalidSchema(format!(
            "{} schema {}: {e}",
            kind.as_str(),
            abbreviate(text)
        ))
    })
}

fn abbreviate(text: &str) -> String {
    let mut end = text.len().min(200);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    if end < text.len() {
        format!("{}…", &text[..end])
    } else {
        text.to_owned()
    }
}

/// Most schemas one schema may reach through references (apache-avro's parser recurses
/// through them: an unbounded chain would overflow the stack).
pub const MAX_REFERENCES: usize = 100;

/// `(name, text)` of every schema reachable through `references`, transitively, each once.
fn reference_texts(state: &State, references: &[Reference]) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut pending: Vec<Reference> = references.iter().rev().cloned().collect();
    while let Some(reference) = pending.pop() {
        if !seen.insert((reference.subject.clone(), reference.version)) {
            continue;
        }
        if out.len() == MAX_REFERENCES {
            return Err(Error::InvalidSchema(format!(
                "more than {MAX_REFERENCES} schemas reached through references"
            )));
        }
        let record = state
            .versions(&reference.subject)
            .and_then(|v| v.get(&reference.version))
            .and_then(|e| state.schemas.get(&e.id))
            .ok_or_else(|| {
                Error::InvalidSchema(format!(
                    "reference '{}' names subject '{}' version {}, which does not exist",
                    reference.name, reference.subject, reference.version
                ))
            })?;
        out.push((reference.name.clone(), record.canonical.to_string()));
        pending.extend(record.references.iter().rev().cloned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
