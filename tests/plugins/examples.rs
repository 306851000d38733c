//! Every example plugin compiles, loads and transforms as documented.

use bytes::Bytes;
use tidegate::event::{Header, Record, StoredRecord};
use tidegate::plugin::{Error, World};

use super::{config, ctx, host, json, limits, plugin, state, text};

const EXAMPLES: &[(&str, World)] = &[
    ("identity", World::Transform),
    ("identity-raw", World::TransformRaw),
    ("filter", World::Transform),
    ("mask", World::Transform),
    ("route", World::Transform),
    ("enrich-count", World::Transform),
    ("hostile-loop", World::Transform),
    ("hostile-memory", World::Transform),
    ("hostile-trap", World::Transform),
    ("hostile-output", World::Transform),
];

#[tokio::test]
async fn every_example_compiles_and_loads() {
    let (host, dir) = host();
    for (name, world) in EXAMPLES {
        let wasm = super::support_plugins::wasm(name);
        let info = host
            .compile(wasm.clone())
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(info.world, *world, "{name}");
        assert_eq!(info.size, wasm.len());
        assert!(info.digest.starts_with("sha256:") && info.digest.len() == 71);
        let hex = &info.digest["sha256:".len()..];
        assert!(dir.path().join(format!("{hex}.wasm")).is_file());
        assert!(dir.path().join(format!("{hex}.cwasm")).is_file());
        let loaded = host.load(&info.digest).await.expect("load");
        assert_eq!(loaded.info(), &info);
        assert_eq!(
            host.compile(wasm).await.expect("re-upload"),
            info,
            "idempotent"
        );
    }
}

