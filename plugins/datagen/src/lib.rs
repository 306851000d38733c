//! `datagen`: realistic-looking fake events for demos and load tests (world `source-connector`).
//!
//! # Config
//!
//! * `template`: `orders` (default), `users` or `pageviews`;
//! * `rate`: records per second (default 10; `0` = as many as the host asks for per poll);
//! * `max.records` (optional): the total number of records, counted across restarts; once
//!   reached, polls return nothing;
//! * `seed` (default 1): any whole number; another seed, another sequence.
//!
//! # Behaviour
//!
//! Record number `n` (0-based, counted across restarts through the committed offset) is a pure
//! function of (`seed`, `template`, `n`): a resumed or re-run generator produces the same
//! records (only the record timestamp, the wall clock at the poll, differs). Values are compact
//! JSON objects (`value-json`); the key is the record's id as a JSON string (`key-json`):
//!
//! * `orders`: `{"order_id":"o-00000042","customer_id":"c-01234","product":"monitor",
//!   "quantity":2,"price":"189.90","currency":"EUR","country":"DE"}` (price: a decimal string
//!   with two decimals, in the country's currency; no creation time, the record timestamp is
//!   that);
//! * `users`: `{"user_id":"u-00000042","name":"Grace Hopper","email":
//!   "grace.hopper42@example.com","country":"US","plan":"pro"}`;
//! * `pageviews`: `{"view_id":"p-00000042","user_id":"u-00031337","path":"/pricing",
//!   "referrer":"https://github.com/","duration_ms":5320}` (`referrer` null for direct visits).
//!
//! Position: source partition `{"generator":"datagen","template":"<template>"}`, offset
//! `{"seq":<n + 1>}` (the next record number). `open` resumes at the committed `seq` of its
//! template's partition, so altering that offset (`PATCH /connectors/{name}/offsets`) jumps.
//!
//! Rate: on each poll, `floor(ms since open × rate / 1000)` minus the records emitted since open
//! are due (host monotonic clock), capped by the poll's `max-records` and by `max.records`.
//!
//! The generator: `splitmix64`, seeded per record with `mix(seed ^ mix(n))`; each field draws
//! `next() % k` in the order listed above. `plugins/python-datagen` implements `orders` the same
//! way, record for record.

wit_bindgen::generate!({ path: "../../wit", world: "source-connector" });

use std::cell::RefCell;

use exports::tidegate::plugin::{source, validate};
use serde_json::{Value, json};
use tidegate::plugin::connector_types::{ConnectorError, SourceOffset};
use tidegate::plugin::types::{Encoding, Message};
use tidegate_connect::{config_get, monotonic_ms, now_ms};

struct Datagen;

/// What the records look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Template {
    Orders,
    Users,
    Pageviews,
}

impl Template {
    fn name(self) -> &'static str {
        match self {
            Self::Orders => "orders",
            Self::Users => "users",
            Self::Pageviews => "pageviews",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        match name {
            "orders" => Some(Self::Orders),
            "users" => Some(Self::Users),
            "pageviews" => Some(Self::Pageviews),
            _ => None,
        }
    }
}

/// What `open` parsed from the config.
struct Settings {
    template: Template,
    /// Records per second; 0 = unthrottled.
    rate: u64,
    /// Total records, across restarts.
    max: Option<u64>,
    seed: u64,
}

struct State {
    settings: Settings,
    /// The source partition, `{"generator":"datagen","template":"<t>"}`.
    partition: String,
    /// The next record number.
    next: u64,
    /// When `open` ran (monotonic ms).
    opened_ms: u64,
    emitted_since_open: u64,
}

thread_local! {
    static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
}

/// Reads the config, collecting a field error for everything wrong with it.
fn parse(config: &[(String, String)]) -> Result<Settings, Vec<validate::FieldError>> {
    let mut errors = Vec::new();
    let mut refuse = |field: &str, message: String| {
        errors.push(validate::FieldError {
            field: field.to_owned(),
            message,
        });
    };
    let template = config_get(config, "template").unwrap_or("orders");
    let template = Template::parse(template).unwrap_or_else(|| {
        refuse(
            "template",
            format!("'{template}': use orders, users or pageviews"),
        );
        Template::Orders
    });
    let mut number = |key: &str, what: &str| match config_get(config, key) {
        None => None,
        Some(v) => v.parse::<u64>().map_or_else(
            |_| {
                refuse(key, format!("'{v}': must be {what}"));
                None
            },
            Some,
        ),
    };
    let rate = number("rate", "a whole number of records per second ≥ 0").unwrap_or(10);
    let max = number("max.records", "a whole number of records ≥ 0");
    let seed = number("seed", "a whole number ≥ 0").unwrap_or(1);
    if errors.is_empty() {
        Ok(Settings {
            template,
            rate,
            max,
            seed,
        })
    } else {
        Err(errors)
    }
}

