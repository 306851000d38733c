//! `tidegate consume`: read every partition (optionally as a group), print values, commit.

use super::*;

pub(super) enum StartFrom {
    Earliest,
    Latest,
    Offset(u64),
}

pub(super) fn parse_from(s: &str) -> Result<StartFrom> {
    match s.trim() {
        "earliest" | "beginning" => Ok(StartFrom::Earliest),
        "latest" | "end" => Ok(StartFrom::Latest),
        n => n
            .parse()
            .map(StartFrom::Offset)
            .map_err(|_| anyhow!("invalid --from {s:?}: expected earliest, latest or an offset")),
    }
}

/// A batch of fetched records from one partition's reader task.
struct Fetched {
    partition: u32,
    records: Vec<FetchedRecord>,
    next_offset: u64,
}

/// Runs `tidegate consume`.
pub async fn consume(server: &str, args: ConsumeArgs) -> Result<()> {
    if args.ws {
        return super::consume_ws::consume_ws(server, &args).await;
    }
    let api = Api::new(server)?;
    let from = parse_from(&args.from)?;
    let topic_path = format!("/v1/topics/{}", seg(&args.topic));
    let desc: TopicDescription = api.call_json(Method::GET, &topic_path, None).await?;

    let mut partitions: Vec<&PartitionDescription> = match args.partition {
        Some(p) => {
            let found = desc
                .partitions
                .iter()
                .find(|d| d.partition == p)
                .ok_or_else(|| {
                    anyhow!(
                        "topic {} has no partition {p} ({} partitions)",
                        desc.name,
                        desc.partitions.len()
                    )
                })?;
            vec![found]
        }
        None => desc.partitions.iter().collect(),
    };
    partitions.sort_by_key(|p| p.partition);

    let group_path = args
        .group
        .as_deref()
        .map(|g| format!("/v1/groups/{}/offsets", seg(g)));
    let mut committed: HashMap<u32, u64> = HashMap::new();
    if let Some(path) = &group_path {
        match api.call_json::<GroupOffsets>(Method::GET, path, None).await {
            Ok(go) => {
                for o in go.offsets.into_iter().filter(|o| o.topic == args.topic) {
                    committed.insert(o.partition, o.offset);
                }
            }
            // An unknown group simply has no committed offsets yet.
            Err(e) if is_status(&e, StatusCode::NOT_FOUND) => {}
            Err(e) => return Err(e),
        }
    }

    if args.max_records == Some(0) {
        return Ok(());
    }
    let per_fetch = args
        .max_records
        .map_or(FETCH_MAX_RECORDS, |m| m.min(FETCH_MAX_RECORDS));

    // One reader task per partition; the main task prints and commits.
    let (tx, mut rx) = mpsc::channel::<Result<Fetched>>(partitions.len().max(1) * 2);
    let mut readers = JoinSet::new();
    for p in &partitions {
        let start = match committed.get(&p.partition) {
            Some(&o) => o,
            None => match from {
                StartFrom::Earliest => p.start_offset,
                StartFrom::Latest => p.end_offset,
                StartFrom::Offset(n) => n,
            },
        };
        let stop_at = if args.follow {
            None
        } else {
            Some(p.end_offset)
        };
        if stop_at.is_some_and(|end| start >= end) {
            continue;
        }
        let reader = PartitionReader {
            api: api.clone(),
            path: format!("{topic_path}/partitions/{}/records", p.partition),
            partition: p.partition,
            position: start,
            stop_at,
            per_fetch,
            timeout_ms: if args.follow { FOLLOW_POLL_MS } else { 0 },
        };
        readers.spawn(reader.run(tx.clone()));
    }
    drop(tx);

    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout());
    let mut printed: u64 = 0;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let batch = tokio::select! {
            b = rx.recv() => b,
            _ = &mut ctrl_c => break,
        };
        let Some(batch) = batch else { break };
        let batch = batch?;

        let mut next_commit = None;
        let mut closed = false;
        for rec in &batch.records {
            if args.max_records.is_some_and(|m| printed >= m) {
                break;
            }
            let line = match (&rec.value, &rec.value_base64) {
                (_, Some(b64)) => b64.clone(),
                (Some(v), None) => serde_json::to_string(v)?,
                (None, None) => "null".to_string(),
            };
            if !write_line(&mut out, &line)? {
                closed = true;
                break;
            }
            printed += 1;
            next_commit = Some(rec.offset + 1);
        }
        if !closed && !finish_stdout(&mut out)? {
            closed = true;
        }
        if closed {
            // The reader of our stdout went away; nothing printed since the last flush is
            // guaranteed to have been seen, so don't commit it.
            return Ok(());
        }
        // Commit the next offset to read: after a fully printed batch that is the server's
        // next_offset (it may skip compacted gaps), otherwise the one after the last printed.
        let fully_printed =
            next_commit.is_some() && batch.records.last().map(|r| r.offset + 1) == next_commit;
        let commit = if fully_printed {
            Some(batch.next_offset)
        } else {
            next_commit
        };
        if let (Some(path), Some(offset)) = (&group_path, commit) {
            let body = json!({ "offsets": [
                { "topic": args.topic, "partition": batch.partition, "offset": offset }
            ]});
            api.call(Method::POST, path, Some(&body))
                .await
                .context("committing group offsets")?;
        }
        if args.max_records.is_some_and(|m| printed >= m) {
            break;
        }
    }
    readers.abort_all();
    let _ = finish_stdout(&mut out);
    Ok(())
}

struct PartitionReader {
    api: Api,
    path: String,
    partition: u32,
    position: u64,
    /// Stop once this offset is reached (None = follow forever).
    stop_at: Option<u64>,
    per_fetch: u64,
    timeout_ms: u64,
}

impl PartitionReader {
    async fn run(mut self, tx: mpsc::Sender<Result<Fetched>>) {
        loop {
            if self.stop_at.is_some_and(|end| self.position >= end) {
                return;
            }
            let result = self.fetch().await;
            let stop = match &result {
                Ok(f) => {
                    let stalled = f.records.is_empty() && f.next_offset <= self.position;
                    self.position = self.position.max(f.next_offset);
                    // Without --follow, an empty answer that doesn't advance means the end.
                    stalled && self.stop_at.is_some()
                }
                Err(_) => true,
            };
            let empty = result.as_ref().is_ok_and(|f| f.records.is_empty());
            if !empty && tx.send(result).await.is_err() {
                return;
            }
            if stop {
                return;
            }
        }
    }

    async fn fetch(&self) -> Result<Fetched> {
        let path = format!(
            "{}?offset={}&max_records={}&timeout_ms={}",
            self.path, self.position, self.per_fetch, self.timeout_ms
        );
        let timeout = REQUEST_TIMEOUT + Duration::from_millis(self.timeout_ms);
        let value = self
            .api
            .call_with_timeout(Method::GET, &path, None, timeout)
            .await?
            .ok_or_else(|| anyhow!("empty fetch response"))?;
        let mut resp: FetchResponse =
            serde_json::from_value(value).context("unexpected fetch response shape")?;
        if let Some(end) = self.stop_at {
            // Without --follow we stop at the end offsets seen at start.
            resp.records.retain(|r| r.offset < end);
            resp.next_offset = resp.next_offset.min(end);
        }
        Ok(Fetched {
            partition: self.partition,
            records: resp.records,
            next_offset: resp.next_offset,
        })
    }
}
