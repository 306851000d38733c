//! `loadgen subscribe`: WebSocket subscribers against a live producer.
//!
//! - live (default): `--subscribers N` WebSocket subscribers from `latest`, one producer
//!   sending single records at `--rate` records/s (open loop); each record carries its send
//!   time, so every subscriber measures end-to-end latency (produce → delivered frame).
//! - `--idle`: open `--subscribers N` subscriptions and hold them; with `--server-pid`, prints
//!   the server's resident memory per subscription.
//! - `--catch-up N`: N subscribers read the whole topic from `earliest` (fill it first);
//!   delivered records/s to compare with `loadgen fetch` of the same topic.

#[allow(
    unused_imports,
    reason = "the shared import list of the loadgen modules"
)]
use super::*;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

#[derive(Args)]
pub(crate) struct SubscribeOpts {
    /// Server base URL.
    #[arg(long, env = "TIDEGATE_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// Topic (created if missing, 1 partition).
    #[arg(long)]
    topic: String,
    /// WebSocket subscribers.
    #[arg(long, default_value_t = 1000)]
    subscribers: usize,
    /// Records per second the producer sends (live mode).
    #[arg(long, default_value_t = 2000.0)]
    rate: f64,
    /// How long to produce (live) or hold (idle).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Hold idle subscriptions instead of producing.
    #[arg(long)]
    idle: bool,
    /// Read the whole topic from earliest with this many subscribers; stop at its end offset.
    #[arg(long)]
    catch_up: bool,
    /// Ask for one JSON array per frame (`batch=true`) instead of one record per frame.
    #[arg(long)]
    batch: bool,
    /// The server's pid, to report its resident memory (Linux /proc).
    #[arg(long)]
    server_pid: Option<u32>,
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn micros_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// What precedes a record's send time in its JSON (the producer sends `{"t": micros}` values;
/// the server writes the value as it was stored, without spaces).
const SENT_AT: &str = r#""value":{"t":"#;

/// The send times in one frame (a record or, with `--batch`, an array of records). A scan for
/// the value's prefix, not a JSON parse: the client shares the server's 2 cores, and parsing
/// 2 million records/s took most of one of them, which the server's latency then paid for.
fn send_times(text: &str) -> Vec<u64> {
    text.match_indices(SENT_AT)
        .filter_map(|(at, _)| {
            let digits = &text[at + SENT_AT.len()..];
            let end = digits
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(digits.len());
            digits[..end].parse().ok()
        })
        .collect()
}

async fn open(target: &Target, topic: &str, from: &str, batch: bool) -> Result<Socket> {
    let url = format!(
        "ws://{}/v1/topics/{}/subscribe?from={from}&max_in_flight=1000&batch={batch}",
        target.addr,
        percent_encode(topic)
    );
    // tungstenite zero-fills its whole read buffer (128 KiB by default) before each socket
    // read: with 1,000 subscribers that memset took a third of the client's CPU, which the
    // server's latency paid for on shared cores. A frame still grows the buffer as needed.
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(8 << 10);
    let (ws, _) = tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), false)
        .await
        .context("WebSocket connect")?;
    Ok(ws)
}

pub(crate) async fn subscribe(o: SubscribeOpts) -> Result<()> {
    // 10,000 sockets need more descriptors than the default soft limit.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let target = Target::resolve(&o.server).await?;
    ensure_topic(&target, &o.topic, 1).await?;
    let before = o.server_pid.and_then(rss_kib);
    let from = if o.catch_up { "earliest" } else { "latest" };
    let mut sockets = Vec::with_capacity(o.subscribers);
    for _ in 0..o.subscribers {
        sockets.push(open(&target, &o.topic, from, o.batch).await?);
    }
    eprintln!("{} subscribers connected", sockets.len());
    if o.idle {
        tokio::time::sleep(Duration::from_secs(2)).await;
        if let (Some(pid), Some(before)) = (o.server_pid, before) {
            let after = rss_kib(pid).unwrap_or(before);
            println!(
                "server RSS {before} KiB → {after} KiB with {} idle subscriptions: {:.1} KiB each",
                o.subscribers,
                after.saturating_sub(before) as f64 / o.subscribers as f64
            );
        }
        tokio::time::sleep(o.duration).await;
        return Ok(());
    }
    if o.catch_up {
        return catch_up(&target, &o.topic, sockets).await;
    }
    live(&target, &o, sockets).await
}

