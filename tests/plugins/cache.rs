//! The precompiled cache: a restarted host loads without compiling; a missing artifact is
//! rebuilt from the stored upload.

use std::time::{Duration, Instant};

use super::{ctx, host_in, json, limits, state};

#[tokio::test]
async fn a_new_host_loads_from_the_cache_without_compiling() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wasm = super::support_plugins::wasm("filter");
    let first = host_in(dir.path());
    let started = Instant::now();
    let info = first.compile(wasm.clone()).await.expect("compile");
    let compile_time = started.elapsed();
    drop(first);

    let hex = &info.digest["sha256:".len()..];
    let cwasm = dir.path().join(format!("{hex}.cwasm"));
    let before = std::fs::metadata(&cwasm).expect("artifact");

    let second = host_in(dir.path());
    let started = Instant::now();
    let plugin = second.load(&info.digest).await.expect("load");
    let load_time = started.elapsed();
    let after = std::fs::metadata(&cwasm).expect("artifact");
    assert_eq!(
        before.modified().ok(),
        after.modified().ok(),
        "artifact was rewritten"
    );
    assert_eq!(before.len(), after.len());
    assert_eq!(plugin.info(), &info);
    assert!(
        load_time < Duration::from_millis(50),
        "load took {load_time:?}"
    );
    assert!(
        load_time * 2 < compile_time,
        "load {load_time:?} vs compile {compile_time:?}"
    );

    // Re-uploading the same bytes to a restarted host is a cache hit too.
    let third = host_in(dir.path());
    let started = Instant::now();
    assert_eq!(third.compile(wasm).await.expect("re-upload"), info);
    assert!(started.elapsed() * 2 < compile_time, "re-upload recompiled");
    let after = std::fs::metadata(&cwasm).expect("artifact");
    assert_eq!(
        before.modified().ok(),
        after.modified().ok(),
        "artifact was rewritten"
    );

    let cfg = super::config(&[("field", "region"), ("equals", "eu")]);
    let mut instance = plugin
        .instantiate(&cfg, limits(), state())
        .await
        .expect("instantiate");
    let out = instance
        .transform(&ctx(), &[json(0, "a", r#"{"region":"eu"}"#)])
        .await;
    assert_eq!(out.expect("transform").len(), 1);
}

#[tokio::test]
async fn a_missing_artifact_is_rebuilt_from_the_upload() {
    let dir = tempfile::tempdir().expect("tempdir");
    let info = host_in(dir.path())
        .compile(super::support_plugins::wasm("identity"))
        .await
        .expect("compile");
    let hex = &info.digest["sha256:".len()..];
    let cwasm = dir.path().join(format!("{hex}.cwasm"));
    std::fs::remove_file(&cwasm).expect("rm");
    let plugin = host_in(dir.path())
        .load(&info.digest)
        .await
        .expect("load recompiles");
    assert_eq!(plugin.info(), &info);
    assert!(cwasm.is_file(), "artifact written again");
}
