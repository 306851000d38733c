//! The client subcommands against a real server: topic admin, produce from stdin, consume
//! with a group (resuming where it left off).

use std::process::{Command, Stdio};

use crate::support::TestGateway;

fn tidegate(server: &str, args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut all = vec!["--server", server];
    all.extend_from_slice(args);
    crate::support::cli(&all, stdin)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_produce_consume_round_trip() {
    let gw = TestGateway::start().await;
    let server = format!("http://{}", gw.addr());
    let run = |args: &'static [&'static str], stdin: &'static str| {
        let server = server.clone();
        tokio::task::spawn_blocking(move || tidegate(&server, args, stdin))
    };
    let (ok, _, err) = run(
        &[
            "topic",
            "create",
            "cli",
            "--partitions",
            "1",
            "--config",
            "retention.ms=60000",
        ],
        "",
    )
    .await
    .unwrap();
    assert!(ok, "{err}");
    let (ok, _, err) = run(&["topic", "create", "cli"], "").await.unwrap();
    assert!(
        !ok && err.contains("exists"),
        "duplicate create must fail with the server's message: {err}"
    );

    let (ok, _, err) = run(
        &["produce", "cli", "--key-separator", ":"],
        "k1:{\"a\":1}\nk2:plain text\n42\n",
    )
    .await
    .unwrap();
    assert!(ok, "{err}");
    let (ok, out, err) = run(&["consume", "cli", "--group", "g"], "").await.unwrap();
    assert!(ok, "{err}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["{\"a\":1}", "\"plain text\"", "42"]
    );
    let fetched = gw.client.fetch("cli", 0, "offset=0").await;
    assert_eq!(fetched.json["records"][0]["key"], "k1");
    assert_eq!(fetched.json["records"][2]["key"], serde_json::Value::Null);

    // The group resumes after what it already printed.
    run(&["produce", "cli"], "{\"b\":2}\n").await.unwrap();
    let (_, out, _) = run(&["consume", "cli", "--group", "g"], "").await.unwrap();
    assert_eq!(out.trim(), "{\"b\":2}");
    assert_eq!(
        gw.client.get("/v1/groups/g/offsets").await.json["offsets"][0]["offset"],
        4
    );

    let (ok, out, _) = run(&["topic", "list"], "").await.unwrap();
    assert!(ok && out.contains("cli"), "{out}");
    let (ok, _, _) = run(&["topic", "delete", "cli"], "").await.unwrap();
    assert!(ok);
    assert_eq!(
        gw.client.get("/v1/topics/cli").await.status,
        hyper::StatusCode::NOT_FOUND
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consume_follows_over_websocket() {
    let gw = TestGateway::start().await;
    let server = format!("http://{}", gw.addr());
    gw.client.create_topic("live-cli", 2).await;
    gw.client
        .produce(
            "live-cli",
            serde_json::json!([{"value": {"n": 1}, "partition": 0}, {"value": "two", "partition": 1}]),
        )
        .await;
    let follower = {
        let server = server.clone();
        tokio::task::spawn_blocking(move || {
            tidegate(
                &server,
                &["consume", "live-cli", "--ws", "--max-records", "3"],
                "",
            )
        })
    };
    // The third record is appended while the CLI follows; it stops after printing it.
    gw.client
        .produce(
            "live-cli",
            serde_json::json!([{"value": 3, "partition": 0}]),
        )
        .await;
    let (ok, out, err) = follower.await.unwrap();
    assert!(ok, "{err}");
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, ["\"two\"", "3", "{\"n\":1}"]);

    let (ok, _, err) = tokio::task::spawn_blocking(move || {
        tidegate(&server, &["consume", "no-such-topic", "--ws"], "")
    })
    .await
    .unwrap();
    assert!(!ok && err.contains("404"), "{err}");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connector_commands_drive_the_connect_api() {
    let gw = TestGateway::start().await;
    let server = format!("http://{}", gw.addr());
    gw.client.create_topic("gen", 1).await;
    crate::connectors::upload_as(&gw.client, "datagen", "datagen").await;
    let run = |args: Vec<&'static str>| {
        let server = server.clone();
        tokio::task::spawn_blocking(move || tidegate(&server, &args, ""))
    };
    let (ok, out, err) = run(vec![
        "connector",
        "create",
        "gen",
        "-c",
        "connector.class=datagen",
        "-c",
        "topic=gen",
        "-c",
        "rate=0",
        "-c",
        "max.records=20",
    ])
    .await
    .unwrap();
    assert!(ok, "{err}");
    assert!(out.contains("connector gen: created (source)"), "{out}");
    crate::transforms::wait_for_records(&gw.client, "gen", 20, std::time::Duration::from_secs(30))
        .await;
    let (ok, out, _) = run(vec!["connector", "list"]).await.unwrap();
    assert!(
        ok && out.contains("gen  source  connector=RUNNING  task=RUNNING"),
        "{out}"
    );
    let (ok, out, _) = run(vec!["connector", "status", "gen"]).await.unwrap();
    assert!(ok && out.contains("connector=RUNNING"), "{out}");
    let (ok, out, err) = run(vec!["connector", "offsets", "gen", "--reset"])
        .await
        .unwrap();
    assert!(
        !ok && err.contains("STOPPED"),
        "resetting a running connector is refused: {out}{err}"
    );
    let (ok, _, err) = run(vec!["connector", "stop", "gen"]).await.unwrap();
    assert!(ok, "{err}");
    let (ok, out, _) = run(vec!["connector", "offsets", "gen"]).await.unwrap();
    assert!(ok && out.contains("\"seq\": 20"), "{out}");
    let (ok, _, err) = run(vec!["connector", "offsets", "gen", "--reset"])
        .await
        .unwrap();
    assert!(ok, "{err}");
    let (ok, _, err) = run(vec!["connector", "pause", "gen"]).await.unwrap();
    assert!(ok, "{err}");
    let (ok, _, err) = run(vec!["connector", "restart", "gen", "--only-failed"])
        .await
        .unwrap();
    assert!(ok, "{err}");
    let (ok, out, err) = run(vec!["connector", "delete", "gen"]).await.unwrap();
    assert!(ok && out.contains("deleted"), "{err}");
    let (ok, _, err) = run(vec!["connector", "status", "gen"]).await.unwrap();
    assert!(!ok && err.contains("not found"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_keys_from_the_cli() {
    let args = tidegate::config::ServeArgs {
        auth_required: Some(true),
        auth_admin_token: Some("cli-admin".into()),
        ..tidegate::config::ServeArgs::default()
    };
    let gw = TestGateway::start_in(tempfile::tempdir().unwrap(), args).await;
    let server = format!("http://{}", gw.addr());
    let run = |args: Vec<String>| {
        let server = server.clone();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            tidegate(&server, &args, "")
        })
    };
    let owned = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let (ok, _, err) = run(owned(&["topic", "list"])).await.unwrap();
    assert!(!ok && err.contains("401"), "{err}");
    let (ok, key, err) = run(owned(&[
        "--token",
        "cli-admin",
        "auth",
        "key",
        "create",
        "--principal",
        "carol",
    ]))
    .await
    .unwrap();
    assert!(ok, "{err}");
    let key = key.trim().to_owned();
    let (ok, _, err) = run(owned(&[
        "--token",
        "cli-admin",
        "acl",
        "add",
        "--principal",
        "User:carol",
        "--resource-type",
        "topic",
        "--resource-name",
        "c",
        "--pattern-type",
        "prefixed",
        "--operation",
        "all",
    ]))
    .await
    .unwrap();
    assert!(ok, "{err}");
    let (ok, acls, _) = run(owned(&["--token", "cli-admin", "acl", "list"]))
        .await
        .unwrap();
    assert!(
        ok && acls.contains("allow\tUser:carol\tall topic:c\tprefixed"),
        "{acls}"
    );
    let (ok, _, err) = run(vec![
        "--token".into(),
        key.clone(),
        "topic".into(),
        "create".into(),
        "c".into(),
    ])
    .await
    .unwrap();
    assert!(ok, "{err}");
    let (ok, listed, _) = run(owned(&["--token", "cli-admin", "auth", "key", "list"]))
        .await
        .unwrap();
    assert!(
        ok && listed.contains("carol") && !listed.contains(key.split('.').nth(1).unwrap()),
        "{listed}"
    );
    let id = key.split('.').next().unwrap().to_owned();
    let (ok, _, err) = run(vec![
        "--token".into(),
        "cli-admin".into(),
        "auth".into(),
        "key".into(),
        "revoke".into(),
        id,
    ])
    .await
    .unwrap();
    assert!(ok, "{err}");
    let (ok, _, err) = run(vec!["--token".into(), key, "topic".into(), "list".into()])
        .await
        .unwrap();
    assert!(!ok && err.contains("401"), "{err}");
    gw.stop().await;
}

#[test]
fn json_logs_are_one_object_per_line() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tidegate"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("TIDEGATE_LOG_FORMAT", "json")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // The first lines go out while the gateway starts; it says where it listens.
    let mut addr = None;
    while addr.is_none() {
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("no log line within 60 s");
        let entry: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(
            entry["level"].is_string() && entry["timestamp"].is_string(),
            "{entry}"
        );
        if entry["fields"]["message"] == "listening" {
            addr = entry["fields"]["addr"].as_str().map(str::to_owned);
        }
    }
    let addr = addr.unwrap();
    let stream = std::net::TcpStream::connect(&addr).unwrap();
    drop(stream);
    let _ = child.kill();
    let _ = child.wait();
}
