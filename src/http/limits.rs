//! Request rates per principal: a token bucket for each (refilled at `rate` per second, up to
//! `burst`), so one principal's flood is answered 429 with `Retry-After` while the others keep
//! being served. Superusers (the admin token, everyone when authentication is off) are not
//! limited; nor are the health checks, which need no principal.
//!
//! Owns the buckets and their bound (idle full buckets are dropped when the table grows past
//! `MAX_PRINCIPALS`). It must not authenticate.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hyper::StatusCode;
use parking_lot::Mutex;

use super::error::ApiError;
use crate::broker::Principal;

/// Buckets kept before idle ones are dropped.
const MAX_PRINCIPALS: usize = 100_000;

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The per-principal request limiter; `rate` 0 turns it off.
pub struct RateLimits {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits")
            .field("rate", &self.rate)
            .field("burst", &self.burst)
            .finish_non_exhaustive()
    }
}

impl RateLimits {
    /// `rate` requests per second per principal, bursts of `burst` (at least 1).
    #[must_use]
    pub fn new(rate: u32, burst: u32) -> Self {
        Self {
            rate: f64::from(rate),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::default(),
        }
    }

    /// Takes one request's token, or answers 429 with the seconds until one is there.
    pub fn admit(&self, principal: &Principal) -> Result<(), ApiError> {
        if self.rate <= 0.0 || principal.superuser {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock();
        if buckets.len() >= MAX_PRINCIPALS && !buckets.contains_key(&principal.name) {
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < burst);
        }
        let bucket = buckets.entry(principal.name.clone()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let refill = now.duration_since(bucket.at).as_secs_f64() * self.rate;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let wait = Duration::from_secs_f64((1.0 - bucket.tokens) / self.rate);
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            1,
            format!(
                "principal '{}' is over its request rate of {} per second",
                principal.name, self.rate
            ),
        );
        e.retry_after = Some(wait.as_secs().max(1));
        Err(e)
    }
}
