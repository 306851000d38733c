//! TLS on the listener with real TLS clients: rustls (HTTP/1.1 and HTTP/2 through ALPN),
//! `curl` and `openssl s_client`; mutual TLS refusing missing, untrusted and expired client
//! certificates in the handshake; a certificate reload that leaves an open WebSocket alone.
//! Certificates are made per test with rcgen.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::{Request, StatusCode, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{Value, json};
use tidegate::config::ServeArgs;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite::Message;

use crate::support::TestGateway;

/// How long a test waits for the server to pick up rewritten certificate files.
const RELOAD_PATIENCE: Duration = Duration::from_secs(20);

struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

fn ca(name: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let pem = params.self_signed(&key).unwrap().pem();
    Ca {
        issuer: Issuer::new(params, key),
        pem,
    }
}

/// A certificate for `names` (DNS names or IPs) with common name `cn`, signed by `ca`;
/// `expired` puts its validity in the past. Returns (cert PEM, key PEM).
fn leaf(ca: &Ca, cn: &str, names: &[&str], expired: bool) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
    let mut params = CertificateParams::new(names).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    if expired {
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A gateway serving TLS with a server certificate from `ca` (and `client_ca` for mTLS).
async fn start(ca: &Ca, client_ca: Option<&Ca>) -> (TestGateway, tempfile::TempDir) {
    start_with(ca, client_ca, ServeArgs::default()).await
}

async fn start_with(
    ca: &Ca,
    client_ca: Option<&Ca>,
    args: ServeArgs,
) -> (TestGateway, tempfile::TempDir) {
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = leaf(ca, "first", &["localhost", "127.0.0.1"], false);
    let args = ServeArgs {
        tls_cert: Some(write(certs.path(), "server.pem", &cert)),
        tls_key: Some(write(certs.path(), "server.key", &key)),
        tls_client_ca: client_ca.map(|c| write(certs.path(), "clients.pem", &c.pem)),
        ..args
    };
    let dir = tempfile::tempdir().unwrap();
    (TestGateway::start_in(dir, args).await, certs)
}

fn connector(ca: &Ca, client: Option<(String, String)>, alpn: &[&[u8]]) -> TlsConnector {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca.pem.as_bytes()).unwrap())
        .unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()];
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    TlsConnector::from(Arc::new(config))
}

async fn connect(
    gw: &TestGateway,
    connector: &TlsConnector,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(gw.addr()).await?;
    let name = ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await
}

/// One GET over a fresh TLS connection, HTTP/2 when `h2`; the answer's version and status.
async fn get(
    gw: &TestGateway,
    connector: &TlsConnector,
    path: &str,
    h2: bool,
) -> Result<(Version, StatusCode), String> {
    let tls = connect(gw, connector).await.map_err(|e| e.to_string())?;
    let io = TokioIo::new(tls);
    let req = Request::get(path)
        .header("host", "localhost")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = if h2 {
        let (mut sender, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let req = Request::get(format!("https://localhost{path}"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        sender.send_request(req).await.map_err(|e| e.to_string())?
    } else {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        sender.send_request(req).await.map_err(|e| e.to_string())?
    };
    let (version, status) = (resp.version(), resp.status());
    resp.into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?;
    Ok((version, status))
}

#[tokio::test]
async fn tls_serves_http1_and_http2_as_alpn_chooses() {
    let ca = ca("Test CA");
    let (gw, _certs) = start(&ca, None).await;
    let h2 = connector(&ca, None, &[b"h2"]);
    assert_eq!(
        get(&gw, &h2, "/healthz", true).await,
        Ok((Version::HTTP_2, StatusCode::OK))
    );
    let h1 = connector(&ca, None, &[b"http/1.1"]);
    assert_eq!(
        get(&gw, &h1, "/healthz", false).await,
        Ok((Version::HTTP_11, StatusCode::OK))
    );
    // A client that trusts another CA refuses the server.
    let other = ca_connector_for_other_ca();
    assert!(get(&gw, &other, "/healthz", false).await.is_err());
    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = gw
        .client
        .try_send(hyper::Method::GET, "/healthz", Bytes::new(), &[])
        .await;
    assert!(plain.is_err() || plain.is_ok_and(|r| r.status != StatusCode::OK));

    // curl and openssl, third-party clients, negotiate h2 and TLS 1.3.
    let certs = tempfile::tempdir().unwrap();
    let ca_file = write(certs.path(), "ca.pem", &ca.pem);
    let url = format!("https://localhost:{}/healthz", gw.addr().port());
    let resolve = format!("localhost:{}:127.0.0.1", gw.addr().port());
    let out = tokio::process::Command::new("curl")
        .args([
            "-sS",
            "--http2",
            "-o",
            "/dev/null",
            "-w",
            "%{http_version} %{http_code}",
            "--cacert",
        ])
        .arg(&ca_file)
        .args(["--resolve", &resolve, &url])
        .output()
        .await;
    match out {
        Ok(out) => assert_eq!(String::from_utf8_lossy(&out.stdout), "2 200", "{out:?}"),
        Err(e) => eprintln!("curl not run: {e}"),
    }
    let out = tokio::process::Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &gw.addr().to_string(),
            "-servername",
            "localhost",
            "-alpn",
            "h2",
            "-CAfile",
        ])
        .arg(&ca_file)
        .stdin(std::process::Stdio::null())
        .output()
        .await;
    match out {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.contains("ALPN protocol: h2"), "{text}");
            assert!(text.contains("Verify return code: 0 (ok)"), "{text}");
        }
        Err(e) => eprintln!("openssl not run: {e}"),
    }
    gw.stop().await;
}

