//! Plugin registry use cases: upload (validate + precompile through the plugin host), list,
//! describe, delete. Names map to content digests; the host caches components by digest.

use bytes::Bytes;

use super::definitions::{PluginDefinition, now_rfc3339};
use super::{Broker, Error, Result};
use crate::event::TopicName;

impl Broker {
    /// Stores a component under `name` (replacing an unused one), after the plugin host has
    /// validated and precompiled it.
    ///
    /// # Errors
    /// Invalid name; the host's refusal (not a component, wrong world, forbidden import, too
    /// large, compile timeout); [`Error::PluginInUse`] when replacing a plugin transforms use
    /// with different bytes.
    pub async fn upload_plugin(&self, name: &str, wasm: Bytes) -> Result<PluginDefinition> {
        self.authorize(super::ResourceType::Plugin, name, super::Operation::Create)?;
        validate_name("plugin name", name)?;
        let info = self.inner.plugins.compile(wasm).await?;
        let defs = &self.inner.definitions;
        let _writer = defs.writer().await;
        let existing = defs.table.lock().plugins.get(name).cloned();
        if let Some(existing) = existing {
            if existing.digest == info.digest {
                return Ok(existing);
            }
            let users = self.transforms_using(name);
            if !users.is_empty() {
                return Err(Error::PluginInUse {
                    plugin: name.to_owned(),
                    transforms: users,
                });
            }
        }
        let definition = PluginDefinition {
            name: name.to_owned(),
            digest: info.digest,
            world: info.world.as_str().to_owned(),
            size: info.size,
            created: now_rfc3339(),
        };
        defs.put_plugin(definition.clone()).await?;
        tracing::info!(plugin = name, digest = %definition.digest, world = %definition.world, "Plugin stored.");
        Ok(definition)
    }

    /// Every stored plugin, sorted by name.
    #[must_use]
    pub fn list_plugins(&self) -> Vec<PluginDefinition> {
        self.inner
            .definitions
            .table
            .lock()
            .plugins
            .values()
            .filter(|p| {
                self.may(
                    super::ResourceType::Plugin,
                    &p.name,
                    super::Operation::Describe,
                )
            })
            .cloned()
            .collect()
    }

    /// How each stored plugin's guest calls ended since start, by plugin name (the plugins
    /// the principal may describe).
    #[must_use]
    pub fn plugin_call_stats(&self) -> Vec<(String, super::PluginCallStats)> {
        let stats: std::collections::HashMap<String, super::PluginCallStats> =
            self.plugin_host().call_stats().into_iter().collect();
        self.list_plugins()
            .into_iter()
            .map(|p| {
                let counted = stats.get(&p.digest).copied().unwrap_or_default();
                (p.name, counted)
            })
            .collect()
    }

    /// One plugin.
    ///
    /// # Errors
    /// [`Error::UnknownPlugin`].
    pub fn get_plugin(&self, name: &str) -> Result<PluginDefinition> {
        self.authorize(
            super::ResourceType::Plugin,
            name,
            super::Operation::Describe,
        )?;
        let table = self.inner.definitions.table.lock();
        table
            .plugins
            .get(name)
            .cloned()
            .ok_or_else(|| Error::UnknownPlugin(name.to_owned()))
    }

    /// Deletes a plugin no transform uses; its cached component goes too unless another name
    /// holds the same bytes.
    ///
    /// # Errors
    /// [`Error::UnknownPlugin`], [`Error::PluginInUse`].
    pub async fn delete_plugin(&self, name: &str) -> Result<()> {
        self.authorize(super::ResourceType::Plugin, name, super::Operation::Delete)?;
        let defs = &self.inner.definitions;
        let _writer = defs.writer().await;
        let plugin = self.get_plugin(name)?;
        let users = self.transforms_using(name);
        if !users.is_empty() {
            return Err(Error::PluginInUse {
                plugin: name.to_owned(),
                transforms: users,
            });
        }
        defs.delete_plugin(name).await?;
        let shared = defs
            .table
            .lock()
            .plugins
            .values()
            .any(|p| p.digest == plugin.digest);
        if !shared {
            if let Err(e) = self.inner.plugins.remove(&plugin.digest) {
                tracing::warn!(plugin = name, error = %e, "Cannot remove the cached component.");
            }
        }
        tracing::info!(plugin = name, "Plugin deleted.");
        Ok(())
    }

    fn transforms_using(&self, plugin: &str) -> Vec<String> {
        let table = self.inner.definitions.table.lock();
        let transforms = table
            .transforms
            .values()
            .filter(|t| t.definition.plugin == plugin)
            .map(|t| format!("transform {}", t.definition.name));
        let connectors = table
            .connectors
            .values()
            .filter(|c| {
                c.definition
                    .config
                    .get("connector.class")
                    .map(String::as_str)
                    == Some(plugin)
            })
            .map(|c| format!("connector {}", c.definition.name));
        transforms.chain(connectors).collect()
    }
}

/// Plugin and transform names follow topic-name rules (a transform's names its DLQ topic).
pub(super) fn validate_name(field: &'static str, name: &str) -> Result<()> {
    TopicName::new(name)
        .map(drop)
        .map_err(|e| Error::InvalidDefinition {
            field,
            problem: e.to_string().replace("topic name", field),
        })
}
