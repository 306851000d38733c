//! Who is calling: principals, and API keys that prove one. Keys live in the internal
//! compacted topic `__tidegate_auth` (key `key/{id}`, JSON value, tombstone on revoke) with
//! only an Argon2id hash of their secret; the secret is shown once, at creation.
//!
//! Owns creating, listing, revoking and checking keys. A key is `<id>.<secret>`: the id finds
//! the stored hash, Argon2id checks the secret (deliberately slow, so it runs on the blocking
//! pool), and a verified key is remembered by its SHA-256 until it is revoked or expires, so a
//! client's later requests cost a hash, not an Argon2 run. Front ends extract credentials and
//! must not check them themselves; what a principal may do is for the ACLs (not here yet).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use bytes::Bytes;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::internal::InternalTopic;
use super::storage::{CleanupPolicy, Engine};
use super::{Broker, Error, Result, now_ms};
use crate::event::Record;

/// The internal topic holding API keys.
pub const TOPIC: &str = "__tidegate_auth";
/// Most verified keys remembered (the cache is cleared when it is full).
const MAX_CACHED: usize = 10_000;
/// Longest principal name accepted.
pub const MAX_PRINCIPAL_LEN: usize = 255;

/// An authenticated caller. The default is an anonymous caller with no groups, key or
/// expiry, which literals complete with `..Principal::default()`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Principal {
    /// Its name (`User:<name>` in ACL terms).
    pub name: String,
    /// Its groups (`Group:<name>` in ACL terms).
    pub groups: Vec<String>,
    /// May do everything, manage keys included (the admin token).
    pub superuser: bool,
    /// The API key it authenticated with: open streams end when that key is revoked or
    /// expires.
    pub key_id: Option<String>,
    /// When its credentials expire (a token's `exp`), ms since the epoch: open streams end
    /// then.
    pub expires_ms: Option<i64>,
}

/// A stored key, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Public id (the part before the dot).
    pub id: String,
    /// The principal it proves.
    pub principal: String,
    /// The principal's groups.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Creation time, ms since the epoch.
    pub created_ms: i64,
    /// Expiry, ms since the epoch; `None`: never.
    #[serde(default)]
    pub expires_ms: Option<i64>,
}

#[derive(Serialize, Deserialize)]
struct StoredKey {
    #[serde(flatten)]
    key: ApiKey,
    /// Argon2id PHC string of the secret.
    hash: String,
}

pub(super) struct Keys {
    topic: InternalTopic,
    table: Mutex<BTreeMap<String, StoredKey>>,
    /// SHA-256 of a verified key → its id.
    verified: Mutex<HashMap<[u8; 32], String>>,
    write: tokio::sync::Mutex<()>,
}

impl Keys {
    pub(super) async fn open(storage: &Arc<Engine>, acls: &super::acl::Acls) -> Result<Self> {
        let topic = InternalTopic::open(storage, TOPIC, |c| {
            c.cleanup_policy = CleanupPolicy::Compact;
        })
        .await?;
        let mut table = BTreeMap::new();
        topic
            .replay(|key, value: Option<serde_json::Value>, _| {
                let text = String::from_utf8_lossy(&key);
                if text.starts_with("acl/") {
                    acls.replay(&text, value.and_then(|v| serde_json::from_value(v).ok()));
                    return;
                }
                let Some(id) = text.strip_prefix("key/") else {
                    return;
                };
                let value: Option<StoredKey> = value.and_then(|v| serde_json::from_value(v).ok());
                match value {
                    Some(stored) => {
                        table.insert(id.to_owned(), stored);
                    }
                    None => {
                        table.remove(id);
                    }
                }
            })
            .await?;
        Ok(Self {
            topic,
            table: Mutex::new(table),
            verified: Mutex::default(),
            write: tokio::sync::Mutex::new(()),
        })
    }

    /// Appends records to `__tidegate_auth` (ACLs share the topic).
    pub(super) async fn append(&self, records: &[Record]) -> Result<()> {
        self.topic.append(records).await?;
        Ok(())
    }

    async fn persist(&self, id: &str, value: Option<&StoredKey>) -> Result<()> {
        let value = value.map(|v| Bytes::from(serde_json::to_vec(v).unwrap_or_default()));
        let record = Record {
            key: Some(Bytes::from(format!("key/{id}"))),
            value,
            timestamp: now_ms(),
            ..Record::default()
        };
        self.topic.append(std::slice::from_ref(&record)).await?;
        Ok(())
    }
}

