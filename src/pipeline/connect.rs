//! Connectors at run time: one task per running connector (a sink task or a source task) on
//! the plugin runtime, reconciled with the broker's definitions whenever they change (create,
//! config update, pause, resume, stop, restart, delete).
//!
//! A task holds its connector's running flag for its whole life, so the broker's delete and
//! stop can wait until no plugin call of that connector is in flight. It talks to the broker
//! only — never to the log.

mod policy;
mod sink;
mod source;

use std::collections::HashMap;

use super::supervise::{Supervised, Task, supervise};
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::broker::{
    self, Broker, ConnectorCommitted, ConnectorDefinition, ConnectorEntry, ConnectorKind,
    ConnectorSettings, Grants, Plugin, PluginError, TargetState, settings_of,
};
use crate::pipeline::batch_state::BatchState;

/// Why a task ended early (it is then FAILED with this as its trace).
#[derive(Debug, thiserror::Error)]
pub(crate) enum Stop {
    #[error(transparent)]
    Broker(#[from] broker::Error),
    #[error(transparent)]
    Plugin(#[from] PluginError),
    #[error("{0}")]
    Policy(String),
}

struct Running {
    definition: ConnectorDefinition,
    restarts: u64,
    task: Task,
}

/// Runs connectors until `cancel` fires, then stops them.
pub async fn run(broker: Broker, cancel: CancellationToken) {
    supervise(&broker, &cancel, "connector", reconcile).await;
}

impl Supervised for Running {
    fn task(self) -> Task {
        self.task
    }
}

/// What a task needs before it opens its plugin: the host's settings, the committed state,
/// the plugin's `kv` over it, the grants, the loaded plugin and its config pairs.
pub(crate) struct Prepared {
    pub(crate) settings: ConnectorSettings,
    pub(crate) committed: ConnectorCommitted,
    pub(crate) state: Arc<BatchState>,
    pub(crate) grants: Grants,
    pub(crate) plugin: Plugin,
    pub(crate) config: Vec<(String, String)>,
}

pub(crate) async fn prepare(
    broker: &Broker,
    entry: &ConnectorEntry,
    kind: ConnectorKind,
) -> Result<Prepared, Stop> {
    let def = &entry.definition;
    let settings = settings_of(def, kind)?;
    let committed = broker.connector_committed(&def.name);
    let state = Arc::new(BatchState::new(committed.kv.clone()));
    let grants = broker.connector_grants(&settings)?;
    let plugin = broker.plugin_host().load(&def.digest).await?;
    let config = def.config.clone().into_iter().collect();
    Ok(Prepared {
        settings,
        committed,
        state,
        grants,
        plugin,
        config,
    })
}

fn wanted(entry: &ConnectorEntry) -> bool {
    entry.definition.target == TargetState::Running && entry.status.failure().is_none()
}

fn reconcile(broker: &Broker, running: &mut HashMap<String, Running>, cancel: &CancellationToken) {
    let entries = broker.connector_entries();
    running.retain(|name, r| {
        // A task that ended by itself (it failed) is forgotten, so resuming the connector
        // (which clears the failure) starts a new one.
        let keep = !r.task.handle.is_finished()
            && entries.iter().any(|e| {
                &e.definition.name == name
                    && wanted(e)
                    && e.definition == r.definition
                    && e.status.restarts() == r.restarts
            });
        if !keep {
            r.task.cancel.cancel();
        }
        keep
    });
    for entry in entries {
        let name = entry.definition.name.clone();
        if !wanted(&entry) || running.contains_key(&name) {
            continue;
        }
        let token = cancel.child_token();
        let handle =
            broker
                .plugin_host()
                .spawn(run_task(broker.clone(), entry.clone(), token.clone()));
        let task = Task {
            cancel: token,
            handle,
        };
        let restarts = entry.status.restarts();
        let definition = entry.definition;
        running.insert(
            name,
            Running {
                definition,
                restarts,
                task,
            },
        );
    }
    // A failed task is not started again until the failure is cleared (resume, restart, a
    // config update), so a deterministic failure does not loop.
}

async fn run_task(broker: Broker, entry: ConnectorEntry, cancel: CancellationToken) {
    let status = Arc::clone(&entry.status);
    // A task this one replaces may still be finishing its call in flight: wait for it, so
    // two tasks never deliver the same batch or commit out of order.
    let _slot = tokio::select! {
        biased;
        () = cancel.cancelled() => return,
        slot = status.exclusive() => slot,
    };
    let _running = status.running_guard();
    let name = entry.definition.name.clone();
    tracing::info!(connector = %name, kind = ?entry.definition.kind, "Connector task starting.");
    let result = match entry.definition.kind {
        ConnectorKind::Sink => sink::run(&broker, &entry, &cancel).await,
        ConnectorKind::Source => source::run(&broker, &entry, &cancel).await,
    };
    match result {
        Ok(()) => tracing::info!(connector = %name, "Connector task stopped."),
        Err(e) => {
            tracing::error!(connector = %name, error = %e, "Connector task failed.");
            status.error(e.to_string());
            status.fail(e.to_string());
        }
    }
}
