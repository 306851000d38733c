//! What validation on produce costs: the same produce load (in-process, through
//! `Broker::produce`, the path every front end takes) to a topic without validation, with a
//! JSON Schema, with Avro (JSON encoded to Confluent wire format), with Avro plus a CEL
//! data-contract rule, and with records already in wire format (checked in full). Rounds
//! alternate so disk mood affects every case alike; ratios are to the unvalidated topic.
//!
//! REST Proxy v2 produce (json format) is timed against native HTTP produce on the same load.
//! The same cases are then run over HTTP (`POST /v1/topics/{t}/records`, one loopback
//! connection, the same batches as JSON bodies), the load a client sees.
//!
//! `cargo bench --bench schemas` (`TIDEGATE_BENCH_RECORDS`, default 200,000 per case and
//! round; `TIDEGATE_BENCH_ROUNDS`, default 3; `--fsync never`, system temp dir). Stops by
//! itself.

use std::collections::BTreeMap;
use std::time::Instant;

use bytes::Bytes;
use tidegate::broker::{Broker, ProduceRecord, SchemaKind, SchemaRequest};
use tidegate::config::{Config, ServeArgs};
use tidegate::event::{ATTR_VALUE_JSON, Record};
use tidegate::gateway::Gateway;

mod payments;

const BATCH: usize = 500;

/// The allocator the `tidegate` binary ships with, so the in-process gateway allocates as the
/// real one does (validation allocates per record; the system allocator overstated its cost).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Case {
    label: &'static str,
    /// Schema kind and text for `<topic>-value`, with an optional rule set.
    schema: Option<(SchemaKind, String, Option<serde_json::Value>)>,
    /// Produce pre-encoded wire-format bytes instead of JSON.
    wire: bool,
}

fn main() -> anyhow::Result<()> {
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let records = env("TIDEGATE_BENCH_RECORDS", 200_000) / BATCH * BATCH;
    let rounds = env("TIDEGATE_BENCH_ROUNDS", 3);
    let payments::Schemas {
        avro,
        json_schema,
        rule,
    } = payments::schemas();
    let cases = [
        Case {
            label: "no validation",
            schema: None,
            wire: false,
        },
        Case {
            label: "JSON Schema",
            schema: Some((SchemaKind::Json, json_schema, None)),
            wire: false,
        },
        Case {
            label: "Avro (JSON → wire)",
            schema: Some((SchemaKind::Avro, avro.clone(), None)),
            wire: false,
        },
        Case {
            label: "Avro + CEL rule",
            schema: Some((SchemaKind::Avro, avro.clone(), Some(rule))),
            wire: false,
        },
        Case {
            label: "Avro wire format in",
            schema: Some((SchemaKind::Avro, avro, None)),
            wire: true,
        },
    ];
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let dir = tempfile::tempdir()?;
        let args = ServeArgs {
            listen: Some("127.0.0.1:0".into()),
            data_dir: Some(dir.path().to_path_buf()),
            fsync: Some("never".into()),
            ..ServeArgs::default()
        };
        let gateway = Gateway::start(Config::load(&args)?).await?;
        let broker = gateway.broker().clone();
        let mut best = vec![f64::INFINITY; cases.len()];
        let mut best_http = vec![f64::INFINITY; cases.len()];
        let mut best_v2 = f64::INFINITY;
        let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http::<http_body_util::Full<Bytes>>();
        let base = format!("http://{}", gateway.addr());
        // `TIDEGATE_BENCH_ONLY=2` (a case's index) times that case alone, for profiling.
        let only: Option<usize> = std::env::var("TIDEGATE_BENCH_ONLY").ok().and_then(|v| v.parse().ok());
        for round in 0..rounds {
            for (i, case) in cases.iter().enumerate() {
                if only.is_some_and(|o| o != i) {
                    continue;
                }
                let secs = run(&broker, case, &format!("t{i}-{round}"), records).await?;
                best[i] = best[i].min(secs);
                if !case.wire {
                    let secs = run_http(&broker, &client, &base, case, &format!("h{i}-{round}"), records, false).await?;
                    best_http[i] = best_http[i].min(secs);
                }
                if i == 0 {
                    let secs = run_http(&broker, &client, &base, case, &format!("v{i}-{round}"), records, true).await?;
                    best_v2 = best_v2.min(secs);
                }
            }
        }
        println!("produce of {records} payment records (~70 B JSON) in batches of {BATCH}, fsync=never, best of {rounds}");
        println!("{:<22} {:>14} {:>7} {:>14} {:>7}", "case", "in-process/s", "ratio", "HTTP/s", "ratio");
        for (i, case) in cases.iter().enumerate() {
            let rate = records as f64 / best[i];
            let http = if best_http[i].is_finite() {
                format!("{:>14.0} {:>7.2}", records as f64 / best_http[i], best_http[0] / best_http[i])
            } else {
                format!("{:>14} {:>7}", "-", "-")
            };
            println!("{:<22} {rate:>14.0} {:>7.2} {http}", case.label, best[0] / best[i]);
        }
        println!(
            "{:<22} {:>14} {:>7} {:>14.0} {:>7.2}   (REST Proxy v2, json format, vs native HTTP)",
            "REST Proxy v2 produce", "-", "-", records as f64 / best_v2, best_http[0] / best_v2
        );
        gateway.shutdown().await?;
        anyhow::Ok(())
    })
}