fn ca_connector_for_other_ca() -> TlsConnector {
    connector(&ca("Someone else"), None, &[b"http/1.1"])
}

#[tokio::test]
async fn mutual_tls_refuses_missing_untrusted_and_expired_client_certificates() {
    let server_ca = ca("Server CA");
    let clients = ca("Client CA");
    let (gw, _certs) = start(&server_ca, Some(&clients)).await;
    let good = leaf(&clients, "alice", &[], false);
    let ok = connector(&server_ca, Some(good), &[b"http/1.1"]);
    assert_eq!(
        get(&gw, &ok, "/healthz", false).await,
        Ok((Version::HTTP_11, StatusCode::OK))
    );

    let stranger = leaf(&ca("Unknown CA"), "mallory", &[], false);
    let expired = leaf(&clients, "bob", &[], true);
    for (what, client) in [
        ("no certificate", None),
        ("an untrusted one", Some(stranger)),
        ("an expired one", Some(expired)),
    ] {
        let refused = connector(&server_ca, client, &[b"http/1.1"]);
        let got = get(&gw, &refused, "/healthz", false).await;
        assert!(got.is_err(), "a client with {what} was served: {got:?}");
    }
    // Nothing a refused client sent reached the broker: no topic appeared.
    assert_eq!(
        get(&gw, &ok, "/v1/topics", false).await,
        Ok((Version::HTTP_11, StatusCode::OK))
    );
    gw.stop().await;
}

#[tokio::test]
async fn a_certificate_reload_leaves_an_open_websocket_alone() {
    let ca = ca("Test CA");
    let (gw, certs) = start(&ca, None).await;
    let h1 = connector(&ca, None, &[b"http/1.1"]);
    let create = serde_json::to_vec(&json!({"name": "t", "partitions": 1})).unwrap();
    {
        let tls = connect(&gw, &h1).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .unwrap();
        tokio::spawn(conn);
        let req = Request::post("/v1/topics")
            .header("host", "localhost")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(create)))
            .unwrap();
        assert_eq!(
            sender.send_request(req).await.unwrap().status(),
            StatusCode::CREATED
        );
    }
    let tls = connect(&gw, &h1).await.unwrap();
    let first = tls.get_ref().1.peer_certificates().unwrap()[0].clone();
    let (mut ws, _) = tokio_tungstenite::client_async("wss://localhost/v1/topics/t/subscribe", tls)
        .await
        .unwrap();

    // New files: the next handshakes present the new certificate.
    let (cert, key) = leaf(&ca, "second", &["localhost"], false);
    std::fs::write(certs.path().join("server.key"), key).unwrap();
    std::fs::write(certs.path().join("server.pem"), cert).unwrap();
    let deadline = tokio::time::Instant::now() + RELOAD_PATIENCE;
    loop {
        let probe = connect(&gw, &h1).await.unwrap();
        if probe.get_ref().1.peer_certificates().unwrap()[0] != first {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the new certificate was never served"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The WebSocket opened before the reload still produces and is acknowledged.
    let produce = json!({"produce": {"records": [{"value": "after reload"}]}, "id": 7});
    ws.send(Message::text(produce.to_string())).await.unwrap();
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let Message::Text(text) = msg else { continue };
        let v: Value = serde_json::from_str(&text).unwrap();
        if v.get("ack").is_some() {
            assert_eq!(v["ack"], 7, "{v}");
            break;
        }
    }
    gw.stop().await;
}

