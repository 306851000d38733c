//! Limits per principal, on top of the global ones: requests per second, request body bytes
//! per second (what produce sends), fetched bytes per second, and open streams (SSE streams
//! and WebSocket subscriptions). One principal over a limit is answered 429 with
//! `Retry-After` while the others keep being served. Superusers (the admin token, everyone
//! when authentication is off) are not limited; nor are the health checks.
//!
//! Rates are token buckets refilled at `rate` per second up to one second's worth (the
//! request bucket up to `burst`). Byte buckets may go into debt — a 5 MB produce is let in,
//! then the next ones wait until it is paid for — so a request's size never decides whether it
//! can ever pass (Kafka's quotas work the same way).
//!
//! Owns the per-principal table and its bound (idle entries are dropped when it grows past
//! `MAX_PRINCIPALS`). It must not authenticate.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::StatusCode;
use parking_lot::Mutex;

use super::error::ApiError;
use crate::broker::Principal;

/// Entries kept before idle ones are dropped.
const MAX_PRINCIPALS: usize = 100_000;

/// The limits, each 0 for none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quotas {
    /// Requests per second.
    pub request_rate: u32,
    /// Requests at once (at least 1).
    pub request_burst: u32,
    /// Request body bytes per second (produce and other JSON bodies, WebSocket produce
    /// frames, streamed v3 bodies; not plugin uploads).
    pub produce_bytes_rate: u64,
    /// Bytes of fetched records per second (native fetch, REST Proxy v2 consumer records).
    pub fetch_bytes_rate: u64,
    /// Open SSE streams and WebSocket subscriptions.
    pub max_streams: u32,
    /// Open connections, each counted for the principal of its first authenticated request.
    pub max_connections: u32,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(capacity: f64, now: Instant) -> Self {
        Self {
            tokens: capacity,
            at: now,
        }
    }

    fn refill(&mut self, rate: f64, capacity: f64, now: Instant) {
        let refill = now.duration_since(self.at).as_secs_f64() * rate;
        self.tokens = (self.tokens + refill).min(capacity);
        self.at = now;
    }

    /// Seconds until the bucket holds `need` tokens (rounded up, at least 1).
    fn wait(&self, need: f64, rate: f64) -> u64 {
        let seconds = ((need - self.tokens) / rate).ceil().max(1.0);
        Duration::from_secs_f64(seconds.min(86_400.0)).as_secs()
    }
}

struct Entry {
    requests: Bucket,
    produced: Bucket,
    fetched: Bucket,
    streams: u32,
    connections: u32,
}

/// Entries by principal name.
type Table = Arc<Mutex<HashMap<String, Entry>>>;

/// The per-principal limiter.
pub struct PrincipalLimits {
    quotas: Quotas,
    table: Table,
}

impl std::fmt::Debug for PrincipalLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrincipalLimits")
            .field("quotas", &self.quotas)
            .finish_non_exhaustive()
    }
}

fn too_many(code: u32, retry_after: u64, message: String) -> ApiError {
    let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, code, message);
    e.retry_after = Some(retry_after);
    e
}

impl PrincipalLimits {
    #[must_use]
    pub fn new(quotas: Quotas) -> Self {
        Self {
            quotas,
            table: Arc::default(),
        }
    }

    fn capacities(&self) -> (f64, f64, f64) {
        let q = &self.quotas;
        (
            f64::from(q.request_burst.max(1)),
            q.produce_bytes_rate as f64,
            q.fetch_bytes_rate as f64,
        )
    }

    /// Runs `f` on the principal's entry (refilled to now), creating it on first use.
    fn with_entry<R>(&self, principal: &Principal, f: impl FnOnce(&mut Entry) -> R) -> R {
        let now = Instant::now();
        let (requests, produced, fetched) = self.capacities();
        let q = self.quotas;
        let mut table = self.table.lock();
        if table.len() >= MAX_PRINCIPALS && !table.contains_key(&principal.name) {
            // Keep only entries that hold something: open streams, or a bucket not yet full.
            table.retain(|_, e| {
                e.requests.refill(f64::from(q.request_rate), requests, now);
                e.produced.refill(produced, produced, now);
                e.fetched.refill(fetched, fetched, now);
                e.streams > 0
                    || e.connections > 0
                    || e.requests.tokens < requests
                    || e.produced.tokens < produced
                    || e.fetched.tokens < fetched
            });
        }
        let entry = table.entry(principal.name.clone()).or_insert(Entry {
            requests: Bucket::full(requests, now),
            produced: Bucket::full(produced, now),
            fetched: Bucket::full(fetched, now),
            streams: 0,
            connections: 0,
        });
        entry
            .requests
            .refill(f64::from(q.request_rate), requests, now);
        entry.produced.refill(produced, produced, now);
        entry.fetched.refill(fetched, fetched, now);
        f(entry)
    }