fn random_text(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| Error::Auth(format!("no randomness: {e}")))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Broker {
    /// Creates a key for `principal`; returns it and the full key text, which is not stored.
    ///
    /// # Errors
    /// An invalid principal or expiry; storage errors.
    pub async fn create_api_key(
        &self,
        principal: &str,
        groups: Vec<String>,
        description: &str,
        expires_ms: Option<i64>,
    ) -> Result<(ApiKey, String)> {
        self.authorize(super::ResourceType::Cluster, "*", super::Operation::Alter)?;
        if principal.is_empty()
            || principal.len() > MAX_PRINCIPAL_LEN
            || principal.chars().any(char::is_control)
        {
            return Err(Error::Auth(format!(
                "principal must be 1 to {MAX_PRINCIPAL_LEN} bytes without control characters"
            )));
        }
        let now = now_ms();
        if expires_ms.is_some_and(|at| at <= now) {
            return Err(Error::Auth("expiry is in the past".into()));
        }
        let id = format!("tg{}", random_text(8)?);
        let secret = random_text(24)?;
        let hash = tokio::task::spawn_blocking({
            let secret = secret.clone();
            move || {
                let mut salt = [0u8; 16];
                getrandom::fill(&mut salt).map_err(|e| e.to_string())?;
                let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
                Argon2::default()
                    .hash_password(secret.as_bytes(), &salt)
                    .map(|h| h.to_string())
                    .map_err(|e| e.to_string())
            }
        })
        .await
        .map_err(|e| Error::Auth(e.to_string()))?
        .map_err(Error::Auth)?;
        let key = ApiKey {
            id: id.clone(),
            principal: principal.to_owned(),
            groups,
            description: description.to_owned(),
            created_ms: now,
            expires_ms,
        };
        let keys = &self.inner.keys;
        let _writer = keys.write.lock().await;
        let stored = StoredKey {
            key: key.clone(),
            hash,
        };
        keys.persist(&id, Some(&stored)).await?;
        keys.table.lock().insert(id.clone(), stored);
        Ok((key, format!("{id}.{secret}")))
    }

    /// Every key, without secrets.
    ///
    /// # Errors
    /// Denied (Describe on the cluster).
    pub fn list_api_keys(&self) -> Result<Vec<ApiKey>> {
        self.authorize(
            super::ResourceType::Cluster,
            "*",
            super::Operation::Describe,
        )?;
        let table = self.inner.keys.table.lock();
        Ok(table.values().map(|s| s.key.clone()).collect())
    }

    /// Revokes a key: requests that present it are refused from now on.
    ///
    /// # Errors
    /// [`Error::UnknownApiKey`]; storage errors.
    pub async fn revoke_api_key(&self, id: &str) -> Result<()> {
        self.authorize(super::ResourceType::Cluster, "*", super::Operation::Alter)?;
        let keys = &self.inner.keys;
        let _writer = keys.write.lock().await;
        if !keys.table.lock().contains_key(id) {
            return Err(Error::UnknownApiKey(id.to_owned()));
        }
        keys.persist(id, None).await?;
        keys.table.lock().remove(id);
        keys.verified.lock().retain(|_, known| known != id);
        Ok(())
    }

    /// The principal `token` (`<id>.<secret>`) proves, if it is a live key.
    pub async fn authenticate_key(&self, token: &str) -> Option<Principal> {
        let keys = &self.inner.keys;
        let (id, secret) = token.split_once('.')?;
        let now = now_ms();
        let fingerprint = digest(token);
        let live = |stored: &StoredKey| stored.key.expires_ms.is_none_or(|at| at > now);
        let cached = keys.verified.lock().get(&fingerprint).cloned();
        if let Some(known) = cached {
            let table = keys.table.lock();
            let stored = table.get(&known).filter(|s| live(s))?;
            return Some(Principal {
                name: stored.key.principal.clone(),
                groups: stored.key.groups.clone(),
                superuser: false,
                key_id: Some(known),
                ..Principal::default()
            });
        }
        let hash = {
            let table = keys.table.lock();
            let stored = table.get(id).filter(|s| live(s))?;
            stored.hash.clone()
        };
        let secret = secret.to_owned();
        let ok = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash).is_ok_and(|parsed| {
                Argon2::default()
                    .verify_password(secret.as_bytes(), &parsed)
                    .is_ok()
            })
        })
        .await
        .unwrap_or(false);
        if !ok {
            return None;
        }
        let (principal, groups) = keys
            .table
            .lock()
            .get(id)
            .map(|s| (s.key.principal.clone(), s.key.groups.clone()))?;
        let mut verified = keys.verified.lock();
        if verified.len() >= MAX_CACHED {
            verified.clear();
        }
        verified.insert(fingerprint, id.to_owned());
        Some(Principal {
            name: principal,
            groups,
            superuser: false,
            key_id: Some(id.to_owned()),
            ..Principal::default()
        })
    }

    /// Whether the caller's credentials still hold: an API key it authenticated with is
    /// neither revoked nor expired. Long-lived streams ask this before every delivery.
    ///
    /// # Errors
    /// [`Error::CredentialsGone`] once the key is gone.
    pub fn credentials_hold(&self) -> Result<()> {
        let now = now_ms();
        if let Some(at) = self.caller.as_ref().and_then(|c| c.expires_ms)
            && at <= now
        {
            return Err(Error::CredentialsGone("the token has expired".into()));
        }
        let Some(id) = self.caller.as_ref().and_then(|c| c.key_id.as_ref()) else {
            return Ok(());
        };
        let live = self
            .inner
            .keys
            .table
            .lock()
            .get(id)
            .is_some_and(|s| s.key.expires_ms.is_none_or(|at| at > now));
        if live {
            Ok(())
        } else {
            Err(Error::CredentialsGone(format!(
                "API key '{id}' was revoked or expired"
            )))
        }
    }
}
