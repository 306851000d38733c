//! A Server-Sent Events reader for tests: a real HTTP/1.1 streaming request (hyper's client)
//! and the event-stream parser of the HTML standard (fields `id`, `event`, `data`, `retry`;
//! comment lines; events end at a blank line).

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// One dispatched event (comments are kept as events with `comment` set, for keep-alives).
#[derive(Debug, Clone, Default)]
pub struct Event {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
    pub retry: Option<u64>,
    pub comment: bool,
}

impl Event {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap()
    }
}

pub struct SseStream {
    body: Incoming,
    buf: String,
}

/// Opens `path` with `headers`; a non-200 answer comes back as its status and JSON body.
pub async fn open(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<SseStream, (StatusCode, Value)> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let mut req =
        Request::get(format!("http://{addr}{path}")).header("accept", "text/event-stream");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = client
        .request(req.body(Empty::new()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    if status != StatusCode::OK {
        let raw = resp.into_body().collect().await.unwrap().to_bytes();
        return Err((status, serde_json::from_slice(&raw).unwrap_or(Value::Null)));
    }
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    Ok(SseStream {
        body: resp.into_body(),
        buf: String::new(),
    })
}

impl SseStream {
    /// The next event or comment; `None` when the server ended the stream. Panics after 20 s.
    pub async fn next_any(&mut self) -> Option<Event> {
        tokio::time::timeout(Duration::from_secs(20), self.read_event())
            .await
            .expect("no event within 20 s")
    }

    /// The next event that is not a comment.
    pub async fn next(&mut self) -> Option<Event> {
        loop {
            let e = self.next_any().await?;
            if !e.comment {
                return Some(e);
            }
        }
    }

    /// The next `n` record events (the default event type); panics after 20 s in all, so
    /// keep-alive comments cannot keep a test waiting forever.
    pub async fn records(&mut self, n: usize) -> Vec<Event> {
        let read = async {
            let mut out = Vec::new();
            while out.len() < n {
                let e = self.next().await.expect("stream ended early");
                assert!(e.event.is_none(), "expected a record, got {e:?}");
                out.push(e);
            }
            out
        };
        tokio::time::timeout(Duration::from_secs(20), read)
            .await
            .unwrap_or_else(|_| panic!("fewer than {n} records within 20 s"))
    }

    async fn read_event(&mut self) -> Option<Event> {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                return Some(parse(&block));
            }
            let frame = self.body.frame().await?.ok()?;
            if let Ok(data) = frame.into_data() {
                self.buf.push_str(std::str::from_utf8(&data).unwrap());
            }
        }
    }
}

fn parse(block: &str) -> Event {
    let mut e = Event::default();
    let mut data = Vec::new();
    for line in block.lines().filter(|l| !l.is_empty()) {
        if line.starts_with(':') {
            e.comment = true;
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "id" => e.id = Some(value.to_owned()),
            "event" => e.event = Some(value.to_owned()),
            "data" => data.push(value),
            "retry" => e.retry = value.parse().ok(),
            _ => {}
        }
    }
    if !data.is_empty() {
        e.comment = false;
    }
    e.data = data.join("\n");
    e
}
