//! Slowloris: hundreds of connections that dribble header lines are closed by the header-read
//! timeout, while a normal client keeps getting answers.

use std::time::Duration;

use hyper::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::TestGateway;

const DRIBBLERS: usize = 300;

/// Sends a request line, then one header line every 100 ms, until the server closes the
/// connection; returns whether it did within `max_lines` lines (bounded: it stops by itself).
async fn dribble(addr: std::net::SocketAddr, max_lines: usize) -> bool {
    let Ok(mut s) = TcpStream::connect(addr).await else {
        return false;
    };
    if s.write_all(b"GET /healthz HTTP/1.1\r\n").await.is_err() {
        return true;
    }
    let mut buf = [0u8; 512];
    for i in 0..max_lines {
        let line = format!("x-dribble-{i}: {}\r\n", "y".repeat(8));
        if s.write_all(line.as_bytes()).await.is_err() {
            return true;
        }
        // Waiting for the server's answer (a 408 or EOF) is the event; the 100 ms is only
        // the dribbling pace.
        match tokio::time::timeout(Duration::from_millis(100), s.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {
                // A 408 answer: the server is closing; read to EOF.
                let _ =
                    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut Vec::new()))
                        .await;
                return true;
            }
            Err(_) => {}
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dribbling_connections_are_closed_while_normal_clients_are_served() {
    let gw = TestGateway::start_with(|a| a.header_read_timeout_ms = Some(1_000)).await;
    let addr = gw.addr();
    let dribblers: Vec<_> = (0..DRIBBLERS)
        .map(|_| tokio::spawn(dribble(addr, 300)))
        .collect();
    for i in 0..30 {
        let r = gw.client.get("/healthz").await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "normal request {i} while dribblers hang on"
        );
    }
    let mut closed = 0;
    for d in dribblers {
        if d.await.unwrap() {
            closed += 1;
        }
    }
    assert_eq!(
        closed, DRIBBLERS,
        "every dribbling connection was closed by the server"
    );
    let r = gw.client.get("/healthz").await;
    assert_eq!(r.status, StatusCode::OK);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed() {
    let gw = TestGateway::start_with(|a| a.header_read_timeout_ms = Some(500)).await;
    let addr = gw.addr();
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    // Reads the answer, then waits (bounded) for the server to close the idle connection.
    let read = tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the idle connection was not closed");
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
    gw.stop().await;
}

/// Long polls wait without holding the in-flight fetch budget: with a budget that one fetch
/// fills, fifty waiting long polls leave room for every plain fetch, then all wake on produce.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_polls_do_not_hold_the_fetch_budget() {
    let gw = TestGateway::start_with(|a| a.fetch_budget_bytes = Some(1 << 20)).await;
    let c = gw.client.clone();
    c.create_topic("quiet", 1).await;
    let polls: Vec<_> = (0..50)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.fetch("quiet", 0, "offset=0&timeout_ms=30000").await })
        })
        .collect();
    for i in 0..20 {
        let r = c.fetch("quiet", 0, "offset=0").await;
        assert_eq!(r.status, StatusCode::OK, "plain fetch {i}: {:?}", r.json);
    }
    c.produce("quiet", serde_json::json!([{"value": "wake"}]))
        .await;
    for poll in polls {
        let r = poll.await.unwrap();
        assert_eq!(r.json["records"][0]["value"], "wake");
    }
    gw.stop().await;
}

/// Shutdown has one deadline: a client stuck mid-upload does not keep its connection (or the
/// shutdown) alive past it; its connection is aborted, not left running detached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_aborts_connections_left_at_the_deadline() {
    let gw = TestGateway::start_with(|a| a.drain_timeout_ms = Some(300)).await;
    let addr = gw.addr();
    gw.client.create_topic("t", 1).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = "POST /v1/topics/t/records HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n{";
    s.write_all(head.as_bytes()).await.unwrap();
    // The request is in the server once the body read has started; the stalled client then
    // sends nothing more. A second, normal request proves the server got this far.
    assert_eq!(gw.client.get("/healthz").await.status, StatusCode::OK);
    tokio::time::timeout(Duration::from_secs(30), gw.stop())
        .await
        .expect("shutdown finished within its deadline");
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut rest)).await;
    assert!(
        closed.is_ok(),
        "the stalled connection was closed at shutdown"
    );
}
