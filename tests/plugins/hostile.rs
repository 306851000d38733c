//! Hostile plugins are stopped by their limit within the deadline, the host keeps serving other
//! plugins, and the hostile plugin's next call runs on a fresh instance.

use std::time::{Duration, Instant};

use tidegate::plugin::{Error, Host, Limits, TransformInstance};

use super::{ctx, host, json, plain, plugin, state};

/// After a hostile call: a normal plugin on the same host works, and so does the hostile
/// plugin's next (benign) batch on the same `TransformInstance`.
async fn still_serving(host: &Host, hostile: &mut TransformInstance) {
    let identity = plugin(host, "identity").await;
    let mut normal = identity
        .instantiate(&[], Limits::default(), state())
        .await
        .expect("instantiate");
    let out = normal
        .transform(&ctx(), &[json(0, "k", "{}")])
        .await
        .expect("neighbour works");
    assert_eq!(out.len(), 1);
    let out = hostile
        .transform(&ctx(), &[plain(1, "benign")])
        .await
        .expect("fresh instance works");
    assert_eq!(super::text(&out[0].record), "benign");
}

#[tokio::test]
async fn infinite_loop_is_interrupted_at_the_deadline() {
    let (host, _dir) = host();
    let p = plugin(&host, "hostile-loop").await;
    let limits = Limits {
        call_timeout_ms: 200,
        ..Limits::default()
    };
    let mut instance = p
        .instantiate(&[], limits, state())
        .await
        .expect("instantiate");
    let started = Instant::now();
    let result = instance.transform(&ctx(), &[plain(0, "loop")]).await;
    let elapsed = started.elapsed();
    assert!(
        matches!(result, Err(Error::Timeout { limit_ms: 200, .. })),
        "{result:?}"
    );
    assert!(
        elapsed >= Duration::from_millis(200),
        "stopped early: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_millis(600),
        "stopped late: {elapsed:?}"
    );
    still_serving(&host, &mut instance).await;
}

#[tokio::test]
async fn a_spinning_guest_does_not_stall_other_plugins() {
    let (host, _dir) = host();
    let hostile = plugin(&host, "hostile-loop").await;
    let limits = Limits {
        call_timeout_ms: 1000,
        ..Limits::default()
    };
    let mut spinner = hostile
        .instantiate(&[], limits, state())
        .await
        .expect("instantiate");
    let spin = tokio::spawn(async move { spinner.transform(&ctx(), &[plain(0, "loop")]).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let identity = plugin(&host, "identity").await;
    let mut normal = identity
        .instantiate(&[], Limits::default(), state())
        .await
        .expect("instantiate");
    let mut slowest = Duration::ZERO;
    for i in 0..20 {
        let started = Instant::now();
        normal
            .transform(&ctx(), &[json(i, "k", "{}")])
            .await
            .expect("neighbour works");
        slowest = slowest.max(started.elapsed());
    }
    assert!(!spin.is_finished(), "the spinner should still be running");
    assert!(
        slowest < Duration::from_millis(100),
        "neighbour stalled for {slowest:?}"
    );
    let result = spin.await.expect("join");
    assert!(matches!(result, Err(Error::Timeout { .. })), "{result:?}");
}

#[tokio::test]
async fn memory_hog_hits_the_memory_limit() {
    let (host, _dir) = host();
    let p = plugin(&host, "hostile-memory").await;
    let limits = Limits {
        max_memory_bytes: 64 << 20,
        call_timeout_ms: 2000,
        ..Limits::default()
    };
    let mut instance = p
        .instantiate(&[], limits, state())
        .await
        .expect("instantiate");
    let started = Instant::now();
    let result = instance.transform(&ctx(), &[plain(0, "grow")]).await;
    let elapsed = started.elapsed();
    assert!(
        matches!(result, Err(Error::MemoryLimit { limit, .. }) if limit == 64 << 20),
        "{result:?}"
    );
    assert!(elapsed < Duration::from_millis(2000), "took {elapsed:?}");
    still_serving(&host, &mut instance).await;
}

#[tokio::test]
async fn panic_becomes_a_trap_with_the_guest_message() {
    let (host, _dir) = host();
    let p = plugin(&host, "hostile-trap").await;
    let limits = Limits {
        call_timeout_ms: 500,
        ..Limits::default()
    };
    let mut instance = p
        .instantiate(&[], limits, state())
        .await
        .expect("instantiate");
    let started = Instant::now();
    let result = instance.transform(&ctx(), &[plain(0, "panic")]).await;
    assert!(started.elapsed() < Duration::from_millis(500));
    match &result {
        Err(Error::Trap { message, .. }) => {
            eprintln!("trap message: {message}");
            assert!(
                message.contains("hostile-trap panicked on purpose"),
                "{message}"
            );
        }
        other => panic!("expected Trap, got {other:?}"),
    }
    assert!(result.as_ref().is_err_and(Error::poisons_instance));
    still_serving(&host, &mut instance).await;
}

#[tokio::test]
async fn gigantic_output_is_refused() {
    let (host, _dir) = host();
    let p = plugin(&host, "hostile-output").await;
    let limits = Limits {
        max_output_records: 10_000,
        max_output_bytes: 1 << 20,
        call_timeout_ms: 2000,
        ..Limits::default()
    };
    let mut instance = p
        .instantiate(&[], limits, state())
        .await
        .expect("instantiate");
    for (trigger, expected) in [
        ("records", "200000 records, the limit is 10000"),
        ("bytes", "payload bytes"),
    ] {
        let started = Instant::now();
        match instance.transform(&ctx(), &[plain(0, trigger)]).await {
            Err(Error::InvalidOutput { problem, .. }) => {
                assert!(problem.contains(expected), "{problem}")
            }
            other => panic!("{trigger}: expected InvalidOutput, got {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_millis(2000));
    }
    still_serving(&host, &mut instance).await;
}
