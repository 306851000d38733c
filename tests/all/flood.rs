//! A flood of produce requests made of many tiny records: each answers 413 naming the limit,
//! and the server's peak memory stays a small multiple of the bodies in flight (it was ~490 MiB
//! for one 7.2 MB body of 600,000 records).

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::child::ChildServer;

/// Peak resident memory of a process, from /proc (VmHWM, in KiB).
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Sends one raw POST and returns the status line and body.
async fn post(addr: std::net::SocketAddr, path: &str, body: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    // The server may answer and close before reading the whole body; that is fine.
    let _ = s.write_all(body).await;
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tiny_records_are_refused_with_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let server = ChildServer::start(dir.path(), &["--fsync", "never"]);
    let created = post(server.addr, "/v1/topics", br#"{"name":"flood"}"#).await;
    assert!(created.starts_with("HTTP/1.1 201"), "{created}");
    let baseline = peak_rss_kib(server.child.id());
    let records = vec![r#"{"value":1}"#; 600_000].join(",");
    let body = format!(r#"{{"records":[{records}]}}"#).into_bytes();
    assert!(body.len() > 7_000_000);
    for _ in 0..3 {
        let answers = futures_util::future::join_all(
            (0..4).map(|_| post(server.addr, "/v1/topics/flood/records", &body)),
        )
        .await;
        for answer in answers {
            assert!(
                answer.starts_with("HTTP/1.1 413"),
                "{}",
                &answer[..answer.len().min(300)]
            );
            assert!(
                answer.contains("41302") && answer.contains("10000"),
                "{answer}"
            );
        }
    }
    let growth_mib = (peak_rss_kib(server.child.id()) - baseline) / 1024;
    // 4 bodies of 7.2 MB in flight; the old decoder needed ~490 MiB for each.
    assert!(growth_mib < 160, "peak RSS grew by {growth_mib} MiB");
    let ok = post(
        server.addr,
        "/v1/topics/flood/records",
        br#"{"records":[{"value":1}]}"#,
    )
    .await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
}