/// One HTTP/1.1 request over a fresh TLS connection, with an optional bearer token.
async fn send(
    gw: &TestGateway,
    connector: &TlsConnector,
    method: hyper::Method,
    path: &str,
    body: Value,
    bearer: Option<&str>,
) -> StatusCode {
    let tls = connect(gw, connector).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "localhost")
        .header("content-type", "application/json");
    if let Some(token) = bearer {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    let req = req
        .body(Full::new(Bytes::from(serde_json::to_vec(&body).unwrap())))
        .unwrap();
    sender.send_request(req).await.unwrap().status()
}

/// The admin (over `conn`) creates topic `t`; with `writer`, grants it write on `t`.
async fn topic_for(gw: &TestGateway, conn: &TlsConnector, writer: Option<&str>) {
    let post = hyper::Method::POST;
    let topic = json!({"name": "t", "partitions": 1});
    let created = send(
        gw,
        conn,
        post.clone(),
        "/v1/topics",
        topic,
        Some("tls-admin"),
    )
    .await;
    assert_eq!(created, StatusCode::CREATED);
    if let Some(writer) = writer {
        let grant = json!({"principal": format!("User:{writer}"), "resource_type": "topic",
                           "resource_name": "t", "operation": "write", "permission": "allow"});
        let granted = send(gw, conn, post, "/v1/acls", grant, Some("tls-admin")).await;
        assert_eq!(granted, StatusCode::CREATED);
    }
}

/// Produces one record to `t` over `who`, with no credential but its certificate.
async fn produce_over(gw: &TestGateway, who: &TlsConnector) -> StatusCode {
    let body = json!({"records": [{"value": 1}]});
    send(
        gw,
        who,
        hyper::Method::POST,
        "/v1/topics/t/records",
        body,
        None,
    )
    .await
}

#[tokio::test]
async fn a_client_certificate_names_the_principal_for_acls() {
    let server_ca = ca("Server CA");
    let clients = ca("Client CA");
    let args = ServeArgs {
        auth_required: Some(true),
        auth_admin_token: Some("tls-admin".into()),
        ..ServeArgs::default()
    };
    let (gw, _certs) = start_with(&server_ca, Some(&clients), args).await;
    let ops = connector(
        &server_ca,
        Some(leaf(&clients, "ops", &[], false)),
        &[b"http/1.1"],
    );
    let alice = connector(
        &server_ca,
        Some(leaf(&clients, "alice", &[], false)),
        &[b"http/1.1"],
    );
    topic_for(&gw, &ops, None).await;
    // Known (not 401) but not allowed (403) until an ACL names User:alice.
    assert_eq!(produce_over(&gw, &alice).await, StatusCode::FORBIDDEN);
    let grant = json!({"principal": "User:alice", "resource_type": "topic", "resource_name": "t",
                       "operation": "write", "permission": "allow"});
    let post = hyper::Method::POST;
    let granted = send(&gw, &ops, post, "/v1/acls", grant, Some("tls-admin")).await;
    assert_eq!(granted, StatusCode::CREATED);
    assert_eq!(produce_over(&gw, &alice).await, StatusCode::OK);
    // The certificate of "ops" names no ACL'd principal: refused too.
    assert_eq!(produce_over(&gw, &ops).await, StatusCode::FORBIDDEN);
    gw.stop().await;
}

