//! Authorization in Kafka's model: an ACL allows or denies a principal (`User:<name>`,
//! `Group:<name>`, or `User:*`) an operation on a resource (topic, group, subject, plugin,
//! transform, connector, cluster) named literally or by prefix. Deny wins; with no matching
//! allow, the answer is no. `Describe` is implied by any other allowed operation on the
//! resource, as in Kafka. Superusers (the admin token, everyone when authentication is off, and
//! the gateway's own work) skip the check.
//!
//! Owns the ACL table, its persistence (the internal topic `__tidegate_auth`, key `acl/<…>`)
//! and the decision. Every use case of the broker asks it before acting, so no front end can
//! go around it; front ends only say who is calling.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::auth::Principal;
use super::{Broker, Error, Result, now_ms};
use crate::event::Record;

/// What an ACL protects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResourceType {
    /// A topic.
    Topic,
    /// A consumer group.
    Group,
    /// A schema registry subject.
    Subject,
    /// An uploaded plugin.
    Plugin,
    /// A transform.
    Transform,
    /// A connector.
    Connector,
    /// The gateway itself (global schema config, ACLs and keys).
    Cluster,
}

/// How an ACL names resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PatternType {
    /// Exactly this name (`*`: every name).
    #[default]
    Literal,
    /// Every name starting with this.
    Prefixed,
}

/// What a principal does to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// Consume, read.
    Read,
    /// Produce, register.
    Write,
    /// Create.
    Create,
    /// Delete.
    Delete,
    /// Change configuration.
    Alter,
    /// See that it exists and its metadata.
    Describe,
    /// Every operation.
    All,
}

/// Allow or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    /// Allow.
    Allow,
    /// Deny (wins over any allow).
    Deny,
}

/// One access control entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Acl {
    /// `User:<name>`, `Group:<name>` or `User:*`.
    pub principal: String,
    /// The kind of resource.
    pub resource_type: ResourceType,
    /// The resource name (with `literal`, `*` means every one).
    pub resource_name: String,
    /// How `resource_name` matches.
    #[serde(default)]
    pub pattern_type: PatternType,
    /// The operation.
    pub operation: Operation,
    /// Allow or deny.
    pub permission: Permission,
}

impl Acl {
    fn key(&self) -> String {
        format!(
            "acl/{}\0{:?}\0{}\0{:?}\0{:?}\0{:?}",
            self.principal,
            self.resource_type,
            self.resource_name,
            self.pattern_type,
            self.operation,
            self.permission
        )
    }

    fn names(&self, principal: &Principal) -> bool {
        match self.principal.split_once(':') {
            Some(("User", "*")) => true,
            Some(("User", name)) => name == principal.name,
            Some(("Group", group)) => principal.groups.iter().any(|g| g == group),
            _ => false,
        }
    }

    fn covers(&self, resource: ResourceType, name: &str) -> bool {
        self.resource_type == resource
            && match self.pattern_type {
                PatternType::Literal => self.resource_name == "*" || self.resource_name == name,
                PatternType::Prefixed => name.starts_with(&self.resource_name),
            }
    }

    fn grants(&self, op: Operation) -> bool {
        self.operation == Operation::All
            || self.operation == op
            // Kafka: any allowed operation implies Describe.
            || (op == Operation::Describe && self.permission == Permission::Allow)
    }
}

/// The table of ACLs.
#[derive(Default)]
pub(super) struct Acls {
    pub(super) table: parking_lot::RwLock<BTreeMap<String, Acl>>,
}

impl Acls {
    /// Applies one replayed record of `__tidegate_auth` (the caller filters `acl/` keys).
    pub(super) fn replay(&self, key: &str, value: Option<Acl>) {
        let mut table = self.table.write();
        match value {
            Some(acl) => {
                table.insert(key.to_owned(), acl);
            }
            None => {
                table.remove(key);
            }
        }
    }

    /// Whether `principal` may do `op` on the resource.
    fn allows(
        &self,
        principal: &Principal,
        resource: ResourceType,
        name: &str,
        op: Operation,
    ) -> bool {
        let table = self.table.read();
        let mut allowed = false;
        for acl in table.values() {
            if !acl.names(principal) || !acl.covers(resource, name) {
                continue;
            }
            match acl.permission {
                // A deny of Describe does not deny the rest; a deny of the op (or All) does.
                Permission::Deny if acl.operation == op || acl.operation == Operation::All => {
                    return false;
                }
                Permission::Deny => {}
                Permission::Allow if acl.grants(op) => allowed = true,
                Permission::Allow => {}
            }
        }
        allowed
    }
}

fn validate(acl: &Acl) -> Result<()> {
    let bad = |m: &str| Err(Error::Auth(format!("invalid ACL: {m}")));
    match acl.principal.split_once(':') {
        Some(("User" | "Group", name)) if !name.is_empty() => {}
        _ => return bad("principal must be User:<name>, Group:<name> or User:*"),
    }
    if acl.resource_name.is_empty() {
        return bad("resource_name may not be empty");
    }
    if acl.resource_type == ResourceType::Cluster && acl.resource_name != "*" {
        return bad("the cluster resource is named *");
    }
    Ok(())
}