    /// Takes one request's token, or answers 429 (42901) with the seconds until one is there.
    pub fn admit(&self, principal: &Principal) -> Result<(), ApiError> {
        let rate = f64::from(self.quotas.request_rate);
        if rate <= 0.0 || principal.superuser {
            return Ok(());
        }
        self.with_entry(principal, |e| {
            if e.requests.tokens >= 1.0 {
                e.requests.tokens -= 1.0;
                return Ok(());
            }
            let message = format!(
                "principal '{}' is over its request rate of {rate} per second",
                principal.name
            );
            Err(too_many(1, e.requests.wait(1.0, rate), message))
        })
    }

    /// Refuses a request body (429, 42902) while the principal's produce bytes are in debt.
    pub fn check_produce(&self, principal: &Principal) -> Result<(), ApiError> {
        self.check_bytes(principal, &Bytes::Produce)
    }

    /// Charges `bytes` of request body.
    pub fn charge_produce(&self, principal: &Principal, bytes: usize) {
        self.charge_bytes(principal, &Bytes::Produce, bytes);
    }

    /// Refuses a fetch (429, 42903) while the principal's fetched bytes are in debt.
    pub fn check_fetch(&self, principal: &Principal) -> Result<(), ApiError> {
        self.check_bytes(principal, &Bytes::Fetch)
    }

    /// Charges `bytes` a fetch returned.
    pub fn charge_fetch(&self, principal: &Principal, bytes: usize) {
        self.charge_bytes(principal, &Bytes::Fetch, bytes);
    }

    fn check_bytes(&self, principal: &Principal, kind: &Bytes) -> Result<(), ApiError> {
        let rate = kind.rate(&self.quotas);
        if rate == 0 || principal.superuser {
            return Ok(());
        }
        self.with_entry(principal, |e| {
            let bucket = kind.bucket(e);
            if bucket.tokens >= 0.0 {
                return Ok(());
            }
            let message = format!(
                "principal '{}' is over its {} rate of {rate} bytes per second",
                principal.name,
                kind.name()
            );
            Err(too_many(
                kind.code(),
                bucket.wait(0.0, rate as f64),
                message,
            ))
        })
    }

    fn charge_bytes(&self, principal: &Principal, kind: &Bytes, bytes: usize) {
        if kind.rate(&self.quotas) == 0 || principal.superuser {
            return;
        }
        self.with_entry(principal, |e| kind.bucket(e).tokens -= bytes as f64);
    }

    /// Counts one more open stream until the permit is dropped; refused (429, 42904) at the
    /// principal's limit.
    pub fn open_stream(&self, principal: &Principal) -> Result<Permit, ApiError> {
        let max = self.quotas.max_streams;
        if max == 0 || principal.superuser {
            return Ok(Permit(None));
        }
        self.with_entry(principal, |e| {
            if e.streams >= max {
                let message = format!(
                    "principal '{}' has {max} streams open, its limit; close one first",
                    principal.name
                );
                return Err(too_many(4, 1, message));
            }
            e.streams += 1;
            Ok(self.permit(principal, Held::Stream))
        })
    }

    /// Counts the connection `slot` belongs to for `principal`, unless it is counted already
    /// (for whoever first used it); refused (429, 42905) at the principal's limit.
    pub fn attribute_connection(
        &self,
        slot: &Mutex<Option<Permit>>,
        principal: &Principal,
    ) -> Result<(), ApiError> {
        let max = self.quotas.max_connections;
        if max == 0 || principal.superuser {
            return Ok(());
        }
        let mut slot = slot.lock();
        if slot.is_some() {
            return Ok(());
        }
        self.with_entry(principal, |e| {
            if e.connections >= max {
                let message = format!(
                    "principal '{}' has {max} connections open, its limit",
                    principal.name
                );
                return Err(too_many(5, 1, message));
            }
            e.connections += 1;
            *slot = Some(self.permit(principal, Held::Connection));
            Ok(())
        })
    }

    fn permit(&self, principal: &Principal, held: Held) -> Permit {
        Permit(Some((
            Arc::clone(&self.table),
            principal.name.clone(),
            held,
        )))
    }
}

/// Which byte rate.
enum Bytes {
    Produce,
    Fetch,
}

impl Bytes {
    fn rate(&self, quotas: &Quotas) -> u64 {
        match self {
            Self::Produce => quotas.produce_bytes_rate,
            Self::Fetch => quotas.fetch_bytes_rate,
        }
    }

    fn bucket<'a>(&self, entry: &'a mut Entry) -> &'a mut Bucket {
        match self {
            Self::Produce => &mut entry.produced,
            Self::Fetch => &mut entry.fetched,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Self::Produce => "produce",
            Self::Fetch => "fetch",
        }
    }

    fn code(&self) -> u32 {
        match self {
            Self::Produce => 2,
            Self::Fetch => 3,
        }
    }
}

/// What a permit holds.
#[derive(Clone, Copy)]
enum Held {
    Stream,
    Connection,
}

/// One open stream or connection of a principal; dropping it frees the slot.
pub struct Permit(Option<(Table, String, Held)>);

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some((table, name, held)) = self.0.take()
            && let Some(entry) = table.lock().get_mut(&name)
        {
            let count = match held {
                Held::Stream => &mut entry.streams,
                Held::Connection => &mut entry.connections,
            };
            *count = count.saturating_sub(1);
        }
    }
}