impl validate::Guest for Datagen {
    fn validate(config: Vec<(String, String)>) -> Vec<validate::FieldError> {
        parse(&config).err().unwrap_or_default()
    }
}

/// One step of `splitmix64`.
fn mix(z: u64) -> u64 {
    let z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The random numbers of one record.
struct Dice(u64);

impl Dice {
    /// The stream of record `n`.
    fn for_record(seed: u64, n: u64) -> Self {
        Self(mix(seed ^ mix(n)))
    }

    /// A number in `0..below` (0 if `below` is 0).
    fn roll(&mut self, below: u64) -> u64 {
        self.0 = mix(self.0);
        self.0.checked_rem(below).unwrap_or(0)
    }

    /// One of `items`.
    fn pick<T: Copy + Default>(&mut self, items: &[T]) -> T {
        let i = self.roll(items.len() as u64);
        usize::try_from(i)
            .ok()
            .and_then(|i| items.get(i).copied())
            .unwrap_or_default()
    }
}

/// Product and list price in cents.
const PRODUCTS: &[(&str, u64)] = &[
    ("keyboard", 7_900),
    ("monitor", 18_900),
    ("mouse", 2_900),
    ("laptop", 119_900),
    ("headset", 8_900),
    ("webcam", 5_900),
    ("dock", 14_900),
    ("cable", 1_290),
];
/// Country and its currency.
const MARKETS: &[(&str, &str)] = &[
    ("DE", "EUR"),
    ("FR", "EUR"),
    ("NL", "EUR"),
    ("ES", "EUR"),
    ("US", "USD"),
    ("GB", "GBP"),
    ("CA", "CAD"),
    ("CH", "CHF"),
];
const FIRST_NAMES: &[&str] = &[
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Linus", "Frances", "Ken",
];
const LAST_NAMES: &[&str] = &[
    "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Torvalds", "Allen",
    "Thompson",
];
const PLANS: &[&str] = &["free", "free", "free", "pro", "pro", "team", "enterprise"];
const PATHS: &[&str] = &[
    "/",
    "/pricing",
    "/docs",
    "/docs/getting-started",
    "/docs/api",
    "/blog",
    "/blog/release-notes",
    "/signup",
    "/login",
];
/// Referrers; `None` is a direct visit.
const REFERRERS: &[Option<&str>] = &[
    None,
    None,
    Some("https://www.google.com/"),
    Some("https://www.google.com/"),
    Some("https://news.ycombinator.com/"),
    Some("https://github.com/"),
    Some("https://www.linkedin.com/"),
];

/// Record `n`'s id and value.
/// Record `n`'s id and its value as compact JSON text, keys sorted (what `serde_json` writes
/// for a map; the Python datagen writes the same). Written directly: every field comes from
/// fixed ASCII tables or numbers, so nothing needs escaping, and it is several times cheaper
/// than building a `Value`.
fn generate(template: Template, seed: u64, n: u64) -> (String, String) {
    let mut d = Dice::for_record(seed, n);
    match template {
        Template::Orders => {
            let id = format!("o-{n:08}");
            let customer = d.roll(10_000);
            let (product, list_cents) = d.pick(PRODUCTS);
            let quantity = 1 + d.roll(4);
            // ±10 % around the list price.
            let cents = list_cents - list_cents / 10 + d.roll(list_cents / 5 + 1);
            let (country, currency) = d.pick(MARKETS);
            let value = format!(
                r#"{{"country":"{country}","currency":"{currency}","customer_id":"c-{customer:05}","order_id":"{id}","price":"{}.{:02}","product":"{product}","quantity":{quantity}}}"#,
                cents / 100,
                cents % 100
            );
            (id, value)
        }
        Template::Users => {
            let id = format!("u-{n:08}");
            let (first, last) = (d.pick(FIRST_NAMES), d.pick(LAST_NAMES));
            let (country, _) = d.pick(MARKETS);
            let plan = d.pick(PLANS);
            let email = format!(
                "{}.{}{n}@example.com",
                first.to_lowercase(),
                last.to_lowercase()
            );
            let value = format!(
                r#"{{"country":"{country}","email":"{email}","name":"{first} {last}","plan":"{plan}","user_id":"{id}"}}"#
            );
            (id, value)
        }
        Template::Pageviews => {
            let id = format!("p-{n:08}");
            let user = d.roll(50_000);
            let path = d.pick(PATHS);
            let referrer = match d.pick(REFERRERS) {
                Some(r) => format!("\"{r}\""),
                None => "null".to_owned(),
            };
            let duration_ms = 200 + d.roll(60_000);
            let value = format!(
                r#"{{"duration_ms":{duration_ms},"path":"{path}","referrer":{referrer},"user_id":"u-{user:08}","view_id":"{id}"}}"#
            );
            (id, value)
        }
    }
}

fn partition(template: Template) -> String {
    json!({"generator": "datagen", "template": template.name()}).to_string()
}

impl State {
    /// How many records this poll may emit.
    fn due(&self, max_records: u32) -> u64 {
        let mut due = u64::from(max_records);
        let s = &self.settings;
        if s.rate > 0 {
            let elapsed = monotonic_ms().saturating_sub(self.opened_ms);
            let allowed =
                u64::try_from(u128::from(elapsed) * u128::from(s.rate) / 1000).unwrap_or(u64::MAX);
            due = due.min(allowed.saturating_sub(self.emitted_since_open));
        }
        if let Some(max) = s.max {
            due = due.min(max.saturating_sub(self.next));
        }
        // `seq` is `n + 1`: the last number is never generated.
        due.min(u64::MAX - self.next)
    }
}

impl source::Guest for Datagen {
    fn open(config: Vec<(String, String)>, committed: Vec<SourceOffset>) -> Result<(), String> {
        let settings = parse(&config).map_err(|errors| {
            errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; ")
        })?;
        let partition = partition(settings.template);
        let next = committed
            .iter()
            .filter(|o| o.partition == partition)
            .filter_map(|o| serde_json::from_str::<Value>(&o.offset).ok())
            .filter_map(|v| v.get("seq").and_then(Value::as_u64))
            .next_back()
            .unwrap_or(0);
        STATE.set(Some(State {
            settings,
            partition,
            next,
            opened_ms: monotonic_ms(),
            emitted_since_open: 0,
        }));
        Ok(())
    }

    fn poll(max_records: u32) -> Result<Vec<source::SourceRecord>, ConnectorError> {
        STATE.with_borrow_mut(|state| {
            let Some(st) = state else {
                return Err(ConnectorError::Fatal("poll before open".into()));
            };
            let due = st.due(max_records);
            let timestamp = now_ms();
            let mut out = Vec::with_capacity(usize::try_from(due).unwrap_or(0));
            for _ in 0..due {
                let n = st.next;
                let (id, value) = generate(st.settings.template, st.settings.seed, n);
                out.push(source::SourceRecord {
                    message: Message {
                        key: Some(format!("\"{id}\"").into_bytes()),
                        value: Some(value.into_bytes()),
                        headers: Vec::new(),
                        timestamp,
                        encoding: Encoding::KEY_JSON | Encoding::VALUE_JSON,
                    },
                    position: SourceOffset {
                        partition: st.partition.clone(),
                        offset: format!(r#"{{"seq":{}}}"#, n + 1),
                    },
                });
                st.next = n + 1;
                st.emitted_since_open += 1;
            }
            Ok(out)
        })
    }

    fn commit(_offsets: Vec<SourceOffset>) {}

    fn close() {}
}

export!(Datagen);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_a_function_of_seed_template_and_number() {
        for t in [Template::Orders, Template::Users, Template::Pageviews] {
            assert_eq!(generate(t, 1, 42), generate(t, 1, 42));
            assert_ne!(generate(t, 1, 42).1, generate(t, 2, 42).1);
        }
        for t in [Template::Orders, Template::Users, Template::Pageviews] {
            for n in 0..200 {
                let (_, text) = generate(t, 7, n);
                let value: Value = serde_json::from_str(&text).unwrap_or_default();
                assert_eq!(value.to_string(), text, "valid, compact, keys sorted");
            }
        }
        let (id, order) = generate(Template::Orders, 1, 0);
        assert_eq!(id, "o-00000000");
        let order: Value = serde_json::from_str(&order).unwrap_or_default();
        let price = order["price"].as_str().unwrap_or_default();
        assert!(
            price
                .split_once('.')
                .is_some_and(|(_, cents)| cents.len() == 2),
            "{order}"
        );
    }
}
