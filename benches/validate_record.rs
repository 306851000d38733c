//! What checking one record costs, without HTTP or the log: the registry's validator on the
//! ~70-byte payment record of `benches/schemas.rs` (JSON Schema; Avro encoding; Avro plus a
//! CEL rule), against the floors any check that reads the JSON pays (serde_json skipping the
//! record — and our `json_text` reader, which produce bodies are read with, skipping it —,
//! taking it as a raw value, walking it with a visitor). Nanoseconds per record, so a
//! change to the fast paths can be judged in seconds; `benches/schemas.rs` gives the ratios a
//! client sees.
//!
//! `cargo bench --bench validate_record` (`TIDEGATE_BENCH_ROUNDS`, default 3). Stops by itself.

use std::fmt;
use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use tidegate::schema::{Entry, Registry, SchemaKind, SchemaRequest, Store, Strategy};

mod payments;

use payments::payment;

/// The allocator the `tidegate` binary ships with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Passes of the 1,000 records per figure.
const PASSES: usize = 2_000;

/// Keeps nothing: the registry's state is all this benchmark needs.
struct Discard;

impl Store for Discard {
    fn append<'a>(
        &'a self,
        _: &'a [Entry],
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async { Ok(()) })
    }
}

/// Reads every key and scalar through a visitor, as the fast paths do, and checks nothing.
struct Walk;

impl<'de> DeserializeSeed<'de> for Walk {
    type Value = u64;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
        d.deserialize_any(Walk)
    }
}

impl<'de> Visitor<'de> for Walk {
    type Value = u64;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a flat JSON object")
    }
    fn visit_unit<E>(self) -> Result<u64, E> {
        Ok(1)
    }
    fn visit_bool<E>(self, v: bool) -> Result<u64, E> {
        Ok(u64::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<u64, E> {
        Ok(v)
    }
    fn visit_i64<E>(self, v: i64) -> Result<u64, E> {
        Ok(v.unsigned_abs())
    }
    fn visit_f64<E>(self, v: f64) -> Result<u64, E> {
        Ok(v.to_bits())
    }
    fn visit_str<E>(self, v: &str) -> Result<u64, E> {
        Ok(v.len() as u64)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<u64, A::Error> {
        let mut n = 0u64;
        while let Some(key) = map.next_key::<&str>()? {
            n = n.wrapping_add(key.len() as u64);
            n = n.wrapping_add(map.next_value_seed(Walk)?);
        }
        Ok(n)
    }
}

/// Nanoseconds per record of `check` over every record, `PASSES` times.
fn per_record(records: &[Vec<u8>], mut check: impl FnMut(&[u8])) -> f64 {
    let started = Instant::now();
    for _ in 0..PASSES {
        for r in records {
            check(r);
        }
    }
    started.elapsed().as_nanos() as f64 / (PASSES * records.len()) as f64
}

fn main() -> anyhow::Result<()> {
    let rounds: usize = std::env::var("TIDEGATE_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let payments::Schemas {
        avro,
        json_schema,
        rule,
    } = payments::schemas();
    let registry = Registry::new(Arc::new(Discard));
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    runtime.block_on(async {
        let request = |schema: &str, kind, rule_set| SchemaRequest {
            schema: schema.to_owned(),
            kind,
            rule_set,
            ..SchemaRequest::default()
        };
        registry
            .register("json-value", request(&json_schema, SchemaKind::Json, None))
            .await?;
        registry
            .register("avro-value", request(&avro, SchemaKind::Avro, None))
            .await?;
        registry
            .register("cel-value", request(&avro, SchemaKind::Avro, Some(rule)))
            .await?;
        anyhow::Ok(())
    })?;
    let records: Vec<Vec<u8>> = (0..1000).map(payment).collect();
    let only = std::env::var("TIDEGATE_BENCH_ONLY").ok();
    println!(
        "ns per ~70-byte payment record, {PASSES} passes of {} records",
        records.len()
    );
    for round in 0..rounds {
        let skip = per_record(&records, |r| {
            black_box(serde_json::from_slice::<IgnoredAny>(r).is_ok());
        });
        let ours = per_record(&records, |r| {
            let Ok(text) = std::str::from_utf8(r) else {
                return;
            };
            let mut reader = tidegate::json_text::Reader::new(text);
            black_box(reader.value(std::marker::PhantomData::<IgnoredAny>).is_ok());
        });
        let raw = per_record(&records, |r| {
            black_box(serde_json::from_slice::<&RawValue>(r).is_ok());
        });
        let walk = per_record(&records, |r| {
            let Ok(text) = std::str::from_utf8(r) else {
                return;
            };
            let mut de = serde_json::Deserializer::from_str(text);
            black_box(Walk.deserialize(&mut de).ok());
        });
        let mut checks = Vec::new();
        for topic in ["json", "avro", "cel"] {
            // `TIDEGATE_BENCH_ONLY=cel` (or json, avro) times one case alone, for profiling.
            if only.as_deref().is_some_and(|o| o != topic) {
                checks.push(f64::NAN);
                continue;
            }
            let mut validator = registry.validator(topic, false, Strategy::TopicName);
            let ns = per_record(&records, |r| {
                black_box(validator.check(r, true).is_ok());
            });
            let refused = records
                .iter()
                .filter(|r| validator.check(r, true).is_err())
                .count();
            anyhow::ensure!(refused == 0, "{topic}: {refused} valid records refused");
            checks.push(ns);
        }
        println!(
            "round {round}: skip {skip:.1} (ours {ours:.1})  raw value {raw:.1}  visitor walk \
             {walk:.1}  |  \
             JSON Schema {:.1}  Avro {:.1}  Avro + CEL {:.1}",
            checks[0], checks[1], checks[2]
        );
    }
    Ok(())
}