/// Runs the CLI with `args`, feeding `stdin`; (success, stdout, stderr).
async fn cli(args: Vec<String>, stdin: &'static str) -> (bool, String, String) {
    tokio::task::spawn_blocking(move || crate::support::cli(&args, stdin))
        .await
        .unwrap()
}

/// The CLI speaks TLS: `--ca` verifies the server, `--cert`/`--key` authenticate under mutual
/// TLS, for the HTTP commands and for `consume --ws`. Without the client certificate the
/// handshake is refused; without `--ca` the server's private CA is not trusted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_speaks_tls_and_mutual_tls() {
    let server_ca = ca("server ca");
    let client_ca = ca("client ca");
    let (gw, certs) = start(&server_ca, Some(&client_ca)).await;
    let dir = certs.path();
    let ca_file = write(dir, "ca.pem", &server_ca.pem);
    let (cert, key) = leaf(&client_ca, "cli-user", &[], false);
    let (cert, key) = (write(dir, "cli.pem", &cert), write(dir, "cli.key", &key));
    let server = format!("https://localhost:{}", gw.addr().port());
    let with = |extra: &[&str]| -> Vec<String> {
        let mut args = vec![
            "--server".to_owned(),
            server.clone(),
            "--ca".to_owned(),
            ca_file.display().to_string(),
            "--cert".to_owned(),
            cert.display().to_string(),
            "--key".to_owned(),
            key.display().to_string(),
        ];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args
    };

    let (ok, _, err) = cli(with(&["topic", "create", "secure"]), "").await;
    assert!(ok, "{err}");
    let (ok, _, err) = cli(with(&["produce", "secure"]), "{\"n\":1}\n{\"n\":2}\n").await;
    assert!(ok, "{err}");
    let (ok, out, err) = cli(with(&["consume", "secure", "--max-records", "2"]), "").await;
    assert!(ok, "{err}");
    assert_eq!(out, "{\"n\":1}\n{\"n\":2}\n");
    let ws = with(&[
        "consume",
        "secure",
        "--ws",
        "--from",
        "earliest",
        "--max-records",
        "2",
    ]);
    let (ok, out, err) = cli(ws, "").await;
    assert!(ok, "{err}");
    assert_eq!(out, "{\"n\":1}\n{\"n\":2}\n");

    let no_cert = vec![
        "--server".to_owned(),
        server.clone(),
        "--ca".to_owned(),
        ca_file.display().to_string(),
        "topic".to_owned(),
        "list".to_owned(),
    ];
    let (ok, _, _) = cli(no_cert, "").await;
    assert!(!ok, "a client without a certificate got through");
    let no_ca = vec![
        "--server".to_owned(),
        server.clone(),
        "topic".to_owned(),
        "list".to_owned(),
    ];
    let (ok, _, err2) = cli(no_ca, "").await;
    assert!(!ok, "the private CA was trusted without --ca");
    assert!(err2.to_lowercase().contains("certificate"), "{err2}");
    gw.stop().await;
}

/// With `--tls-client-principal dns` the principal is the certificate's first DNS name, not
/// its common name; a certificate without one names no principal (401).
#[tokio::test]
async fn a_subject_alternative_name_can_name_the_principal() {
    let server_ca = ca("Server CA");
    let clients = ca("Client CA");
    let args = ServeArgs {
        auth_required: Some(true),
        auth_admin_token: Some("tls-admin".into()),
        tls_client_principal: Some("dns".into()),
        ..ServeArgs::default()
    };
    let (gw, _certs) = start_with(&server_ca, Some(&clients), args).await;
    let service = connector(
        &server_ca,
        Some(leaf(&clients, "ignored-cn", &["svc-a.internal"], false)),
        &[b"http/1.1"],
    );
    let cn_only = connector(
        &server_ca,
        Some(leaf(&clients, "svc-a.internal", &[], false)),
        &[b"http/1.1"],
    );
    topic_for(&gw, &service, Some("svc-a.internal")).await;
    assert_eq!(produce_over(&gw, &service).await, StatusCode::OK);
    assert_eq!(produce_over(&gw, &cn_only).await, StatusCode::UNAUTHORIZED);
    gw.stop().await;
}
