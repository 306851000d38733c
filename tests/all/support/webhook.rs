//! A webhook receiver on 127.0.0.1:0 for connector tests: records every request, answers 500
//! on demand (for outage tests), serves a JSON array of items on GET (for `http-source`), and
//! lets tests wait for a number of acknowledged records without sleeping.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use serde_json::Value;

/// One POST the receiver got.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Value,
    /// The status it answered.
    pub status: u16,
}

impl Delivery {
    /// `(partition, offset)` of every record in the body (the `http-sink` shape).
    pub fn coordinates(&self) -> Vec<(u64, u64)> {
        let partition = self.body["partition"].as_u64().unwrap_or(u64::MAX);
        self.body["records"]
            .as_array()
            .map(|rs| {
                rs.iter()
                    .map(|r| (partition, r["offset"].as_u64().unwrap_or(u64::MAX)))
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[derive(Default)]
struct State {
    log: Mutex<Vec<Delivery>>,
    fail_next: AtomicU64,
    /// Milliseconds each POST is held before it is answered.
    delay_ms: AtomicU64,
    /// Answer POSTs with 400 (a fatal refusal for `http-sink`) while set.
    refuse: std::sync::atomic::AtomicBool,
    items: Mutex<Vec<Value>>,
}

pub struct Webhook {
    pub addr: SocketAddr,
    state: Arc<State>,
    acked: tokio::sync::watch::Receiver<u64>,
    received: tokio::sync::watch::Receiver<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Webhook {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State::default());
        let (tx, acked) = tokio::sync::watch::channel(0u64);
        let tx = Arc::new(tx);
        let (got, received) = tokio::sync::watch::channel(0u64);
        let got = Arc::new(got);
        let st = Arc::clone(&state);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (st, tx, got) = (Arc::clone(&st), Arc::clone(&tx), Arc::clone(&got));
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let (st, tx, got) = (Arc::clone(&st), Arc::clone(&tx), Arc::clone(&got));
                        async move { Ok::<_, hyper::Error>(handle(&st, &tx, &got, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            state,
            acked,
            received,
            task,
        }
    }

    /// `http://127.0.0.1:port{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answers the next `n` POSTs with 500.
    pub fn fail_next(&self, n: u64) {
        self.state.fail_next.store(n, Ordering::SeqCst);
    }

    /// Answers POSTs with 400 while `refuse` is true.
    pub fn refuse(&self, refuse: bool) {
        self.state.refuse.store(refuse, Ordering::SeqCst);
    }

    /// Holds every POST this long before answering (a slow receiver: calls stay in flight).
    pub fn delay(&self, ms: u64) {
        self.state.delay_ms.store(ms, Ordering::SeqCst);
    }

    /// Sets the items `GET` returns (filtered by `?after=<id>`).
    pub fn set_items(&self, items: Vec<Value>) {
        *self.state.items.lock() = items;
    }

    /// Every POST so far, in arrival order.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.state.log.lock().clone()
    }

    /// The POSTs answered 200.
    pub fn acknowledged(&self) -> Vec<Delivery> {
        self.deliveries()
            .into_iter()
            .filter(|d| d.status == 200)
            .collect()
    }

    /// Records in acknowledged POSTs so far.
    pub fn acked_records(&self) -> u64 {
        *self.acked.borrow()
    }

    /// Waits until `n` POSTs arrived, answered or not (woken per request).
    pub async fn wait_received(&self, n: u64, within: Duration) {
        let mut rx = self.received.clone();
        let waited = tokio::time::timeout(within, rx.wait_for(|got| *got >= n)).await;
        assert!(
            waited.is_ok(),
            "fewer than {n} POSTs arrived within {within:?}"
        );
    }

    /// Waits until `n` records were acknowledged (woken per request, no sleeping).
    pub async fn wait_acked(&self, n: u64, within: Duration) {
        let mut rx = self.acked.clone();
        let waited = tokio::time::timeout(within, rx.wait_for(|got| *got >= n)).await;
        assert!(
            waited.is_ok(),
            "only {} of {n} records acknowledged after {within:?}",
            self.acked_records()
        );
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(
    st: &State,
    acked: &tokio::sync::watch::Sender<u64>,
    received: &tokio::sync::watch::Sender<u64>,
    req: Request<hyper::body::Incoming>,
) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let get = req.method() == hyper::Method::GET;
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if get {
        let after = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("after="))
            .and_then(|v| v.parse::<u64>().ok());
        let items: Vec<Value> = st
            .items
            .lock()
            .iter()
            .filter(|i| after.is_none_or(|a| i["id"].as_u64().is_some_and(|id| id > a)))
            .cloned()
            .collect();
        return reply(StatusCode::OK, serde_json::to_vec(&items).unwrap());
    }
    let failing = st
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let refused = st.refuse.load(Ordering::SeqCst);
    let status = if failing {
        StatusCode::INTERNAL_SERVER_ERROR
    } else if refused {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let delivery = Delivery {
        path,
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        status: status.as_u16(),
    };
    let records = delivery.coordinates().len() as u64;
    st.log.lock().push(delivery);
    received.send_modify(|n| *n += 1);
    let delay = st.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    }
    if status == StatusCode::OK {
        acked.send_modify(|n| *n += records);
    }
    reply(status, b"{}".to_vec())
}

fn reply(status: StatusCode, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}