/// Records exercising every field: no key, tombstone, empty value, repeated headers.
fn varied() -> Vec<StoredRecord> {
    let header = |n: &str, v: &'static [u8]| Header {
        name: n.into(),
        value: Bytes::from_static(v),
    };
    let mut batch = vec![json(10, "k1", r#"{"a":1}"#)];
    batch.push(StoredRecord {
        offset: 11,
        record: Record {
            key: None,
            value: None,
            headers: vec![
                header("h", b"1"),
                header("h", b""),
                header("\u{e9}", b"\xff"),
            ],
            timestamp: -1,
            attributes: 0,
        },
    });
    batch.push(StoredRecord {
        offset: 12,
        record: Record {
            value: Some(Bytes::new()),
            ..Record::default()
        },
    });
    batch
}

#[tokio::test]
async fn identity_typed_and_raw_return_the_batch_unchanged() {
    let (host, _dir) = host();
    for name in ["identity", "identity-raw"] {
        let p = plugin(&host, name).await;
        let mut instance = p
            .instantiate(&[], limits(), state())
            .await
            .expect("instantiate");
        let batch = varied();
        let out = instance.transform(&ctx(), &batch).await.expect("transform");
        let records: Vec<Record> = out.iter().map(|o| o.record.clone()).collect();
        assert_eq!(
            records,
            batch.iter().map(|s| s.record.clone()).collect::<Vec<_>>(),
            "{name}"
        );
        assert!(out.iter().all(|o| o.output.is_none()));
        assert!(
            instance
                .transform(&ctx(), &[])
                .await
                .expect("empty batch")
                .is_empty()
        );
    }
}

#[tokio::test]
async fn filter_keeps_matching_records_and_validates_config() {
    let (host, _dir) = host();
    let p = plugin(&host, "filter").await;
    let cfg = config(&[("field", "region"), ("equals", "eu")]);
    p.init(&cfg, limits()).await.expect("valid config");
    match p.init(&config(&[("field", "region")]), limits()).await {
        Err(Error::InvalidConfig { message, .. }) => {
            assert!(message.contains("equals"), "{message}")
        }
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
    let mut instance = p
        .instantiate(&cfg, limits(), state())
        .await
        .expect("instantiate");
    let batch = [
        json(0, "a", r#"{"region":"eu","n":1}"#),
        json(1, "b", r#"{"region":"us","n":2}"#),
        json(2, "c", "not json"),
        json(3, "d", r#"{"region":"eu","n":4}"#),
    ];
    let out = instance.transform(&ctx(), &batch).await.expect("transform");
    let kept: Vec<_> = out.iter().map(|o| o.record.key.clone()).collect();
    assert_eq!(
        kept,
        [
            Some(Bytes::from_static(b"a")),
            Some(Bytes::from_static(b"d"))
        ]
    );
}

#[tokio::test]
async fn mask_redacts_listed_fields() {
    let (host, _dir) = host();
    let p = plugin(&host, "mask").await;
    let cfg = config(&[("fields", "email, ssn")]);
    let mut instance = p
        .instantiate(&cfg, limits(), state())
        .await
        .expect("instantiate");
    let batch = [
        json(0, "a", r#"{"email":"x@y.z","ssn":"123","name":"Ann"}"#),
        json(1, "b", "[1,2]"),
    ];
    let out = instance.transform(&ctx(), &batch).await.expect("transform");
    let value: serde_json::Value = serde_json::from_str(&text(&out[0].record)).expect("json");
    assert_eq!(
        value,
        serde_json::json!({"email": "***", "ssn": "***", "name": "Ann"})
    );
    assert_eq!(text(&out[1].record), "[1,2]", "non-objects pass through");
    assert_eq!(out[0].record.headers, batch[0].record.headers);
}

#[tokio::test]
async fn route_picks_outputs_by_field() {
    let (host, _dir) = host();
    let p = plugin(&host, "route").await;
    let cfg = config(&[("field", "region"), ("routes", "eu=0,us=1")]);
    assert!(matches!(
        p.init(
            &config(&[("field", "region"), ("routes", "eu=zero")]),
            limits()
        )
        .await,
        Err(Error::InvalidConfig { .. })
    ));
    let instance = p
        .instantiate(&cfg, limits(), state())
        .await
        .expect("instantiate");
    let mut instance = instance.with_outputs(2);
    let batch = [
        json(0, "a", r#"{"region":"us"}"#),
        json(1, "b", r#"{"region":"eu"}"#),
        json(2, "c", r#"{"region":"apac"}"#),
        json(3, "d", r#"{"other":1}"#),
    ];
    let out = instance.transform(&ctx(), &batch).await.expect("transform");
    let outputs: Vec<_> = out.iter().map(|o| o.output).collect();
    assert_eq!(outputs, [Some(1), Some(0), None, None]);

    // Declaring only one output makes routing to index 1 invalid output.
    let mut narrow = p
        .instantiate(&cfg, limits(), state())
        .await
        .expect("instantiate")
        .with_outputs(1);
    match narrow.transform(&ctx(), &batch).await {
        Err(Error::InvalidOutput { problem, .. }) => assert!(problem.contains("output index 1")),
        other => panic!("expected InvalidOutput, got {other:?}"),
    }
}

#[tokio::test]
async fn enrich_count_keeps_counts_in_the_state_store() {
    let (host, _dir) = host();
    let p = plugin(&host, "enrich-count").await;
    let store = state();
    let mut instance = p
        .instantiate(&[], limits(), store.clone())
        .await
        .expect("instantiate");
    let count = |o: &tidegate::plugin::OutputRecord| {
        let h = o
            .record
            .headers
            .iter()
            .find(|h| h.name == "count")
            .expect("count header");
        String::from_utf8(h.value.to_vec()).expect("utf8")
    };
    let first = [json(0, "a", "{}"), json(1, "b", "{}"), json(2, "a", "{}")];
    let out = instance.transform(&ctx(), &first).await.expect("batch 1");
    assert_eq!(out.iter().map(count).collect::<Vec<_>>(), ["1", "1", "2"]);
    assert_eq!(
        out[0].record.headers[0].name, "source",
        "existing headers kept"
    );
    let out = instance
        .transform(&ctx(), &[json(3, "a", "{}")])
        .await
        .expect("batch 2");
    assert_eq!(count(&out[0]), "3");
    assert_eq!(store.len(), 2);

    // A brand-new instance over the same store continues the counts: state lives in the host.
    let mut fresh = p
        .instantiate(&[], limits(), store.clone())
        .await
        .expect("instantiate");
    let out = fresh
        .transform(&ctx(), &[json(4, "b", "{}")])
        .await
        .expect("batch 3");
    assert_eq!(count(&out[0]), "2");
}