impl Broker {
    /// Refuses with [`Error::Denied`] unless the caller may do `op` on the resource.
    ///
    /// # Errors
    /// [`Error::Denied`].
    pub fn authorize(&self, resource: ResourceType, name: &str, op: Operation) -> Result<()> {
        let Some(caller) = &self.caller else {
            return Ok(());
        };
        if caller.superuser || self.inner.acls.allows(caller, resource, name, op) {
            return Ok(());
        }
        Err(Error::Denied {
            principal: caller.name.clone(),
            operation: op,
            resource,
            name: name.to_owned(),
        })
    }

    /// Whether the caller may `op` the resource (for filtering lists).
    #[must_use]
    pub fn may(&self, resource: ResourceType, name: &str, op: Operation) -> bool {
        self.authorize(resource, name, op).is_ok()
    }

    /// This broker acting for `principal`: every use case checks its ACLs.
    #[must_use]
    pub fn acting_as(&self, principal: Principal) -> Broker {
        Broker {
            inner: Arc::clone(&self.inner),
            caller: Some(Arc::new(principal)),
        }
    }

    /// The caller, if the broker acts for one.
    #[must_use]
    pub fn caller(&self) -> Option<&Principal> {
        self.caller.as_deref()
    }

    /// Adds an ACL (Alter on the cluster).
    ///
    /// # Errors
    /// Denied; an invalid ACL; storage errors.
    pub async fn add_acl(&self, acl: Acl) -> Result<()> {
        self.authorize(ResourceType::Cluster, "*", Operation::Alter)?;
        validate(&acl)?;
        let value = serde_json::to_vec(&acl).unwrap_or_default();
        self.persist_auth(&acl.key(), Some(Bytes::from(value)))
            .await?;
        self.inner.acls.table.write().insert(acl.key(), acl);
        Ok(())
    }

    /// Removes the ACLs equal to `acl`; returns how many (Alter on the cluster).
    ///
    /// # Errors
    /// Denied; storage errors.
    pub async fn remove_acl(&self, acl: &Acl) -> Result<usize> {
        self.authorize(ResourceType::Cluster, "*", Operation::Alter)?;
        if !self.inner.acls.table.read().contains_key(&acl.key()) {
            return Ok(0);
        }
        self.persist_auth(&acl.key(), None).await?;
        self.inner.acls.table.write().remove(&acl.key());
        Ok(1)
    }

    /// Every ACL (Describe on the cluster).
    ///
    /// # Errors
    /// Denied.
    pub fn list_acls(&self) -> Result<Vec<Acl>> {
        self.authorize(ResourceType::Cluster, "*", Operation::Describe)?;
        Ok(self.inner.acls.table.read().values().cloned().collect())
    }

    async fn persist_auth(&self, key: &str, value: Option<Bytes>) -> Result<()> {
        let record = Record {
            key: Some(Bytes::from(key.to_owned())),
            value,
            timestamp: now_ms(),
            ..Record::default()
        };
        self.inner.keys.append(std::slice::from_ref(&record)).await
    }
}

impl Broker {
    /// A new transform needs Create on itself, Describe on its plugin, Read on its input and
    /// Write on every output: it may not reach what its creator could not.
    pub(super) fn authorize_transform(&self, req: &super::TransformRequest) -> Result<()> {
        self.authorize(ResourceType::Transform, &req.name, Operation::Create)?;
        // The built-in identity is no uploaded plugin: nothing to describe.
        if req.plugin != super::BUILTIN_IDENTITY {
            self.authorize(ResourceType::Plugin, &req.plugin, Operation::Describe)?;
        }
        self.authorize(ResourceType::Topic, &req.input, Operation::Read)?;
        for output in &req.outputs {
            self.authorize(ResourceType::Topic, output, Operation::Write)?;
        }
        Ok(())
    }
}

impl Broker {
    /// The caller as the owner of something it creates (none for superusers and the gateway).
    pub(super) fn owner(&self) -> Option<super::definitions::Owner> {
        self.caller
            .as_deref()
            .filter(|p| !p.superuser)
            .map(|p| super::definitions::Owner {
                name: p.name.clone(),
                groups: p.groups.clone(),
            })
    }

    /// This broker acting for `owner` (the gateway itself when `None`): what a transform or
    /// connector does runs with its creator's rights, checked on every read and write.
    #[must_use]
    pub fn acting_for(&self, owner: Option<&super::definitions::Owner>) -> Broker {
        match owner {
            None => self.clone(),
            Some(o) => self.acting_as(Principal {
                name: o.name.clone(),
                groups: o.groups.clone(),
                superuser: false,
                ..Principal::default()
            }),
        }
    }
}
