//! Prometheus metrics of the HTTP front end: request counts and latencies per route, produce
//! and fetch records and bytes per topic, and — read at scrape time from the broker —
//! partition offsets and consumer-group lag.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::broker::Broker;

mod workers;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LatencyLabels {
    route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TopicLabels {
    topic: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PartitionLabels {
    topic: String,
    partition: u32,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LagLabels {
    group: String,
    topic: String,
    partition: u32,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProtocolLabels {
    protocol: &'static str,
}

type LatencyFamily = Family<LatencyLabels, Histogram, fn() -> Histogram>;

/// Live-subscription series; cheap to clone into each stream.
#[derive(Clone, Default)]
pub struct SubscriptionMetrics {
    open: Family<ProtocolLabels, Gauge>,
    delivered: Family<ProtocolLabels, Counter>,
    lag: Family<ProtocolLabels, Gauge>,
}

impl SubscriptionMetrics {
    /// One more open subscription; the returned guard counts it closed when dropped.
    pub fn opened(&self, protocol: &'static str) -> OpenSubscription {
        self.open.get_or_create(&ProtocolLabels { protocol }).inc();
        OpenSubscription {
            metrics: self.clone(),
            protocol,
            lag: 0,
        }
    }
}

/// An open subscription, counted until dropped (client gone, error or shutdown alike).
pub struct OpenSubscription {
    metrics: SubscriptionMetrics,
    protocol: &'static str,
    /// This subscription's share of the lag gauge.
    lag: i64,
}

impl OpenSubscription {
    /// Counts records delivered to the subscriber.
    pub fn delivered(&self, records: u64) {
        let labels = ProtocolLabels {
            protocol: self.protocol,
        };
        self.metrics
            .delivered
            .get_or_create(&labels)
            .inc_by(records);
    }

    /// Records this subscriber is behind the ends of its partitions (summed per protocol).
    pub fn set_lag(&mut self, records: u64) {
        let lag = i64::try_from(records).unwrap_or(i64::MAX);
        let labels = ProtocolLabels {
            protocol: self.protocol,
        };
        self.metrics
            .lag
            .get_or_create(&labels)
            .inc_by(lag.saturating_sub(self.lag));
        self.lag = lag;
    }
}

impl Drop for OpenSubscription {
    fn drop(&mut self) {
        let labels = ProtocolLabels {
            protocol: self.protocol,
        };
        self.metrics.open.get_or_create(&labels).dec();
        self.metrics.lag.get_or_create(&labels).dec_by(self.lag);
    }
}

/// The front end's counters and histograms.
pub struct Metrics {
    registry: Registry,
    requests: Family<RouteLabels, Counter>,
    /// Requests refused for who sent them: 401, 403, 429.
    auth_failures: Family<ReasonLabels, Counter>,
    latency: LatencyFamily,
    produce_records: Family<TopicLabels, Counter>,
    produce_bytes: Family<TopicLabels, Counter>,
    fetch_records: Family<TopicLabels, Counter>,
    fetch_bytes: Family<TopicLabels, Counter>,
    subscriptions: SubscriptionMetrics,
}

fn latency_histogram() -> Histogram {
    // 50 µs … ~26 s.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 20))
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("tidegate");
        let requests = Family::default();
        let auth_failures = Family::default();
        registry.register(
            "auth_failures",
            "Requests refused for their credentials (unauthenticated), their ACLs (denied) or their principal's rate (rate_limited)",
            Family::<ReasonLabels, Counter>::clone(&auth_failures),
        );
        let latency: LatencyFamily = Family::new_with_constructor(latency_histogram);
        let produce_records = Family::default();
        let produce_bytes = Family::default();
        let fetch_records = Family::default();
        let fetch_bytes = Family::default();
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        registry.register(
            "produce_records",
            "Records produced",
            produce_records.clone(),
        );
        registry.register(
            "produce_bytes",
            "Payload bytes produced",
            produce_bytes.clone(),
        );
        registry.register("fetch_records", "Records fetched", fetch_records.clone());
        registry.register("fetch_bytes", "Payload bytes fetched", fetch_bytes.clone());
        let subscriptions = SubscriptionMetrics::default();
        registry.register(
            "subscriptions_open",
            "Open live subscriptions by protocol",
            subscriptions.open.clone(),
        );
        registry.register(
            "subscription_records",
            "Records delivered to live subscribers by protocol",
            subscriptions.delivered.clone(),
        );
        registry.register(
            "subscription_lag_records",
            "Records live subscribers are behind the end of their partitions, summed by protocol",
            subscriptions.lag.clone(),
        );
        Self {
            subscriptions,
            registry,
            requests,
            auth_failures,
            latency,
            produce_records,
            produce_bytes,
            fetch_records,
            fetch_bytes,
        }
    }

    /// The live-subscription series.
    pub fn subscriptions(&self) -> &SubscriptionMetrics {
        &self.subscriptions
    }

    /// Counts one finished request.
    pub fn observe_request(&self, route: &'static str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RouteLabels { route, status })
            .inc();
        let reason = match status {
            401 => Some("unauthenticated"),
            403 => Some("denied"),
            429 => Some("rate_limited"),
            _ => None,
        };
        if let Some(reason) = reason {
            self.auth_failures
                .get_or_create(&ReasonLabels { reason })
                .inc();
        }
        self.latency
            .get_or_create(&LatencyLabels { route })
            .observe(seconds);
    }

    /// Drops a deleted topic's series, so they disappear from the next scrape.
    pub fn forget_topic(&self, topic: &str) {
        let labels = TopicLabels {
            topic: topic.to_owned(),
        };
        for family in [
            &self.produce_records,
            &self.produce_bytes,
            &self.fetch_records,
            &self.fetch_bytes,
        ] {
            family.remove(&labels);
        }
    }

    /// Counts produced records.
    pub fn produced(&self, topic: &str, records: u64, bytes: u64) {
        let labels = TopicLabels {
            topic: topic.to_owned(),
        };
        self.produce_records.get_or_create(&labels).inc_by(records);
        self.produce_bytes.get_or_create(&labels).inc_by(bytes);
    }

    /// Counts fetched records.
    pub fn fetched(&self, topic: &str, records: u64, bytes: u64) {
        let labels = TopicLabels {
            topic: topic.to_owned(),
        };
        self.fetch_records.get_or_create(&labels).inc_by(records);
        self.fetch_bytes.get_or_create(&labels).inc_by(bytes);
    }

    /// The exposition text (OpenMetrics), including offsets and lag read from the broker now.
    pub fn render(&self, broker: &Broker) -> String {
        let mut snapshot = Registry::with_prefix("tidegate");
        let start = Family::<PartitionLabels, Gauge>::default();
        let end = Family::<PartitionLabels, Gauge>::default();
        let lag = Family::<LagLabels, Gauge>::default();
        for topic in broker.list_topics() {
            for p in &topic.partitions {
                let labels = PartitionLabels {
                    topic: topic.name.clone(),
                    partition: p.partition,
                };
                start
                    .get_or_create(&labels)
                    .set(i64::try_from(p.start_offset).unwrap_or(i64::MAX));
                end.get_or_create(&labels)
                    .set(i64::try_from(p.end_offset).unwrap_or(i64::MAX));
            }
        }
        for group in broker.list_groups() {
            for o in broker.group_offsets(&group).unwrap_or_default() {
                let labels = LagLabels {
                    group: group.clone(),
                    topic: o.topic,
                    partition: o.partition,
                };
                lag.get_or_create(&labels)
                    .set(i64::try_from(o.lag).unwrap_or(i64::MAX));
            }
        }
        snapshot.register("partition_start_offset", "First stored offset", start);
        snapshot.register(
            "partition_end_offset",
            "One past the last readable offset",
            end,
        );
        snapshot.register(
            "group_lag",
            "Records between a group's commit and the end",
            lag,
        );
        workers::connectors(&mut snapshot, broker);
        workers::transforms(&mut snapshot, broker);
        workers::plugins(&mut snapshot, broker);
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode_registry(&mut out, &self.registry);
        let _ = encode_registry(&mut out, &snapshot);
        let _ = encode_eof(&mut out);
        out
    }
}
