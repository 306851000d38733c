//! The loop shared by the transform and connector supervisors: reconcile the running tasks
//! with the broker's definitions whenever they change, and on shutdown cancel every task and
//! wait for it (bounded).
//!
//! Owns only that loop; what to run and when is the caller's `reconcile`.

use std::collections::HashMap;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::broker::Broker;

/// How long shutdown waits for a task to finish its current batch.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A running task: how to stop it and how to wait for it.
pub(crate) struct Task {
    pub(crate) cancel: CancellationToken,
    pub(crate) handle: JoinHandle<()>,
}

/// What a supervisor keeps per running task.
pub(crate) trait Supervised {
    fn task(self) -> Task;
}

/// Runs `reconcile` on every definition change until `cancel` fires, then stops every task.
pub(crate) async fn supervise<R: Supervised>(
    broker: &Broker,
    cancel: &CancellationToken,
    what: &'static str,
    mut reconcile: impl FnMut(&Broker, &mut HashMap<String, R>, &CancellationToken),
) {
    let mut changes = broker.watch_definitions();
    let mut running: HashMap<String, R> = HashMap::new();
    loop {
        reconcile(broker, &mut running, cancel);
        tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            changed = changes.changed() => if changed.is_err() { break },
        }
    }
    // Stop all at once, then wait for all under one deadline.
    let tasks: Vec<(String, Task)> = running.drain().map(|(n, r)| (n, r.task())).collect();
    for (_, task) in &tasks {
        task.cancel.cancel();
    }
    let deadline = tokio::time::Instant::now() + STOP_TIMEOUT;
    for (name, task) in tasks {
        if tokio::time::timeout_at(deadline, task.handle)
            .await
            .is_err()
        {
            tracing::warn!(name, what, "Task did not stop in time.");
        }
    }
}
