//! Closed- and open-loop load: the produce, get and fill modes.

#[allow(
    unused_imports,
    reason = "the shared import list of the loadgen modules"
)]
use super::*;

// Request-loop engine shared by produce / get / fill

/// What every request of a run looks like.
pub(crate) struct Workload {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) body: Option<Bytes>,
    /// Records (and payload bytes) credited per successful request.
    pub(crate) records_per_request: u64,
    pub(crate) payload_per_request: u64,
}

pub(crate) struct RunPlan {
    pub(crate) connections: usize,
    pub(crate) duration: Duration,
    pub(crate) max_requests: Option<u64>,
    pub(crate) rate: Option<f64>,
}

pub(crate) async fn run_load(
    target: &Target,
    workload: Workload,
    plan: RunPlan,
) -> Result<(Stats, Duration)> {
    if plan.connections == 0 {
        bail!("--connections must be at least 1");
    }
    if plan.rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
        bail!("--rate must be positive");
    }
    let workload = Arc::new(workload);
    let issued = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + plan.duration;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..plan.connections {
        let w = Arc::clone(&workload);
        let issued = Arc::clone(&issued);
        let target = target.clone();
        let max = plan.max_requests;
        let rate = plan.rate;
        tasks.spawn(async move { worker(target, w, issued, max, rate, start, deadline).await });
    }
    let mut stats = Stats::default();
    while let Some(res) = tasks.join_next().await {
        match res {
            Ok(s) => stats.merge(s),
            Err(e) => stats.transport_error(&anyhow!("worker task failed: {e}")),
        }
    }
    if let Some(r) = plan.rate {
        let mut scheduled = (plan.duration.as_secs_f64() * r).ceil() as u64;
        if let Some(m) = plan.max_requests {
            scheduled = scheduled.min(m);
        }
        stats.unsent = scheduled.saturating_sub(stats.requests);
    }
    Ok((stats, start.elapsed()))
}

pub(crate) async fn worker(
    target: Target,
    w: Arc<Workload>,
    issued: Arc<AtomicU64>,
    max_requests: Option<u64>,
    rate: Option<f64>,
    start: Instant,
    deadline: Instant,
) -> Stats {
    let mut stats = Stats::default();
    let mut conn: Option<Conn> = None;
    loop {
        // Claim the next request (shared counter: exact --max-requests, and in open-loop mode
        // the request's index fixes its scheduled send time).
        let i = issued.fetch_add(1, Ordering::Relaxed);
        if max_requests.is_some_and(|m| i >= m) {
            break;
        }
        let scheduled = match rate {
            Some(r) => {
                let t = start + Duration::from_secs_f64(i as f64 / r);
                if t >= deadline || Instant::now() >= deadline {
                    break;
                }
                // Claiming a slot after its scheduled time means every connection was busy
                // when it came due: it waited, and its latency includes that wait.
                if Instant::now() > t {
                    stats.delayed += 1;
                } else {
                    tokio::time::sleep_until(t).await;
                }
                t
            }
            None => {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                now
            }
        };

        if conn.is_none() {
            match target.connect().await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    stats.transport_error(&e);
                    stats.requests += 1;
                    // Back off a little rather than hammering a server that refuses us.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        let result = tokio::time::timeout_at(
            deadline + Duration::from_secs(30),
            c.send(w.method.clone(), &w.path, w.body.clone()),
        )
        .await;
        stats.requests += 1;
        match result {
            Ok(Ok(reply)) => {
                stats
                    .latencies_us
                    .push(scheduled.elapsed().as_micros() as u64);
                stats.response_bytes += reply.body.len() as u64;
                if (200..300).contains(&reply.status) {
                    stats.ok += 1;
                    stats.records += w.records_per_request;
                    stats.payload_bytes += w.payload_per_request;
                } else {
                    stats.http_error(reply.status, &reply.body);
                }
            }
            Ok(Err(e)) => {
                stats.transport_error(&e);
                conn = None;
            }
            Err(_) => {
                stats.transport_error(&anyhow!("request still unanswered 30s after the deadline"));
                break;
            }
        }
    }
    stats
}

