//! `tidegate produce`: stdin lines → batched produce requests.

use super::*;

/// Runs `tidegate produce`: each stdin line becomes one record.
pub async fn produce(server: &str, args: ProduceArgs) -> Result<()> {
    let api = Api::new(server)?;
    let batch_size = args.batch.max(1);
    let path = format!("/v1/topics/{}/records", seg(&args.topic));

    // Read stdin on a plain thread so reading and sending overlap.
    let (tx, mut rx) = mpsc::channel::<std::io::Result<Vec<u8>>>(batch_size.saturating_mul(2));
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut input = stdin.lock();
        loop {
            let mut line = Vec::new();
            match input.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) => {
                    if line.last() == Some(&b'\n') {
                        line.pop();
                        if line.last() == Some(&b'\r') {
                            line.pop();
                        }
                    }
                    if tx.blocking_send(Ok(line)).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    break;
                }
            }
        }
    });

    let mut stats = ProduceStats::default();
    let mut batch: Vec<Value> = Vec::with_capacity(batch_size);
    let mut eof = false;
    while !eof {
        // Wait (without limit) for the first line of a batch, then keep collecting until the
        // batch is full, stdin closes, or stdin stays idle for a moment.
        match rx.recv().await {
            Some(line) => batch.push(make_record(&line.context("reading stdin")?, &args)),
            None => break,
        }
        while batch.len() < batch_size {
            match tokio::time::timeout(PRODUCE_IDLE_FLUSH, rx.recv()).await {
                Ok(Some(line)) => batch.push(make_record(&line.context("reading stdin")?, &args)),
                Ok(None) => {
                    eof = true;
                    break;
                }
                Err(_idle) => break,
            }
        }
        let body = json!({ "records": std::mem::take(&mut batch) });
        let result = api
            .call_json::<ProduceResponse>(Method::POST, &path, Some(&body))
            .await;
        match result {
            Ok(resp) => stats.add(&resp),
            Err(e) => {
                stats.report(&args.topic);
                return Err(e);
            }
        }
    }
    stats.report(&args.topic);
    Ok(())
}

pub(super) fn make_record(line: &[u8], args: &ProduceArgs) -> Value {
    let mut record = Map::new();
    let mut value_part = line;
    if let Some(sep) = args.key_separator.as_deref().filter(|s| !s.is_empty()) {
        if let Some(pos) = find_subslice(line, sep.as_bytes()) {
            put_payload(&mut record, "key", &line[..pos]);
            value_part = &line[pos + sep.len()..];
        } else {
            record.insert("key".into(), Value::Null);
        }
    }
    put_payload(&mut record, "value", value_part);
    if let Some(p) = args.partition {
        record.insert("partition".into(), json!(p));
    }
    Value::Object(record)
}

/// Text that parses as JSON is sent as that JSON, other text as a JSON string, and bytes that
/// are not UTF-8 as `<field>_base64`.
fn put_payload(record: &mut Map<String, Value>, field: &str, bytes: &[u8]) {
    use base64::Engine as _;
    match std::str::from_utf8(bytes) {
        Ok(text) => {
            let value = serde_json::from_str::<Value>(text)
                .unwrap_or_else(|_| Value::String(text.to_string()));
            record.insert(field.to_string(), value);
        }
        Err(_) => {
            let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
            record.insert(format!("{field}_base64"), Value::String(b64));
        }
    }
}

pub(super) fn find_subslice(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > haystack.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[derive(Default)]
struct ProduceStats {
    records: u64,
    requests: u64,
    /// partition -> (first offset, last offset)
    ranges: HashMap<u32, (u64, u64)>,
}

impl ProduceStats {
    fn add(&mut self, resp: &ProduceResponse) {
        self.requests += 1;
        self.records += resp.offsets.len() as u64;
        for o in &resp.offsets {
            let r = self
                .ranges
                .entry(o.partition)
                .or_insert((o.offset, o.offset));
            r.0 = r.0.min(o.offset);
            r.1 = r.1.max(o.offset);
        }
    }

    fn report(&self, topic: &str) {
        let mut parts: Vec<_> = self.ranges.iter().collect();
        parts.sort_by_key(|(p, _)| **p);
        let detail: Vec<String> = parts
            .iter()
            .map(|(p, (lo, hi))| format!("p{p}:{lo}..={hi}"))
            .collect();
        let detail = if detail.is_empty() {
            String::new()
        } else {
            format!(" [{}]", detail.join(" "))
        };
        eprintln!(
            "produced {} record{} to {topic} in {} request{}{detail}",
            self.records,
            plural(self.records),
            self.requests,
            plural(self.requests)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// consume
// ---------------------------------------------------------------------------------------------
