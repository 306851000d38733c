//! Third-party clients nobody here wrote, against a real gateway: Confluent's Python client
//! (`confluent-kafka`, from PyPI) drives the Schema Registry API and round-trips an Avro
//! record through the log, and runs the REST Proxy v2 consumer flow with its Avro serializer
//! and deserializer at both ends. The venv lives in `target/client-venv`, installed from
//! `tests/clients/requirements.txt` on first use and again when that file changes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use crate::support::TestGateway;

/// Longest one client script may run (it stops by itself well before).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

/// The venv's python, installing the pinned requirements when they changed.
fn python() -> PathBuf {
    static VENV: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let venv = VENV.get_or_init(|| {
        let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/client-venv");
        let requirements = clients_dir().join("requirements.txt");
        let wanted = std::fs::read_to_string(&requirements).map_err(|e| e.to_string())?;
        let stamp = venv.join("installed-requirements.txt");
        if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
            run(
                Command::new("python3").arg("-m").arg("venv").arg(&venv),
                "creating a Python venv (needs python3 with venv)",
            )?;
            run(
                Command::new(venv.join("bin/pip"))
                    .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
                    .arg(&requirements),
                "installing tests/clients/requirements.txt from PyPI",
            )?;
            std::fs::write(&stamp, &wanted).map_err(|e| e.to_string())?;
        }
        Ok(venv.join("bin/python"))
    });
    match venv {
        Ok(python) => python.clone(),
        Err(e) => panic!("{e}"),
    }
}

/// Runs `tests/clients/{script}` against `gw` and returns its stdout; fails the test on a
/// non-zero exit with the script's output.
async fn run_script(gw: &TestGateway, script: &str) -> String {
    run_script_with(gw, script, &[]).await
}

/// [`run_script`] with more arguments after the base URL.
async fn run_script_with(gw: &TestGateway, script: &str, extra: &[&str]) -> String {
    let python = tokio::task::spawn_blocking(python).await.unwrap();
    let mut cmd = tokio::process::Command::new(python);
    cmd.arg(clients_dir().join(script))
        .arg(format!("http://{}", gw.addr()))
        .args(extra)
        .kill_on_drop(true);
    let out = tokio::time::timeout(SCRIPT_TIMEOUT, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("{script} ran past {SCRIPT_TIMEOUT:?}"))
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{script} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test]
async fn confluents_python_client_drives_the_schema_registry() {
    let gw = TestGateway::start().await;
    let out = run_script(&gw, "schema_registry.py").await;
    assert!(out.starts_with("ok 1 "), "{out}");
    // The wire bytes the serializer made are what the log kept: magic 0, id 2, payload.
    let hex = out.split_whitespace().nth(2).unwrap();
    assert!(hex.starts_with("0000000002"), "{hex}");
    gw.stop().await;
}

#[tokio::test]
async fn the_rest_proxy_consumer_flow_round_trips_confluents_avro_serializer() {
    let gw = TestGateway::start().await;
    let out = run_script(&gw, "rest_consumer.py").await;
    // Both instances of the group got records: the two partitions were split between them.
    let counts: Vec<usize> = out
        .split_whitespace()
        .skip(1)
        .map(|n| n.parse().unwrap())
        .collect();
    assert!(out.starts_with("ok "), "{out}");
    assert_eq!(counts.iter().sum::<usize>(), 6, "{out}");
    assert!(counts.iter().all(|n| *n > 0), "{out}");
    gw.stop().await;
}

#[tokio::test]
async fn confluents_client_authenticates_with_basic_auth_user_info() {
    let args = tidegate::config::ServeArgs {
        auth_required: Some(true),
        auth_admin_token: Some("py-admin".into()),
        ..tidegate::config::ServeArgs::default()
    };
    let gw = TestGateway::start_in(tempfile::tempdir().unwrap(), args).await;
    let body = serde_json::to_vec(&serde_json::json!({"principal": "python"})).unwrap();
    let created = gw
        .client
        .send(
            hyper::Method::POST,
            "/v1/auth/keys",
            body,
            &[("authorization", "Bearer py-admin")],
        )
        .await;
    let key = created.json["key"].as_str().unwrap().to_owned();
    let grant = serde_json::json!({"principal": "User:python", "resource_type": "subject",
        "resource_name": "auth-", "pattern_type": "prefixed", "operation": "write", "permission": "allow"});
    let r = gw
        .client
        .send(
            hyper::Method::POST,
            "/v1/acls",
            serde_json::to_vec(&grant).unwrap(),
            &[("authorization", "Bearer py-admin")],
        )
        .await;
    assert_eq!(r.status, hyper::StatusCode::CREATED, "{}", r.json);
    let out = run_script_with(&gw, "basic_auth.py", &[&key]).await;
    assert!(out.starts_with("ok "), "{out}");
    gw.stop().await;
}
