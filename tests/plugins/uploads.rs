//! Bad uploads are refused with precise errors, and digests are checked.

use tidegate::plugin::{Error, Host, PluginConfig};

use super::host;

#[tokio::test]
async fn random_bytes_are_not_a_component() {
    let (host, _dir) = host();
    let junk: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    match host.compile(junk.into()).await {
        Err(Error::NotAComponent { reason }) => assert!(reason.contains("magic"), "{reason}"),
        other => panic!("expected NotAComponent, got {other:?}"),
    }
}

#[tokio::test]
async fn a_core_module_is_not_a_component() {
    let (host, _dir) = host();
    match host
        .compile(bytes::Bytes::from_static(b"\0asm\x01\0\0\0"))
        .await
    {
        Err(Error::NotAComponent { reason }) => assert!(reason.contains("core WebAssembly module")),
        other => panic!("expected NotAComponent, got {other:?}"),
    }
}

#[tokio::test]
async fn a_broken_component_fails_to_compile() {
    let (host, _dir) = host();
    match host
        .compile(bytes::Bytes::from_static(b"\0asm\x0d\0\x01\0\xff\xff\xff"))
        .await
    {
        Err(Error::Compile { reason }) => assert!(!reason.is_empty()),
        other => panic!("expected Compile, got {other:?}"),
    }
}

#[tokio::test]
async fn a_component_of_another_world_is_refused() {
    let (host, dir) = host();
    match host
        .compile(super::support_plugins::wasm("other-world"))
        .await
    {
        Err(Error::UnknownWorld { exports }) => assert_eq!(exports, ["greet"]),
        other => panic!("expected UnknownWorld, got {other:?}"),
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("ls").count(),
        0,
        "nothing stored"
    );
}

#[tokio::test]
async fn an_oversized_upload_is_refused_before_parsing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = PluginConfig::new(dir.path());
    config.max_component_bytes = 1 << 20;
    config.pool_instances = 0;
    let host = Host::new(config).expect("host");
    let body = vec![0u8; (1 << 20) + 1];
    match host.compile(body.into()).await {
        Err(Error::TooLarge { size, limit }) => assert_eq!((size, limit), ((1 << 20) + 1, 1 << 20)),
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

#[tokio::test]
async fn unknown_and_malformed_digests() {
    let (host, _dir) = host();
    let absent = format!("sha256:{}", "0".repeat(64));
    for digest in [absent.as_str(), "sha256:../../etc/passwd", "nope"] {
        match host.load(digest).await {
            Err(Error::UnknownDigest { digest: d }) => assert_eq!(d, digest),
            other => panic!("{digest}: expected UnknownDigest, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn removed_plugins_are_gone() {
    let (host, dir) = host();
    let info = host
        .compile(super::support_plugins::wasm("identity"))
        .await
        .expect("compile");
    host.remove(&info.digest).expect("remove");
    assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 0);
    assert!(matches!(
        host.load(&info.digest).await,
        Err(Error::UnknownDigest { .. })
    ));
    host.remove(&info.digest).expect("removing twice is fine");
}

#[tokio::test]
async fn a_component_importing_what_the_host_does_not_grant_is_refused() {
    let (host, dir) = host();
    match host
        .compile(super::support_plugins::wasm("forbidden-import"))
        .await
    {
        Err(Error::ForbiddenImport { name }) => {
            assert!(name.contains("example:forbidden/secrets"), "{name}");
        }
        other => panic!("expected ForbiddenImport, got {other:?}"),
    }
    let stored = std::fs::read_dir(dir.path()).expect("ls").count();
    assert_eq!(stored, 0, "a refused upload left files in the cache");
}

#[tokio::test]
async fn a_compilation_over_its_time_budget_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = PluginConfig::new(dir.path());
    config.pool_instances = 0;
    config.compile_timeout = std::time::Duration::from_millis(1);
    let host = Host::new(config).expect("host");
    let started = std::time::Instant::now();
    // The Python component is ~18 MB of code: far more than 1 ms of Cranelift work.
    match host.compile(super::support_plugins::python_filter()).await {
        Err(Error::CompileTimeout { limit }) => assert_eq!(limit.as_millis(), 1),
        other => panic!("expected CompileTimeout, got {other:?}"),
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "the caller waited for the whole compile"
    );
}
