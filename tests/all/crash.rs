//! Durability under `kill -9`: a child `tidegate serve --fsync always` is killed in the middle
//! of concurrent produce, 20 times; after each restart every acknowledged record is present at
//! its offset, in order, byte for byte, and producing continues.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hyper::{Method, StatusCode};
use serde_json::json;

use crate::support::Client;
use crate::support::child::ChildServer;

const CYCLES: usize = 20;
const WRITERS: usize = 8;
const PARTITIONS: u32 = 2;

/// (partition, offset) → the exact value bytes that were acknowledged there.
type Acked = Arc<Mutex<BTreeMap<(u32, u64), Vec<u8>>>>;

fn payload(cycle: usize, writer: usize, seq: usize) -> Vec<u8> {
    // Binary and varied in length, so torn writes cannot look valid by accident.
    let mut v = format!("c{cycle}-w{writer}-s{seq}-").into_bytes();
    v.extend((0..(seq * 37 + writer * 11) % 700).map(|i| (i * 31 + seq) as u8));
    v
}

async fn writer(client: Client, cycle: usize, w: usize, acked: Acked) {
    let partition = (w as u32) % PARTITIONS;
    for seq in 0.. {
        let batch: Vec<Vec<u8>> = (0..1 + seq % 4)
            .map(|i| payload(cycle, w, seq * 4 + i))
            .collect();
        let records: Vec<_> = batch
            .iter()
            .map(|v| json!({"value_base64": BASE64.encode(v), "partition": partition}))
            .collect();
        let body = serde_json::to_vec(&json!({"records": records})).unwrap();
        let Ok(reply) = client
            .try_send(Method::POST, "/v1/topics/durable/records", body, &[])
            .await
        else {
            return; // killed mid-request: not acknowledged
        };
        if reply.status != StatusCode::OK {
            return;
        }
        let mut acked = acked.lock().unwrap();
        for (value, o) in batch
            .into_iter()
            .zip(reply.json["offsets"].as_array().unwrap())
        {
            let key = (
                o["partition"].as_u64().unwrap() as u32,
                o["offset"].as_u64().unwrap(),
            );
            assert!(
                acked.insert(key, value).is_none(),
                "offset {key:?} acknowledged twice"
            );
        }
    }
}

async fn verify(client: &Client, acked: &Acked) {
    let acked = acked.lock().unwrap().clone();
    for p in 0..PARTITIONS {
        let mut stored = BTreeMap::new();
        let mut offset = 0;
        loop {
            let r = client
                .get(&format!(
                    "/v1/topics/durable/partitions/{p}/records?offset={offset}&max_records=5000"
                ))
                .await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
            let recs = r.json["records"].as_array().unwrap();
            if recs.is_empty() {
                break;
            }
            for rec in recs {
                let value = BASE64
                    .decode(rec["value_base64"].as_str().unwrap())
                    .unwrap();
                stored.insert(rec["offset"].as_u64().unwrap(), value);
            }
            offset = r.json["next_offset"].as_u64().unwrap();
        }
        // Offsets are dense from 0.
        assert!(
            stored.keys().copied().eq(0..stored.len() as u64),
            "gap in partition {p}"
        );
        for ((part, off), value) in acked.range((p, 0)..(p + 1, 0)) {
            assert_eq!(*part, p);
            assert_eq!(
                stored.get(off),
                Some(value),
                "acknowledged record {p}/{off} lost or changed"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_records_survive_kill_9() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let acked: Acked = Arc::default();
    let mut created = false;
    for cycle in 0..CYCLES {
        let mut server = ChildServer::start(dir.path(), &["--fsync", "always"]);
        let client = Client::new(server.addr);
        if created {
            verify(&client, &acked).await;
        } else {
            client.create_topic("durable", PARTITIONS).await;
            created = true;
        }
        let tasks: Vec<_> = (0..WRITERS)
            .map(|w| tokio::spawn(writer(client.clone(), cycle, w, Arc::clone(&acked))))
            .collect();
        // Kill at a different point of the write stream each cycle.
        tokio::time::sleep(Duration::from_millis(120 + (cycle as u64 * 53) % 250)).await;
        server.kill9();
        for t in tasks {
            t.await.unwrap();
        }
    }
    let server = ChildServer::start(dir.path(), &[]);
    verify(&Client::new(server.addr), &acked).await;
    let total = acked.lock().unwrap().len();
    assert!(
        total > CYCLES * 20,
        "too few acknowledged records to mean anything: {total}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "crash test took {:?}",
        started.elapsed()
    );
}
