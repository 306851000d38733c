//! The fetch mode: reading a partition from offset 0 to its end.

#[allow(
    unused_imports,
    reason = "the shared import list of the loadgen modules"
)]
use super::*;

// fetch

#[derive(Deserialize)]
pub(crate) struct TopicDescription {
    pub(crate) partitions: Vec<PartitionDescription>,
}

#[derive(Deserialize)]
pub(crate) struct PartitionDescription {
    pub(crate) partition: u32,
    pub(crate) start_offset: u64,
    pub(crate) end_offset: u64,
}

#[derive(Deserialize)]
pub(crate) struct FetchResponse<'a> {
    #[serde(borrow)]
    pub(crate) records: Vec<FetchedRecord<'a>>,
    pub(crate) next_offset: u64,
}

#[derive(Deserialize)]
pub(crate) struct FetchedRecord<'a> {
    pub(crate) offset: u64,
    #[serde(borrow, default)]
    pub(crate) value: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub(crate) value_base64: Option<std::borrow::Cow<'a, str>>,
}

pub(crate) async fn fetch(o: FetchOpts) -> Result<()> {
    if o.connections == 0 || o.max_records == 0 {
        bail!("--connections and --max-records must be at least 1");
    }
    let target = Target::resolve(&o.server).await?;
    let topic_path = format!("/v1/topics/{}", percent_encode(&o.topic));
    let reply = one_shot(&target, Method::GET, &topic_path, None).await?;
    if !(200..300).contains(&reply.status) {
        bail!(
            "describing {}: HTTP {}: {}",
            o.topic,
            reply.status,
            body_text(&reply.body)
        );
    }
    let desc: TopicDescription =
        serde_json::from_slice(&reply.body).context("topic description")?;
    let p = desc
        .partitions
        .iter()
        .find(|p| p.partition == o.partition)
        .ok_or_else(|| anyhow!("topic {} has no partition {}", o.topic, o.partition))?;
    let (start_off, end_off) = (p.start_offset, p.end_offset);
    eprintln!(
        "reading {} partition {} offsets {start_off}..{end_off}",
        o.topic, o.partition
    );

    let span = end_off.saturating_sub(start_off);
    let per_conn = span.div_ceil(o.connections as u64).max(1);
    let issued = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + o.duration;
    let mut tasks = tokio::task::JoinSet::new();
    let mut lo = start_off;
    while lo < end_off {
        let hi = (lo + per_conn).min(end_off);
        let target = target.clone();
        let path = format!("{topic_path}/partitions/{}/records", o.partition);
        let extra = o
            .max_bytes
            .map_or(String::new(), |b| format!("&max_bytes={b}"));
        let issued = Arc::clone(&issued);
        let (max_records, max_requests) = (o.max_records, o.max_requests);
        tasks.spawn(async move {
            let range = FetchRange {
                lo,
                hi,
                max_records,
                extra,
            };
            fetch_range(target, path, range, issued, max_requests, deadline).await
        });
        lo = hi;
    }
    let mut stats = Stats::default();
    while let Some(res) = tasks.join_next().await {
        match res {
            Ok(s) => stats.merge(s),
            Err(e) => stats.transport_error(&anyhow!("reader task failed: {e}")),
        }
    }
    let elapsed = start.elapsed();
    let read = stats.records;
    stats.print(
        &format!(
            "fetch {} partition {} ({}, max_records {})",
            o.topic,
            o.partition,
            conns(o.connections),
            o.max_records
        ),
        elapsed,
        "record values",
    );
    if read < span {
        eprintln!(
            "note: read {} of {span} offsets (stopped early or compacted gaps)",
            read
        );
    }
    Ok(())
}

/// One reader's share of the partition: offsets `lo..hi`.
pub(crate) struct FetchRange {
    pub(crate) lo: u64,
    pub(crate) hi: u64,
    pub(crate) max_records: u64,
    /// Extra query parameters, e.g. `&max_bytes=N`.
    pub(crate) extra: String,
}

pub(crate) async fn fetch_range(
    target: Target,
    path: String,
    range: FetchRange,
    issued: Arc<AtomicU64>,
    max_requests: Option<u64>,
    deadline: Instant,
) -> Stats {
    let mut stats = Stats::default();
    let mut conn = match target.connect().await {
        Ok(c) => c,
        Err(e) => {
            stats.transport_error(&e);
            return stats;
        }
    };
    let FetchRange {
        lo,
        hi,
        max_records,
        extra,
    } = range;
    let mut pos = lo;
    while pos < hi && Instant::now() < deadline {
        if max_requests.is_some_and(|m| issued.fetch_add(1, Ordering::Relaxed) >= m) {
            break;
        }
        let want = max_records.min(hi - pos);
        let url = format!("{path}?offset={pos}&max_records={want}&timeout_ms=0{extra}");
        let t0 = Instant::now();
        stats.requests += 1;
        let reply = match conn.send(Method::GET, &url, None).await {
            Ok(r) => r,
            Err(e) => {
                stats.transport_error(&e);
                match target.connect().await {
                    Ok(c) => {
                        conn = c;
                        continue;
                    }
                    Err(e) => {
                        stats.transport_error(&e);
                        break;
                    }
                }
            }
        };
        stats.latencies_us.push(t0.elapsed().as_micros() as u64);
        stats.response_bytes += reply.body.len() as u64;
        if !(200..300).contains(&reply.status) {
            stats.http_error(reply.status, &reply.body);
            break;
        }
        let resp: FetchResponse<'_> = match serde_json::from_slice(&reply.body) {
            Ok(r) => r,
            Err(e) => {
                stats.transport_error(&anyhow!("bad fetch response: {e}"));
                break;
            }
        };
        stats.ok += 1;
        for r in resp
            .records
            .iter()
            .filter(|r| r.offset >= pos && r.offset < hi)
        {
            stats.records += 1;
            stats.payload_bytes += match (&r.value, &r.value_base64) {
                (_, Some(b64)) => base64_decoded_len(b64),
                (Some(v), None) => v.get().len() as u64,
                (None, None) => 0,
            };
        }
        if resp.next_offset <= pos {
            stats.transport_error(&anyhow!("fetch at offset {pos} made no progress"));
            break;
        }
        pos = resp.next_offset;
    }
    stats
}

pub(crate) fn base64_decoded_len(b64: &str) -> u64 {
    let padding = b64.bytes().rev().take_while(|&b| b == b'=').count() as u64;
    (b64.len() as u64 * 3 / 4).saturating_sub(padding)
}
