//! A stalled subscriber: one WebSocket client stops reading while 200 MB are produced. The
//! server's resident memory grows by less than 64 MiB (the log is the buffer; the stalled
//! session holds one batch), another subscriber receives everything meanwhile, and the stalled
//! one, when it reads again, gets every record in order.

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;

use crate::support::Client;
use crate::support::child::ChildServer;

/// Resident memory of a process, in KiB (`field` is VmRSS or VmHWM).
fn rss_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

const RECORDS: u64 = 2_000;
const VALUE_BYTES: usize = 100 << 10;
const PER_REQUEST: u64 = 20;

/// Reads record frames until `n` arrived; returns their offsets in arrival order.
async fn read_offsets<S>(ws: &mut S, n: u64) -> Vec<u64>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let mut offsets = Vec::new();
    while (offsets.len() as u64) < n {
        let msg = tokio::time::timeout(std::time::Duration::from_secs(60), ws.next())
            .await
            .expect("no frame within 60 s")
            .expect("socket ended")
            .expect("socket error");
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            assert_eq!(v["value"].as_str().map(str::len), Some(VALUE_BYTES));
            offsets.push(v["offset"].as_u64().unwrap());
        }
    }
    offsets
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_subscriber_holds_bounded_memory_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = ChildServer::start(dir.path(), &["--fsync", "never"]);
    let client = Client::new(server.addr);
    let value = "x".repeat(VALUE_BYTES);
    let batch = || {
        json!(
            (0..PER_REQUEST)
                .map(|_| json!({"value": value}))
                .collect::<Vec<_>>()
        )
    };
    // Warm-up, so the baseline already counts the code and buffers of produce and delivery.
    client.create_topic("warm", 1).await;
    let warm_url = format!("ws://{}/v1/topics/warm/subscribe?from=latest", server.addr);
    let (mut warm, _) = connect_async(warm_url.as_str()).await.unwrap();
    client.produce("warm", batch()).await;
    read_offsets(&mut warm, PER_REQUEST).await;
    client.create_topic("firehose", 1).await;
    let url = format!(
        "ws://{}/v1/topics/firehose/subscribe?from=latest",
        server.addr
    );
    let (mut stalled, _) = connect_async(url.as_str()).await.unwrap();
    let (mut follower, _) = connect_async(url.as_str()).await.unwrap();
    let follow = tokio::spawn(async move { read_offsets(&mut follower, RECORDS).await });
    let pid = server.child.id();
    let baseline = rss_kib(pid, "VmRSS:");

    for _ in 0..RECORDS / PER_REQUEST {
        client.produce("firehose", batch()).await;
    }
    // The follower got all 200 MB while the stalled socket took nothing.
    let followed = follow.await.unwrap();
    assert_eq!(followed, (0..RECORDS).collect::<Vec<_>>());
    let growth_mib = rss_kib(pid, "VmHWM:").saturating_sub(baseline) / 1024;
    eprintln!("stalled subscriber: resident memory grew by {growth_mib} MiB");
    assert!(
        growth_mib < 64,
        "resident memory grew by {growth_mib} MiB with a stalled subscriber"
    );

    let caught_up = read_offsets(&mut stalled, RECORDS).await;
    assert_eq!(
        caught_up,
        (0..RECORDS).collect::<Vec<_>>(),
        "every record, in order"
    );
}
