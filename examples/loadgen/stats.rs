//! Latency and throughput accounting, and the result table.

#[allow(
    unused_imports,
    reason = "the shared import list of the loadgen modules"
)]
use super::*;

// Statistics

#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) requests: u64,
    pub(crate) ok: u64,
    pub(crate) records: u64,
    pub(crate) payload_bytes: u64,
    pub(crate) response_bytes: u64,
    pub(crate) latencies_us: Vec<u64>,
    pub(crate) http_errors: u64,
    pub(crate) first_http_error: Option<String>,
    pub(crate) transport_errors: u64,
    pub(crate) first_transport_error: Option<String>,
    /// Open loop: requests that came due while every connection was busy.
    pub(crate) delayed: u64,
    /// Open loop: requests scheduled before the deadline but never sent (backlog at the end).
    pub(crate) unsent: u64,
}

impl Stats {
    pub(crate) fn merge(&mut self, o: Stats) {
        self.requests += o.requests;
        self.ok += o.ok;
        self.records += o.records;
        self.payload_bytes += o.payload_bytes;
        self.response_bytes += o.response_bytes;
        self.latencies_us.extend(o.latencies_us);
        self.http_errors += o.http_errors;
        self.first_http_error = self.first_http_error.take().or(o.first_http_error);
        self.transport_errors += o.transport_errors;
        self.first_transport_error = self
            .first_transport_error
            .take()
            .or(o.first_transport_error);
        self.delayed += o.delayed;
    }

    pub(crate) fn http_error(&mut self, status: u16, body: &[u8]) {
        self.http_errors += 1;
        if self.first_http_error.is_none() {
            self.first_http_error = Some(format!("HTTP {status}: {}", body_text(body)));
        }
    }

    pub(crate) fn transport_error(&mut self, e: &anyhow::Error) {
        self.transport_errors += 1;
        if self.first_transport_error.is_none() {
            self.first_transport_error = Some(format!("{e:#}"));
        }
    }

    pub(crate) fn print(mut self, title: &str, elapsed: Duration, payload_label: &str) {
        let secs = elapsed.as_secs_f64().max(1e-9);
        self.latencies_us.sort_unstable();
        let pct = |p: f64| -> String {
            if self.latencies_us.is_empty() {
                return "-".into();
            }
            let idx = ((self.latencies_us.len() as f64 * p).ceil() as usize)
                .saturating_sub(1)
                .min(self.latencies_us.len() - 1);
            fmt_us(self.latencies_us[idx])
        };
        let max = self.latencies_us.last().map_or("-".into(), |&m| fmt_us(m));
        println!("{title}");
        println!("  {:<10} {:.2} s", "elapsed", secs);
        println!(
            "  {:<10} {} ({:.1}/s, {} ok)",
            "requests",
            self.requests,
            self.requests as f64 / secs,
            self.ok
        );
        if self.records > 0 {
            println!(
                "  {:<10} {} ({:.0}/s)",
                "records",
                self.records,
                self.records as f64 / secs
            );
        }
        if self.payload_bytes > 0 {
            println!(
                "  {:<10} {:.1} MB/s ({:.1} MB {payload_label})",
                "payload",
                self.payload_bytes as f64 / 1e6 / secs,
                self.payload_bytes as f64 / 1e6
            );
        }
        println!(
            "  {:<10} {:.1} MB/s ({:.1} MB)",
            "responses",
            self.response_bytes as f64 / 1e6 / secs,
            self.response_bytes as f64 / 1e6
        );
        println!(
            "  {:<10} p50 {}  p90 {}  p99 {}  max {}",
            "latency",
            pct(0.50),
            pct(0.90),
            pct(0.99),
            max
        );
        if self.unsent > 0 {
            println!(
                "  {:<10} {} scheduled requests never sent (backlog at the deadline)",
                "unsent", self.unsent
            );
        }
        if self.delayed > 0 {
            println!(
                "  {:<10} {} requests waited for a free connection",
                "delayed", self.delayed
            );
        }
        println!(
            "  {:<10} {} non-2xx, {} transport",
            "errors", self.http_errors, self.transport_errors
        );
        if let Some(e) = &self.first_http_error {
            println!("  {:<10} {e}", "first");
        }
        if let Some(e) = &self.first_transport_error {
            println!("  {:<10} {e}", "first");
        }
    }
}

pub(crate) fn conns(n: usize) -> String {
    format!("{n} connection{}", if n == 1 { "" } else { "s" })
}

pub(crate) fn fmt_us(us: u64) -> String {
    if us >= 1_000_000 {
        format!("{:.2}s", us as f64 / 1e6)
    } else if us >= 1000 {
        format!("{:.2}ms", us as f64 / 1e3)
    } else {
        format!("{us}µs")
    }
}