async fn live(target: &Target, o: &SubscribeOpts, sockets: Vec<Socket>) -> Result<()> {
    let deadline = Instant::now() + o.duration;
    // Subscribers drain until a quiet second after the deadline.
    let readers: Vec<_> = sockets
        .into_iter()
        .map(|mut ws| {
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut delivered = 0u64;
                loop {
                    let next = tokio::time::timeout(Duration::from_secs(1), ws.next()).await;
                    // Stop after a quiet second past the deadline, or 5 s past it at most.
                    if Instant::now() > deadline + Duration::from_secs(5) {
                        break;
                    }
                    let Ok(Some(Ok(msg))) = next else {
                        if Instant::now() > deadline {
                            break;
                        }
                        continue;
                    };
                    if let Message::Text(t) = msg {
                        let now = micros_now();
                        for sent in send_times(t.as_str()) {
                            latencies.push(now.saturating_sub(sent));
                            delivered += 1;
                        }
                    }
                }
                let _ = ws.close(None).await;
                (delivered, latencies)
            })
        })
        .collect();
    // Open loop: a clock hands out send slots; 32 connections take them, so one slow answer
    // (an fsync) does not hold back the schedule.
    let path = format!("/v1/topics/{}/records", percent_encode(&o.topic));
    let (slots, rx) = tokio::sync::mpsc::channel::<()>(1 << 16);
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let produced = Arc::new(AtomicU64::new(0));
    let mut senders = Vec::new();
    for _ in 0..32 {
        let (rx, produced, path) = (Arc::clone(&rx), Arc::clone(&produced), path.clone());
        let mut conn = target.connect().await?;
        senders.push(tokio::spawn(async move {
            loop {
                if rx.lock().await.recv().await.is_none() {
                    return Ok::<(), anyhow::Error>(());
                }
                let body = format!(r#"{{"records":[{{"value":{{"t":{}}}}}]}}"#, micros_now());
                let reply = conn
                    .send(Method::POST, &path, Some(Bytes::from(body)))
                    .await?;
                if reply.status != 200 {
                    bail!("produce: HTTP {}: {}", reply.status, body_text(&reply.body));
                }
                produced.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let every = Duration::from_secs_f64(1.0 / o.rate.max(0.001));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    while Instant::now() < deadline {
        tick.tick().await;
        if slots.try_send(()).is_err() {
            break;
        }
    }
    drop(slots);
    for s in senders {
        s.await??;
    }
    let produced = produced.load(Ordering::Relaxed);
    let produce_secs = started.elapsed().as_secs_f64();
    let mut all = Vec::new();
    let mut delivered = 0u64;
    for r in readers {
        let (n, mut l) = r.await?;
        delivered += n;
        all.append(&mut l);
    }
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map_or(0.0, |us| *us as f64 / 1000.0)
    };
    println!(
        "live: {produced} records produced at {:.0}/s to {} subscribers; {delivered} delivered \
         ({:.0} records/s, {:.1}% of expected)",
        produced as f64 / produce_secs,
        o.subscribers,
        delivered as f64 / produce_secs,
        100.0 * delivered as f64 / (produced as f64 * o.subscribers as f64).max(1.0)
    );
    println!(
        "end-to-end latency: p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(1.0)
    );
    Ok(())
}

async fn catch_up(target: &Target, topic: &str, sockets: Vec<Socket>) -> Result<()> {
    let reply = one_shot(
        target,
        Method::GET,
        &format!("/v1/topics/{}", percent_encode(topic)),
        None,
    )
    .await?;
    let desc: serde_json::Value = serde_json::from_slice(&reply.body)?;
    let end = desc["partitions"][0]["end_offset"].as_u64().unwrap_or(0);
    if end == 0 {
        bail!("topic {topic} is empty: fill it first (loadgen fill)");
    }
    let started = Instant::now();
    let readers: Vec<_> = sockets
        .into_iter()
        .map(|mut ws| {
            tokio::spawn(async move {
                let (mut records, mut bytes) = (0u64, 0u64);
                while records < end {
                    match tokio::time::timeout(Duration::from_secs(30), ws.next()).await {
                        Ok(Some(Ok(Message::Text(t)))) => {
                            records += 1;
                            bytes += t.len() as u64;
                        }
                        Ok(Some(Ok(_))) => {}
                        _ => break,
                    }
                }
                let _ = ws.send(Message::Close(None)).await;
                (records, bytes)
            })
        })
        .collect();
    let (mut records, mut bytes) = (0u64, 0u64);
    for r in readers {
        let (n, b) = r.await?;
        records += n;
        bytes += b;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "catch-up: {records} records ({:.1} MB of frames) in {secs:.2} s: {:.0} records/s in all",
        bytes as f64 / 1e6,
        records as f64 / secs
    );
    Ok(())
}
