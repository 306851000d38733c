//! The connector worlds at the plugin layer: validation with per-field answers, world checks,
//! sources resuming from committed offsets (in Rust and in Python), the HTTP allow-list, and
//! instance replacement after a trap.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tidegate::plugin::{AllowEntry, Error, Grants, SourceOffset, World};

use super::{config, ctx, host, limits, plain, plugin, state};

#[tokio::test]
async fn validation_answers_per_field_and_worlds_are_checked() {
    let (host, _dir) = host();
    let sink = plugin(&host, "http-sink").await;
    assert_eq!(sink.info().world, World::Sink);
    let errors = sink
        .validate(
            &config(&[("url", "ftp://x"), ("headers", "no colon")]),
            limits(),
        )
        .await
        .expect("validate runs");
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["url", "headers"], "{errors:?}");
    let ok = sink
        .validate(&config(&[("url", "http://127.0.0.1:9/")]), limits())
        .await
        .expect("validate runs");
    assert!(ok.is_empty(), "{ok:?}");
    // A connector is not a transform, and a transform is not a connector.
    let err = sink.init(&[], limits()).await.expect_err("not a transform");
    assert!(matches!(err, Error::WrongWorld { .. }), "{err}");
    let filter = plugin(&host, "filter").await;
    let err = filter
        .validate(&[], limits())
        .await
        .expect_err("not a connector");
    assert!(matches!(err, Error::WrongWorld { .. }), "{err}");
    let err = sink
        .open_source(&[], Vec::new(), limits(), state(), Grants::none())
        .await
        .err()
        .expect("a sink is not a source");
    assert!(matches!(err, Error::WrongWorld { .. }), "{err}");
}

fn seq(offset: &SourceOffset) -> u64 {
    let v: serde_json::Value = serde_json::from_str(&offset.offset).expect("JSON offset");
    v["seq"].as_u64().expect("seq")
}

#[tokio::test]
async fn sources_resume_after_their_committed_offsets_in_rust_and_python() {
    let (host, _dir) = host();
    let rust = plugin(&host, "datagen").await;
    let info = host
        .compile(super::support_plugins::python_datagen())
        .await
        .expect("compile the python datagen");
    assert_eq!(info.world, World::Source);
    let python = host.load(&info.digest).await.expect("load");
    let cfg = config(&[("rate", "0"), ("max.records", "100")]);
    let mut outputs = Vec::new();
    for source in [&rust, &python] {
        let mut first = source
            .open_source(&cfg, Vec::new(), limits(), state(), Grants::none())
            .await
            .expect("open");
        let polled = first.poll(10).await.expect("poll");
        assert_eq!(
            polled.iter().map(|r| seq(&r.position)).collect::<Vec<_>>(),
            (1..=10).collect::<Vec<_>>()
        );
        // Resume after offset 10 on a fresh instance: 11 onwards, nothing again.
        let committed = vec![polled[9].position.clone()];
        let mut second = source
            .open_source(&cfg, committed, limits(), state(), Grants::none())
            .await
            .expect("open");
        let next = second.poll(5).await.expect("poll");
        assert_eq!(
            next.iter().map(|r| seq(&r.position)).collect::<Vec<_>>(),
            (11..=15).collect::<Vec<_>>()
        );
        outputs.push(next.into_iter().map(|r| r.record.value).collect::<Vec<_>>());
    }
    assert_eq!(
        outputs[0], outputs[1],
        "python and rust generate the same records"
    );
}

#[tokio::test]
async fn requests_outside_the_allow_list_never_connect() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&accepted);
    tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    let (host, _dir) = host();
    let sink = plugin(&host, "http-sink").await;
    let url = format!("http://{addr}/hook");
    let grants = Grants {
        http_allow: AllowEntry::parse_list("example.invalid, http://127.0.0.1:1/other")
            .expect("list"),
        dir: None,
    };
    let mut instance = sink
        .open_sink(&config(&[("url", &url)]), limits(), state(), grants)
        .await
        .expect("open");
    let err = instance
        .put(&ctx(), &[plain(0, "x")])
        .await
        .expect_err("denied");
    match err {
        Error::Guest {
            message,
            retryable: true,
            ..
        } => {
            assert!(message.contains("HttpRequestDenied"), "{message}");
        }
        other => panic!("expected a retryable guest error, got {other}"),
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        0,
        "a denied request connected"
    );
}

#[tokio::test]
async fn a_trapped_sink_is_replaced_on_the_next_call() {
    let (host, _dir) = host();
    let hostile = plugin(&host, "hostile-connector").await;
    let mut instance = hostile
        .open_sink(&[], limits(), state(), Grants::none())
        .await
        .expect("open");
    let err = instance
        .put(&ctx(), &[plain(0, "panic")])
        .await
        .expect_err("trap");
    assert!(
        matches!(err, Error::Trap { ref message, .. } if message.contains("hostile panic")),
        "{err}"
    );
    instance
        .put(&ctx(), &[plain(1, "fine")])
        .await
        .expect("a fresh instance");
    instance.flush().await.expect("flush");
    instance.close().await;
    // A plugin that refuses to open says why.
    let err = hostile
        .open_sink(
            &config(&[("fail.open", "true")]),
            limits(),
            state(),
            Grants::none(),
        )
        .await
        .err()
        .expect("refused");
    assert!(
        matches!(err, Error::Open { ref message, .. } if message.contains("fail.open")),
        "{err}"
    );
}
