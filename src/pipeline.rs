//! Transforms and connectors at run time. One task per running transform reads its input
//! topic through the broker, calls its plugin per batch, writes the results to its output
//! topics, and commits its input position together with the plugin's state; `connect` runs
//! sink and source connectors the same way.
//!
//! The supervisor here reconciles running tasks with the broker's definitions whenever they
//! change (create, pause, resume, delete). It talks to the broker only — never to the log —
//! and to the plugin host the broker hands out.

mod batch_state;
pub mod connect;
mod exactly_once;
mod read;
mod runner;
mod supervise;

use std::collections::HashMap;

use tokio_util::sync::CancellationToken;

use crate::broker::{Broker, TransformDefinition};

struct Running {
    definition: TransformDefinition,
    task: supervise::Task,
}

/// Runs transforms and connectors until `cancel` fires, then stops them (each finishes or
/// abandons its current batch; an abandoned transform batch is redone exactly once at the next
/// start, an abandoned sink batch is redelivered).
pub async fn run(broker: Broker, cancel: CancellationToken) {
    tokio::join!(
        run_transforms(broker.clone(), cancel.clone()),
        connect::run(broker, cancel)
    );
}

async fn run_transforms(broker: Broker, cancel: CancellationToken) {
    supervise::supervise(&broker, &cancel, "transform", reconcile).await;
}

impl supervise::Supervised for Running {
    fn task(self) -> supervise::Task {
        self.task
    }
}

fn reconcile(broker: &Broker, running: &mut HashMap<String, Running>, cancel: &CancellationToken) {
    let entries = broker.transform_entries();
    running.retain(|name, r| {
        let keep = entries.iter().any(|e| {
            &e.definition.name == name && !e.definition.paused && e.definition == r.definition
        });
        if !keep {
            r.task.cancel.cancel();
        }
        keep
    });
    for entry in entries {
        let name = entry.definition.name.clone();
        let finished = running
            .get(&name)
            .is_some_and(|r| r.task.handle.is_finished());
        if entry.definition.paused
            || entry.status.is_failed()
            || (running.contains_key(&name) && !finished)
        {
            continue;
        }
        let token = cancel.child_token();
        // Transform tasks live on the plugin runtime, next to the guests they call.
        let run = runner::run(broker.clone(), entry.clone(), token.clone());
        let handle = broker.plugin_host().spawn(run);
        running.insert(
            name,
            Running {
                definition: entry.definition,
                task: supervise::Task {
                    cancel: token,
                    handle,
                },
            },
        );
    }
}