fn payment(i: usize) -> Bytes {
    Bytes::from(payments::payment(i))
}

/// Creates the case's topic and subject, then times producing `records`.
async fn run(broker: &Broker, case: &Case, topic: &str, records: usize) -> anyhow::Result<f64> {
    let config = prepare(broker, case, topic).await?;
    let mut wire_values = Vec::new();
    if case.wire {
        // Encode once through the validated path, then produce those bytes.
        let staging = format!("{topic}-staging");
        let mut staging_config = config.clone();
        staging_config.insert("value.schema.validation".into(), "true".into());
        broker
            .schemas()
            .register(
                &format!("{staging}-value"),
                SchemaRequest {
                    schema: case
                        .schema
                        .as_ref()
                        .map(|s| s.1.clone())
                        .unwrap_or_default(),
                    ..SchemaRequest::default()
                },
            )
            .await?;
        broker.create_topic(&staging, 1, &staging_config).await?;
        let batch = (0..BATCH).map(|i| json_record(payment(i))).collect();
        broker.produce(&staging, batch, None).await?;
        let read = broker
            .fetch(
                &staging,
                0,
                tidegate::broker::OffsetSpec::Earliest,
                BATCH,
                64 << 20,
                std::time::Duration::ZERO,
            )
            .await?;
        wire_values = read
            .records
            .into_iter()
            .filter_map(|r| r.record.value)
            .collect();
        anyhow::ensure!(
            wire_values.len() == BATCH,
            "staging produced {}",
            wire_values.len()
        );
    }
    let batches: Vec<Vec<ProduceRecord>> = (0..records / BATCH)
        .map(|b| {
            (0..BATCH)
                .map(|i| {
                    if case.wire {
                        ProduceRecord {
                            record: Record {
                                value: Some(wire_values[i].clone()),
                                ..Record::default()
                            },
                            partition: None,
                        }
                    } else {
                        json_record(payment(b * BATCH + i))
                    }
                })
                .collect()
        })
        .collect();
    let started = Instant::now();
    for batch in batches {
        broker.produce(topic, batch, None).await?;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Creates the case's topic and subject, then times producing `records` over HTTP.
async fn run_http(
    broker: &Broker,
    client: &hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        http_body_util::Full<Bytes>,
    >,
    base: &str,
    case: &Case,
    topic: &str,
    records: usize,
    rest_v2: bool,
) -> anyhow::Result<f64> {
    prepare(broker, case, topic).await?;
    let bodies: Vec<Bytes> = (0..records / BATCH)
        .map(|b| {
            let mut body = String::from(r#"{"records":["#);
            for i in 0..BATCH {
                if i > 0 {
                    body.push(',');
                }
                body.push_str(r#"{"value":"#);
                body.push_str(std::str::from_utf8(&payment(b * BATCH + i)).unwrap_or("null"));
                body.push('}');
            }
            body.push_str("]}");
            Bytes::from(body)
        })
        .collect();
    // The same body serves both: REST Proxy v2's json format has the same `records` shape.
    let (uri, content_type) = if rest_v2 {
        (
            format!("{base}/topics/{topic}"),
            "application/vnd.kafka.json.v2+json",
        )
    } else {
        (
            format!("{base}/v1/topics/{topic}/records"),
            "application/json",
        )
    };
    let started = Instant::now();
    for body in bodies {
        let request = hyper::Request::post(&uri)
            .header("content-type", content_type)
            .body(http_body_util::Full::new(body))?;
        let response = client.request(request).await?;
        anyhow::ensure!(
            response.status() == 200,
            "produce answered {}",
            response.status()
        );
        http_body_util::BodyExt::collect(response.into_body()).await?;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Registers the case's schema under `<topic>-value` and creates `topic` requiring it;
/// returns the topic's config.
async fn prepare(
    broker: &Broker,
    case: &Case,
    topic: &str,
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut config = BTreeMap::new();
    if let Some((kind, schema, rule_set)) = &case.schema {
        config.insert("value.schema.validation".to_owned(), "true".to_owned());
        let request = SchemaRequest {
            schema: schema.clone(),
            kind: *kind,
            rule_set: rule_set.clone(),
            ..SchemaRequest::default()
        };
        broker
            .schemas()
            .register(&format!("{topic}-value"), request)
            .await?;
    }
    broker.create_topic(topic, 1, &config).await?;
    Ok(config)
}

fn json_record(value: Bytes) -> ProduceRecord {
    ProduceRecord {
        record: Record {
            value: Some(value),
            attributes: ATTR_VALUE_JSON,
            ..Record::default()
        },
        partition: None,
    }
}