pub(crate) fn produce_body(batch: usize, record_bytes: u64) -> Result<Bytes> {
    // A JSON string whose encoding is exactly record_bytes long (no escapes needed).
    let inner = record_bytes.saturating_sub(2) as usize;
    let alphabet = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let value: String = (0..inner)
        .map(|i| alphabet[(i * 7 + i / 61) % alphabet.len()] as char)
        .collect();
    let record = serde_json::to_string(&serde_json::json!({ "value": value }))?;
    let mut body = String::with_capacity(16 + batch * (record.len() + 1));
    body.push_str("{\"records\":[");
    for i in 0..batch {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&record);
    }
    body.push_str("]}");
    Ok(Bytes::from(body))
}

pub(crate) async fn produce(o: ProduceOpts) -> Result<()> {
    if o.batch == 0 {
        bail!("--batch must be at least 1");
    }
    let target = Target::resolve(&o.common.server).await?;
    ensure_topic(&target, &o.topic, o.partitions).await?;
    let workload = Workload {
        method: Method::POST,
        path: format!("/v1/topics/{}/records", percent_encode(&o.topic)),
        body: Some(produce_body(o.batch, o.record_bytes)?),
        records_per_request: o.batch as u64,
        payload_per_request: o.batch as u64 * o.record_bytes,
    };
    let plan = RunPlan {
        connections: o.common.connections,
        duration: o.common.duration,
        max_requests: o.common.max_requests,
        rate: o.rate,
    };
    let (stats, elapsed) = run_load(&target, workload, plan).await?;
    let mode = match o.rate {
        Some(r) => format!("open loop, {r} req/s"),
        None => "closed loop".into(),
    };
    stats.print(
        &format!(
            "produce {} ({mode}, {}, batch {}, {} B records)",
            o.topic,
            conns(o.common.connections),
            o.batch,
            o.record_bytes
        ),
        elapsed,
        "record values",
    );
    Ok(())
}

pub(crate) async fn get(o: GetOpts) -> Result<()> {
    let target = Target::resolve(&o.common.server).await?;
    let path = if o.path.starts_with('/') {
        o.path.clone()
    } else {
        format!("/{}", o.path)
    };
    let workload = Workload {
        method: Method::GET,
        path: path.clone(),
        body: None,
        records_per_request: 0,
        payload_per_request: 0,
    };
    let plan = RunPlan {
        connections: o.common.connections,
        duration: o.common.duration,
        max_requests: o.common.max_requests,
        rate: o.rate,
    };
    let (stats, elapsed) = run_load(&target, workload, plan).await?;
    stats.print(
        &format!("GET {path} ({})", conns(o.common.connections)),
        elapsed,
        "",
    );
    Ok(())
}

pub(crate) async fn fill(o: FillOpts) -> Result<()> {
    if o.batch == 0 || o.record_bytes == 0 {
        bail!("--batch and --record-bytes must be at least 1");
    }
    let target = Target::resolve(&o.server).await?;
    ensure_topic(&target, &o.topic, o.partitions).await?;
    let records = o.bytes.div_ceil(o.record_bytes);
    let requests = records.div_ceil(o.batch as u64);
    eprintln!(
        "filling {}: {requests} requests × {} records × {} B (≥ {} bytes)",
        o.topic, o.batch, o.record_bytes, o.bytes
    );
    let workload = Workload {
        method: Method::POST,
        path: format!("/v1/topics/{}/records", percent_encode(&o.topic)),
        body: Some(produce_body(o.batch, o.record_bytes)?),
        records_per_request: o.batch as u64,
        payload_per_request: o.batch as u64 * o.record_bytes,
    };
    let plan = RunPlan {
        connections: o.connections,
        duration: o.duration,
        max_requests: Some(requests),
        rate: None,
    };
    let (stats, elapsed) = run_load(&target, workload, plan).await?;
    let failed = stats.ok < requests;
    stats.print(
        &format!("fill {} ({})", o.topic, conns(o.connections)),
        elapsed,
        "record values",
    );
    if failed {
        bail!("fill incomplete: not every request succeeded");
    }
    Ok(())
}
