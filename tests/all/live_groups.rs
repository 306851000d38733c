//! Consumer groups on live subscriptions, through a real server and real WebSocket and SSE
//! clients: partitions balanced across live members, rebalanced when one joins and when one
//! leaves with no record lost or repeated (auto-commit), client commits then resume, and the
//! multiplexed socket's tagged group messages; and many tail subscribers served by the shared
//! tail reader, each getting every record once, in order.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::SinkExt;
use hyper::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{TestGateway, sse};
use crate::websocket::{Ws, connect, next_json, refused};

/// Produces `n` records numbered from `first`, spread over `partitions` partitions.
async fn produce(gw: &TestGateway, topic: &str, first: u64, n: u64, partitions: u64) {
    let records: Vec<Value> = (first..first + n)
        .map(|i| json!({"value": i, "partition": i % partitions}))
        .collect();
    gw.client.produce(topic, json!(records)).await;
}

/// What a member has seen: its last assignment and the records (value → partition).
#[derive(Default)]
struct Member {
    assigned: Option<Vec<u64>>,
    records: BTreeMap<u64, u64>,
}

impl Member {
    /// Reads frames until `until` holds; every record is checked against the assignment.
    async fn read_until(&mut self, ws: &mut Ws, until: impl Fn(&Self) -> bool) {
        while !until(self) {
            let frame = next_json(ws).await;
            if let Some(list) = frame.get("assigned") {
                let list = list.as_array().unwrap().iter().map(|p| p.as_u64().unwrap());
                self.assigned = Some(list.collect());
                continue;
            }
            let partition = frame["partition"].as_u64().expect("a record");
            let assigned = self
                .assigned
                .as_ref()
                .expect("records only after an assignment");
            assert!(
                assigned.contains(&partition),
                "record of partition {partition} outside the assignment {assigned:?}"
            );
            let value = frame["value"].as_u64().unwrap();
            assert!(
                self.records.insert(value, partition).is_none(),
                "record {value} delivered twice"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_rebalances_on_join_and_leave_without_loss_or_duplicate() {
    let gw = TestGateway::start().await;
    gw.client.create_topic("gr", 4).await;
    let path = "/v1/topics/gr/subscribe?group=live&from=earliest";
    let mut ws_a = connect(&gw, path).await;
    let mut a = Member::default();
    a.read_until(&mut ws_a, |m| m.assigned.is_some()).await;
    assert_eq!(a.assigned, Some(vec![0, 1, 2, 3]), "a lone member owns all");
    produce(&gw, "gr", 0, 40, 4).await;
    a.read_until(&mut ws_a, |m| m.records.len() == 40).await;

    // A second member joins: each ends with two partitions, and b starts where a stopped.
    let mut ws_b = connect(&gw, path).await;
    let mut b = Member::default();
    b.read_until(&mut ws_b, |m| m.assigned.is_some()).await;
    a.read_until(&mut ws_a, |m| {
        m.assigned.as_ref().is_some_and(|p| p.len() == 2)
    })
    .await;
    let (pa, pb) = (a.assigned.clone().unwrap(), b.assigned.clone().unwrap());
    let both: BTreeSet<u64> = pa.iter().chain(&pb).copied().collect();
    assert_eq!(both.len(), 4, "a {pa:?} and b {pb:?} split the partitions");
    produce(&gw, "gr", 40, 40, 4).await;
    let total = |a: &Member, b: &Member| a.records.len() + b.records.len();
    a.read_until(&mut ws_a, |m| m.records.len() == 60).await;
    b.read_until(&mut ws_b, |m| m.records.len() == 20).await;
    assert_eq!(total(&a, &b), 80);
    assert!(
        b.records.keys().all(|v| *v >= 40),
        "b got no record a had already delivered"
    );

    // b leaves: its commit lands before its partitions go back to a, which resumes there.
    ws_b.close(None).await.unwrap();
    drop(ws_b);
    a.read_until(&mut ws_a, |m| {
        m.assigned.as_ref().is_some_and(|p| p.len() == 4)
    })
    .await;
    produce(&gw, "gr", 80, 40, 4).await;
    a.read_until(&mut ws_a, |m| m.records.len() == 100).await;
    let mut seen: Vec<u64> = a.records.keys().chain(b.records.keys()).copied().collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        (0..120).collect::<Vec<_>>(),
        "every record exactly once"
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_commit_then_resume_from_it() {
    let gw = TestGateway::start().await;
    gw.client.create_topic("gc", 2).await;
    produce(&gw, "gc", 0, 10, 2).await;
    let path = "/v1/topics/gc/subscribe?group=manual&auto_commit=false&from=earliest";
    let mut ws = connect(&gw, path).await;
    let mut m = Member::default();
    m.read_until(&mut ws, |m| m.records.len() == 10).await;
    let commit = json!({"commit": {"partition": 1, "offset": 3}});
    ws.send(Message::text(commit.to_string())).await.unwrap();
    let reply = next_json(&mut ws).await;
    assert_eq!(reply, json!({"committed": {"partition": 1, "offset": 3}}));
    let past_end = json!({"commit": {"partition": 0, "offset": 99}});
    ws.send(Message::text(past_end.to_string())).await.unwrap();
    let reply = next_json(&mut ws).await;
    assert_eq!(reply["commit_failed"]["offset"], 99, "{reply}");
    assert!(reply["message"].as_str().unwrap().contains("past the end"));
    let r = gw.client.get("/v1/groups/manual/offsets").await;
    assert_eq!(
        r.json["offsets"],
        json!([{"topic": "gc", "partition": 1, "offset": 3, "lag": 2}])
    );
    ws.close(None).await.unwrap();
    drop(ws);

    // Without auto-commit, leaving commits nothing more: partition 1 resumes at 3, and
    // partition 0 (never committed) starts from `from`.
    let again = "/v1/topics/gc/subscribe?group=manual&auto_commit=false&from=latest";
    let mut ws = connect(&gw, again).await;
    let mut m = Member::default();
    m.read_until(&mut ws, |m| m.records.len() == 2).await;
    assert_eq!(m.records, BTreeMap::from([(7, 1), (9, 1)]));
    produce(&gw, "gc", 10, 2, 2).await;
    m.read_until(&mut ws, |m| m.records.len() == 4).await;
    assert!(m.records.contains_key(&10) && m.records.contains_key(&11));

    // A partition this member does not own, and a commit outside a group, are refused.
    let foreign = json!({"commit": {"partition": 7, "offset": 0}});
    ws.send(Message::text(foreign.to_string())).await.unwrap();
    let reply = next_json(&mut ws).await;
    assert!(
        reply["message"].as_str().unwrap().contains("not assigned"),
        "{reply}"
    );
    let mut plain = connect(&gw, "/v1/topics/gc/subscribe").await;
    plain.send(Message::text(commit.to_string())).await.unwrap();
    let reply = next_json(&mut plain).await;
    assert_eq!(reply["error_code"], 40001, "{reply}");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_options_are_checked_and_sse_members_get_assignments() {
    let gw = TestGateway::start().await;
    gw.client.create_topic("gs", 2).await;
    for bad in [
        "group=g&partitions=0",
        "auto_commit=true",
        "group=g&auto_commit=maybe",
        "group=",
    ] {
        let (status, body) = refused(&gw, &format!("/v1/topics/gs/subscribe?{bad}")).await;
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {status} {body}"
        );
        assert!(body["message"].is_string(), "{bad}: {body}");
    }

    produce(&gw, "gs", 0, 4, 2).await;
    let mut events = sse::open(
        gw.addr(),
        "/v1/topics/gs/events?group=feed&from=earliest",
        &[],
    )
    .await
    .unwrap();
    assert_eq!(
        events.next().await.unwrap().event.as_deref(),
        Some("subscribed")
    );
    let assigned = events.next().await.unwrap();
    assert_eq!(assigned.event.as_deref(), Some("assigned"));
    assert_eq!(assigned.json(), json!({"assigned": [0, 1]}));
    assert_eq!(events.records(4).await.len(), 4);
    // An idle member commits what it delivered within about a second.
    let committed = async {
        loop {
            let r = gw.client.get("/v1/groups/feed/offsets").await;
            if r.status == StatusCode::OK {
                let sum: u64 = r.json["offsets"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|o| o["offset"].as_u64().unwrap())
                    .sum();
                if sum == 4 {
                    return;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(20), committed)
        .await
        .expect("the idle SSE member commits its positions");
    drop(events);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multiplexed_group_subscription_commits_by_id() {
    let gw = TestGateway::start().await;
    gw.client.create_topic("gm", 1).await;
    produce(&gw, "gm", 0, 3, 1).await;
    let mut ws = connect(&gw, "/v1/ws").await;
    let subscribe = json!({"subscribe": {"id": "s", "topic": "gm", "group": "mux",
        "auto_commit": false, "from": "earliest"}});
    ws.send(Message::text(subscribe.to_string())).await.unwrap();
    assert_eq!(next_json(&mut ws).await["subscribed"], "s");
    let assigned = next_json(&mut ws).await;
    assert_eq!(assigned, json!({"subscription": "s", "assigned": [0]}));
    for i in 0..3 {
        let record = next_json(&mut ws).await;
        assert_eq!(
            (record["subscription"].clone(), record["value"].clone()),
            (json!("s"), json!(i))
        );
    }
    let commit = json!({"commit": {"partition": 0, "offset": 2}, "subscription": "s"});
    ws.send(Message::text(commit.to_string())).await.unwrap();
    let reply = next_json(&mut ws).await;
    assert_eq!(
        reply,
        json!({"committed": {"partition": 0, "offset": 2}, "subscription": "s"})
    );
    let unknown = json!({"commit": {"partition": 0, "offset": 1}, "subscription": "nope"});
    ws.send(Message::text(unknown.to_string())).await.unwrap();
    let reply = next_json(&mut ws).await;
    assert_eq!(reply["subscription"], "nope");
    assert!(reply["error"]["message"].is_string(), "{reply}");
    let r = gw.client.get("/v1/groups/mux/offsets").await;
    assert_eq!(r.json["offsets"][0]["offset"], 2);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tail_subscribers_share_reads_and_each_gets_every_record_once_in_order() {
    let gw = TestGateway::start().await;
    gw.client.create_topic("fan", 3).await;
    produce(&gw, "fan", 0, 30, 3).await;
    // Some start at the tail (the shared reader serves them), one catches up from the start
    // while records keep coming, one is filtered; all must see exactly their records.
    let mut sockets = Vec::new();
    for i in 0..12 {
        let query = match i {
            0 => "from=earliest",
            1 => "key=k0",
            _ => "from=latest",
        };
        sockets.push(connect(&gw, &format!("/v1/topics/fan/subscribe?{query}")).await);
    }
    let producers: Vec<_> = (0..4u64)
        .map(|w| {
            let client = gw.client.clone();
            tokio::spawn(async move {
                for round in 0..10u64 {
                    let first = 30 + w * 100 + round * 10;
                    let records: Vec<Value> = (first..first + 10)
                        .map(|i| json!({"value": i, "key": format!("k{}", i % 5), "partition": i % 3}))
                        .collect();
                    client.produce("fan", json!(records)).await;
                }
            })
        })
        .collect();
    for p in producers {
        p.await.unwrap();
    }
    for (i, ws) in sockets.iter_mut().enumerate() {
        let expected: usize = match i {
            0 => 430,
            1 => 80,
            _ => 400,
        };
        let mut last: BTreeMap<u64, u64> = BTreeMap::new();
        let mut values = BTreeSet::new();
        for _ in 0..expected {
            let r = next_json(ws).await;
            let (p, offset) = (
                r["partition"].as_u64().unwrap(),
                r["offset"].as_u64().unwrap(),
            );
            if let Some(before) = last.insert(p, offset) {
                assert!(
                    offset > before,
                    "subscriber {i}: partition {p} went {before} → {offset}"
                );
            }
            assert!(
                values.insert(r["value"].as_u64().unwrap()),
                "subscriber {i}: duplicate {r}"
            );
        }
        let want: BTreeSet<u64> = match i {
            0 => (0..430).collect(),
            1 => (30..430).filter(|i| i % 5 == 0).collect(),
            _ => (30..430).collect(),
        };
        assert_eq!(values, want, "subscriber {i}");
    }
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_tail_subscribers_share_frames_and_each_gets_its_records_once_in_order() {
    let gw = TestGateway::start().await;
    gw.client.create_topic("arrays", 1).await;
    // Unfiltered ones may share one encoded array per shared batch; the filtered one must not.
    let mut sockets = Vec::new();
    for i in 0..6 {
        let query = if i == 0 {
            "batch=true&key=k0"
        } else {
            "batch=true"
        };
        sockets.push(connect(&gw, &format!("/v1/topics/arrays/subscribe?{query}")).await);
    }
    for round in 0..20u64 {
        let records: Vec<Value> = (round * 10..round * 10 + 10)
            .map(|i| json!({"value": i, "key": format!("k{}", i % 5)}))
            .collect();
        gw.client.produce("arrays", json!(records)).await;
    }
    for (i, ws) in sockets.iter_mut().enumerate() {
        let want: Vec<u64> = (0..200).filter(|v| i > 0 || v % 5 == 0).collect();
        let mut got = Vec::new();
        while got.len() < want.len() {
            let frame = next_json(ws).await;
            let records = frame
                .as_array()
                .unwrap_or_else(|| panic!("not an array: {frame}"));
            for r in records {
                assert_eq!(r["offset"], r["value"], "subscriber {i}: {r}");
                got.push(r["value"].as_u64().unwrap());
            }
        }
        assert_eq!(got, want, "subscriber {i}");
    }
    gw.stop().await;
}
