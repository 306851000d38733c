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
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::broker::{
    self, Broker, ConnectorDefinition, ConnectorEntry, ConnectorKind, PluginError, TargetState,
};

/// How long shutdown waits for connector tasks to finish their current call.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

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
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

/// Runs connectors until `cancel` fires, then stops them.
pub async fn run(broker: Broker, cancel: CancellationToken) {
    let mut changes = broker.watch_definitions();
    let mut running: HashMap<String, Running> = HashMap::new();
    loop {
        reconcile(&broker, &mut running, &cancel);
        tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            changed = changes.changed() => if changed.is_err() { break },
        }
    }
    for (name, r) in running.drain() {
        r.cancel.cancel();
        if tokio::time::timeout(STOP_TIMEOUT, r.task).await.is_err() {
            tracing::warn!(connector = %name, "Connector did not stop in time.");
        }
    }
}

fn wanted(entry: &ConnectorEntry) -> bool {
    entry.definition.target == TargetState::Running && entry.status.failure().is_none()
}

fn reconcile(broker: &Broker, running: &mut HashMap<String, Running>, cancel: &CancellationToken) {
    let entries = broker.connector_entries();
    running.retain(|name, r| {
        let keep = entries.iter().any(|e| {
            &e.definition.name == name
                && wanted(e)
                && e.definition == r.definition
                && e.status.restarts() == r.restarts
        });
        if !keep {
            r.cancel.cancel();
        }
        keep
    });
    for entry in entries {
        let name = entry.definition.name.clone();
        if !wanted(&entry) || running.contains_key(&name) {
            continue;
        }
        let token = cancel.child_token();
        let task =
            broker
                .plugin_host()
                .spawn(run_task(broker.clone(), entry.clone(), token.clone()));
        running.insert(
            name,
            Running {
                definition: entry.definition,
                restarts: entry.status.restarts(),
                cancel: token,
                task,
            },
        );
    }
    // A task that ended by itself (failed) stays in the map until its definition changes or
    // it is restarted, so it is not started again in a loop.
}

async fn run_task(broker: Broker, entry: ConnectorEntry, cancel: CancellationToken) {
    let status = Arc::clone(&entry.status);
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
