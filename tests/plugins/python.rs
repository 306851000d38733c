//! A guest in a second language: `plugins/python-filter` (componentize-py) against the same
//! WIT behaves exactly like the Rust `filter`.

use std::time::Instant;

use tidegate::plugin::{Error, World};

use super::{config, ctx, host, json, limits, plugin, state};

#[tokio::test]
async fn python_filter_matches_the_rust_filter() {
    let wasm = super::support_plugins::python_filter();
    let (host, _dir) = host();
    let started = Instant::now();
    let info = host.compile(wasm).await.expect("compile python component");
    eprintln!(
        "python-filter: {} bytes, compiled in {:?}",
        info.size,
        started.elapsed()
    );
    assert_eq!(info.world, World::Transform);
    let python = host.load(&info.digest).await.expect("load");

    match python.init(&config(&[("field", "region")]), limits()).await {
        Err(Error::InvalidConfig { message, .. }) => {
            assert!(message.contains("equals"), "{message}")
        }
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
    let cfg = config(&[("field", "region"), ("equals", "eu")]);
    let batch = [
        json(0, "a", r#"{"region":"eu","n":1}"#),
        json(1, "b", r#"{"region":"us","n":2}"#),
        json(2, "c", "not json"),
        json(3, "d", r#"{"region":"eu","n":4}"#),
        json(4, "e", r#"{"n":5}"#),
    ];
    let mut py = python
        .instantiate(&cfg, limits(), state())
        .await
        .expect("instantiate");
    let rust = plugin(&host, "filter").await;
    let mut rs = rust
        .instantiate(&cfg, limits(), state())
        .await
        .expect("instantiate");
    let from_python = py
        .transform(&ctx(), &batch)
        .await
        .expect("python transform");
    let from_rust = rs.transform(&ctx(), &batch).await.expect("rust transform");
    assert_eq!(from_python, from_rust);
    assert_eq!(from_python.len(), 2);
}
