//! Metrics of the background workers, read from the broker at each scrape: connectors,
//! transforms, and how plugin calls ended.
//!
//! Owns only their exposition; it must not count anything itself.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::broker::Broker;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConnectorLabels {
    connector: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TransformLabels {
    transform: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TransformStateLabels {
    transform: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginLabels {
    plugin: String,
    outcome: &'static str,
}

fn gauge(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Per-connector counters and state.
pub(super) fn connectors(snapshot: &mut Registry, broker: &Broker) {
    let families: [(&str, &str, Family<ConnectorLabels, Gauge>); 6] = [
        (
            "connector_records",
            "Records acknowledged (sink) or written (source)",
            Family::default(),
        ),
        (
            "connector_retries",
            "Retried connector calls",
            Family::default(),
        ),
        (
            "connector_dead_letters",
            "Records sent to the connector's dead-letter topic",
            Family::default(),
        ),
        (
            "connector_running",
            "1 while the connector's task runs",
            Family::default(),
        ),
        (
            "connector_failed",
            "1 while the connector's task is FAILED",
            Family::default(),
        ),
        (
            "connector_lag",
            "Sinks: records not yet delivered and committed",
            Family::default(),
        ),
    ];
    for name in broker.list_connectors() {
        let Ok(status) = broker.connector_status(&name) else {
            continue;
        };
        let labels = ConnectorLabels { connector: name };
        let task = status.tasks.first().map_or("STOPPED", |t| t.state);
        let c = &status.tidegate;
        let values = [
            c.records,
            c.retries,
            c.dead_letters,
            u64::from(task == "RUNNING"),
            u64::from(task == "FAILED"),
            c.lag.unwrap_or(0),
        ];
        for ((_, _, family), value) in families.iter().zip(values) {
            family.get_or_create(&labels).set(gauge(value));
        }
    }
    for (name, help, family) in families {
        snapshot.register(name, help, family);
    }
}

/// Per-transform state (1 for the current one of RUNNING, PAUSED, FAILED), lag and counters.
pub(super) fn transforms(snapshot: &mut Registry, broker: &Broker) {
    let state = Family::<TransformStateLabels, Gauge>::default();
    let families: [(&str, &str, Family<TransformLabels, Gauge>); 5] = [
        (
            "transform_lag",
            "Input records not yet processed",
            Family::default(),
        ),
        (
            "transform_records_in",
            "Input records processed",
            Family::default(),
        ),
        (
            "transform_records_out",
            "Records written to outputs",
            Family::default(),
        ),
        (
            "transform_records_dlq",
            "Records sent to the dead-letter topic",
            Family::default(),
        ),
        ("transform_errors", "Failed plugin calls", Family::default()),
    ];
    for view in broker.list_transforms() {
        let name = view.definition.name.clone();
        let current = serde_json::to_value(view.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        for s in ["RUNNING", "PAUSED", "FAILED"] {
            let labels = TransformStateLabels {
                transform: name.clone(),
                state: s.to_owned(),
            };
            state.get_or_create(&labels).set(i64::from(current == s));
        }
        let labels = TransformLabels { transform: name };
        let values = [
            view.lag,
            view.records_in,
            view.records_out,
            view.records_dlq,
            view.errors,
        ];
        for ((_, _, family), value) in families.iter().zip(values) {
            family.get_or_create(&labels).set(gauge(value));
        }
    }
    snapshot.register(
        "transform_state",
        "1 for the transform's current state",
        state,
    );
    for (name, help, family) in families {
        snapshot.register(name, help, family);
    }
}

/// Guest calls by plugin and outcome: `ok`, `trap`, `deadline` (stopped at the call's time
/// budget), `memory` (stopped at the memory cap).
pub(super) fn plugins(snapshot: &mut Registry, broker: &Broker) {
    let calls = Family::<PluginLabels, Counter>::default();
    for (plugin, stats) in broker.plugin_call_stats() {
        for (outcome, value) in [
            ("ok", stats.ok),
            ("trap", stats.traps),
            ("deadline", stats.deadline_hits),
            ("memory", stats.memory_hits),
        ] {
            let labels = PluginLabels {
                plugin: plugin.clone(),
                outcome,
            };
            calls.get_or_create(&labels).inc_by(value);
        }
    }
    snapshot.register(
        "plugin_calls",
        "Guest calls by how they ended (since start)",
        calls,
    );
}
