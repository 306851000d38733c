//! Server-Sent Events through a real server and a real streaming HTTP client: live delivery,
//! every kind of start, exact resume through `Last-Event-ID` and `offsets=` (no gap, no
//! duplicate), bad input answered before the stream starts, and a deleted topic ending it.

use hyper::StatusCode;
use serde_json::json;

use crate::support::sse::{self, Event};
use crate::support::{TestGateway, assert_record_shape};

fn values(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|e| e.json()["value"].as_str().unwrap().to_owned())
        .collect()
}

fn records(prefix: &str, n: usize, partition: u32) -> serde_json::Value {
    json!(
        (0..n)
            .map(|i| json!({"value": format!("{prefix}{i}"), "partition": partition}))
            .collect::<Vec<_>>()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_records_arrive_and_resume_is_exact() {
    let gw = TestGateway::start().await;
    let addr = gw.addr();
    gw.client.create_topic("live", 2).await;
    gw.client.produce("live", records("old", 2, 0)).await;

    let mut s = sse::open(addr, "/v1/topics/live/events", &[])
        .await
        .unwrap();
    let hello = s.next().await.unwrap();
    assert_eq!(hello.event.as_deref(), Some("subscribed"));
    assert_eq!(hello.retry, Some(2000));
    assert_eq!(
        hello.id.as_deref(),
        Some("0:2,1:0"),
        "latest is the default start"
    );

    gw.client.produce("live", records("a", 3, 0)).await;
    gw.client.produce("live", records("b", 2, 1)).await;
    let got = s.records(5).await;
    let mut seen = values(&got);
    seen.sort();
    assert_eq!(seen, ["a0", "a1", "a2", "b0", "b1"]);
    assert_record_shape(&got[0].json());
    assert_eq!(got.last().unwrap().id.as_deref(), Some("0:5,1:2"));
    let metrics = String::from_utf8(gw.client.get("/metrics").await.raw.to_vec()).unwrap();
    for needle in [
        "tidegate_subscriptions_open{protocol=\"sse\"} 1",
        "tidegate_subscription_records_total{protocol=\"sse\"} 5",
        "tidegate_subscription_lag_records{protocol=\"sse\"} 0",
    ] {
        assert!(metrics.contains(needle), "missing {needle} in\n{metrics}");
    }

    // Disconnect after the second record; records keep coming meanwhile.
    let resume_id = got[1].id.clone().unwrap();
    drop(s);
    gw.client.produce("live", records("c", 2, 1)).await;
    let mut again = sse::open(
        addr,
        "/v1/topics/live/events",
        &[("last-event-id", &resume_id)],
    )
    .await
    .unwrap();
    assert_eq!(
        again.next().await.unwrap().id.as_deref(),
        Some(resume_id.as_str())
    );
    let rest = again.records(5).await;
    let mut all: Vec<String> = values(&got[..2]);
    all.extend(values(&rest));
    all.sort();
    assert_eq!(
        all,
        ["a0", "a1", "a2", "b0", "b1", "c0", "c1"],
        "no gap, no duplicate"
    );

    // The same through offsets= (the id format), and from a reconnect before any record.
    let mut by_offsets = sse::open(addr, "/v1/topics/live/events?offsets=0:4,1:3", &[])
        .await
        .unwrap();
    by_offsets.next().await.unwrap();
    assert_eq!(values(&by_offsets.records(2).await).len(), 2);
    let mut idle = sse::open(addr, "/v1/topics/live/events", &[])
        .await
        .unwrap();
    let start = idle.next().await.unwrap().id.unwrap();
    drop(idle);
    gw.client.produce("live", records("d", 1, 0)).await;
    let mut back = sse::open(addr, "/v1/topics/live/events", &[("last-event-id", &start)])
        .await
        .unwrap();
    back.next().await.unwrap();
    assert_eq!(values(&back.records(1).await), ["d0"]);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_start() {
    let gw = TestGateway::start().await;
    let addr = gw.addr();
    gw.client.create_topic("starts", 2).await;
    gw.client.produce("starts", records("p0-", 4, 0)).await;
    gw.client.produce("starts", records("p1-", 3, 1)).await;
    let first_values = |path: &'static str, n: usize| async move {
        let mut s = sse::open(addr, path, &[]).await.unwrap();
        s.next().await.unwrap();
        let mut v = values(&s.records(n).await);
        v.sort();
        v
    };
    assert_eq!(
        first_values("/v1/topics/starts/events?from=earliest", 7).await,
        ["p0-0", "p0-1", "p0-2", "p0-3", "p1-0", "p1-1", "p1-2"]
    );
    assert_eq!(
        first_values("/v1/topics/starts/events?from=2&partitions=0", 2).await,
        ["p0-2", "p0-3"]
    );
    assert_eq!(
        first_values("/v1/topics/starts/events?from=time:0&partitions=1", 3).await,
        ["p1-0", "p1-1", "p1-2"]
    );
    // A time after every record starts at the end: only new records come.
    let mut s = sse::open(
        addr,
        "/v1/topics/starts/events?from=time:9999999999999",
        &[],
    )
    .await
    .unwrap();
    assert_eq!(s.next().await.unwrap().id.as_deref(), Some("0:4,1:3"));
    gw.client.produce("starts", records("new", 1, 1)).await;
    assert_eq!(values(&s.records(1).await), ["new0"]);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_before_the_stream_and_deletion_ends_it() {
    let gw = TestGateway::start().await;
    let addr = gw.addr();
    gw.client.create_topic("gone", 1).await;
    for (path, headers, status) in [
        ("/v1/topics/nope/events", vec![], StatusCode::NOT_FOUND),
        (
            "/v1/topics/gone/events?from=soon",
            vec![],
            StatusCode::BAD_REQUEST,
        ),
        (
            "/v1/topics/gone/events?partitions=7",
            vec![],
            StatusCode::NOT_FOUND,
        ),
        (
            "/v1/topics/gone/events?offsets=0-1",
            vec![],
            StatusCode::BAD_REQUEST,
        ),
        (
            "/v1/topics/gone/events",
            vec![("last-event-id", "garbage")],
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let Err((got, body)) = sse::open(addr, path, &headers).await else {
            panic!("{path} streamed");
        };
        assert_eq!(got, status, "{path}: {body}");
        assert!(
            body["error_code"].as_u64().is_some() && body["message"].is_string(),
            "{body}"
        );
    }
    let mut s = sse::open(addr, "/v1/topics/gone/events", &[])
        .await
        .unwrap();
    s.next().await.unwrap();
    assert_eq!(
        gw.client.delete("/v1/topics/gone").await.status,
        StatusCode::NO_CONTENT
    );
    let end = s.next().await.unwrap();
    assert_eq!(end.event.as_deref(), Some("error"));
    assert_eq!(
        end.json()["error_code"].as_u64(),
        Some(40401),
        "{}",
        end.data
    );
    assert!(s.next().await.is_none(), "the stream ends after the error");
    // The server is still fine.
    assert_eq!(gw.client.get("/healthz").await.status, StatusCode::OK);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_filters_by_key_header_and_value() {
    let gw = TestGateway::start().await;
    let addr = gw.addr();
    gw.client.create_topic("orders", 1).await;
    gw.client
        .produce(
            "orders",
            json!([
                {"key": "c-1", "value": {"total": 50, "country": "NL"}, "headers": {"src": "web"}},
                {"key": "c-2", "value": {"total": 150, "country": "BE"}, "headers": {"src": "app"}},
                {"key": "c-1", "value": {"total": 250, "country": "NL"}, "headers": {"src": "app"}},
                {"key": "c-3", "value": "not an object"},
                {"key": "c-4", "value": {"total": 500, "country": "DE", "test": true}},
            ]),
        )
        .await;
    let totals = |path: String, n: usize| async move {
        let mut s = sse::open(addr, &path, &[]).await.unwrap();
        s.next().await.unwrap();
        s.records(n)
            .await
            .iter()
            .map(|e| e.json()["value"]["total"].as_u64().unwrap())
            .collect::<Vec<_>>()
    };
    let base = "/v1/topics/orders/events?from=earliest";
    assert_eq!(totals(format!("{base}&key=c-1"), 2).await, [50, 250]);
    assert_eq!(
        totals(format!("{base}&header=src:app"), 2).await,
        [150, 250]
    );
    let filter =
        percent_encode("/total >= 100 and /country in [\"NL\", \"BE\"] and not exists /test");
    assert_eq!(
        totals(format!("{base}&filter={filter}"), 2).await,
        [150, 250]
    );
    // Filtered records still move the position: the id after the last match skips them.
    let mut s = sse::open(
        addr,
        &format!("{base}&filter={}", percent_encode("/total > 200")),
        &[],
    )
    .await
    .unwrap();
    s.next().await.unwrap();
    let matched = s.records(2).await;
    assert_eq!(matched[1].id.as_deref(), Some("0:5"));

    let Err((status, body)) = sse::open(
        addr,
        &format!("{base}&filter={}", percent_encode("/total >")),
        &[],
    )
    .await
    else {
        panic!("a bad filter streamed");
    };
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["message"].as_str().unwrap().contains("position 8"),
        "{body}"
    );
    gw.stop().await;
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
