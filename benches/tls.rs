//! What TLS and authentication cost: the same produce load (batches of 100 records of ~100 B,
//! `CONNECTIONS` concurrent keep-alive connections) against a plain HTTP gateway, a TLS one,
//! and a TLS one that requires an API key (every request carries it and passes an ACL check),
//! in one run, alternating rounds; ratios are to plain HTTP. Then many small requests (one
//! record each) over TLS: HTTP/1.1 on `CONNECTIONS` connections against HTTP/2 with the same
//! number of concurrent streams on one connection.
//!
//! `cargo bench --bench tls` (`TIDEGATE_BENCH_REQUESTS`, default 20,000 per case and round;
//! `TIDEGATE_BENCH_ROUNDS`, default 3; `--fsync never`, system temp dir). Stops by itself.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tidegate::config::{Config, ServeArgs};
use tidegate::gateway::Gateway;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

const CONNECTIONS: usize = 4;
const ADMIN: &str = "bench-admin";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Wire {
    Plain,
    Tls,
    H2,
}

struct Target {
    addr: std::net::SocketAddr,
    wire: Wire,
    auth: Option<String>,
}

fn main() -> anyhow::Result<()> {
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let requests = env("TIDEGATE_BENCH_REQUESTS", 20_000) / CONNECTIONS * CONNECTIONS;
    let rounds = env("TIDEGATE_BENCH_ROUNDS", 3);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let certs = tempfile::tempdir()?;
        let (ca_pem, cert, key) = certificates()?;
        let cert_path = certs.path().join("server.pem");
        let key_path = certs.path().join("server.key");
        std::fs::write(&cert_path, cert)?;
        std::fs::write(&key_path, key)?;
        let start = |tls: bool, auth: bool| {
            let cert_path = cert_path.clone();
            let key_path = key_path.clone();
            async move {
                let dir = tempfile::tempdir()?;
                let args = ServeArgs {
                    listen: Some("127.0.0.1:0".into()),
                    data_dir: Some(dir.path().to_path_buf()),
                    fsync: Some("never".into()),
                    tls_cert: tls.then_some(cert_path),
                    tls_key: tls.then_some(key_path),
                    auth_required: Some(auth),
                    auth_admin_token: auth.then(|| ADMIN.to_owned()),
                    ..ServeArgs::default()
                };
                let gw = Gateway::start(Config::load(&args)?).await?;
                anyhow::Ok((gw, dir))
            }
        };
        let (plain, _d1) = start(false, false).await?;
        let (tls, _d2) = start(true, false).await?;
        let (secured, _d3) = start(true, true).await?;
        let connector = connector(&ca_pem)?;
        // An API key for the secured gateway, made through its own API.
        let admin = Target { addr: secured.addr(), wire: Wire::Tls, auth: Some(format!("Bearer {ADMIN}")) };
        let created = request(&connector, &admin, "/v1/auth/keys", br#"{"principal":"bench"}"#.to_vec()).await?;
        let created: serde_json::Value = serde_json::from_slice(&created)?;
        let api_key = created["key"].as_str().unwrap_or_default().to_owned();
        let bearer = Some(format!("Bearer {api_key}"));
        // The key's principal may write the bench topic: every request passes an ACL check.
        let grant = br#"{"principal":"User:bench","resource_type":"topic","resource_name":"bench","operation":"write","permission":"allow"}"#;
        request(&connector, &admin, "/v1/acls", grant.to_vec()).await?;
        let cases = [
            ("plain HTTP/1.1", Target { addr: plain.addr(), wire: Wire::Plain, auth: None }),
            ("TLS HTTP/1.1", Target { addr: tls.addr(), wire: Wire::Tls, auth: None }),
            ("TLS + API key + ACL", Target { addr: secured.addr(), wire: Wire::Tls, auth: bearer.clone() }),
        ];
        let small = [
            ("TLS HTTP/1.1, 1-record requests", Target { addr: tls.addr(), wire: Wire::Tls, auth: None }),
            ("TLS HTTP/2, 1-record requests", Target { addr: tls.addr(), wire: Wire::H2, auth: None }),
        ];
        for (_, target) in cases.iter().chain(small.iter()) {
            let admin = Target { addr: target.addr, wire: Wire::Tls, auth: Some(format!("Bearer {ADMIN}")) };
            let create = br#"{"name":"bench","partitions":4}"#.to_vec();
            let creator = if target.wire == Wire::Plain { Target { wire: Wire::Plain, auth: None, ..admin } } else { admin };
            let _ = request(&connector, &creator, "/v1/topics", create).await;
        }
        let batch = batch_body(100);
        let single = batch_body(1);
        let mut best = vec![f64::INFINITY; cases.len()];
        let mut best_small = vec![f64::INFINITY; small.len()];
        for _ in 0..rounds {
            for (i, (_, target)) in cases.iter().enumerate() {
                let secs = load(&connector, target, &batch, requests).await?;
                best[i] = best[i].min(secs);
            }
            for (i, (_, target)) in small.iter().enumerate() {
                let secs = load(&connector, target, &single, requests).await?;
                best_small[i] = best_small[i].min(secs);
            }
        }
        println!("{requests} produce requests per case on {CONNECTIONS} connections (HTTP/2: streams), fsync=never, best of {rounds}");
        println!("{:<34} {:>10} {:>12} {:>7}", "case", "req/s", "records/s", "ratio");
        for (i, (label, _)) in cases.iter().enumerate() {
            let rate = requests as f64 / best[i];
            println!("{label:<34} {rate:>10.0} {:>12.0} {:>7.2}", rate * 100.0, best[0] / best[i]);
        }
        for (i, (label, _)) in small.iter().enumerate() {
            let rate = requests as f64 / best_small[i];
            println!("{label:<34} {rate:>10.0} {:>12.0} {:>7.2}", rate, best_small[0] / best_small[i]);
        }
        for gw in [plain, tls, secured] {
            gw.shutdown().await?;
        }
        anyhow::Ok(())
    })
}

fn certificates() -> anyhow::Result<(String, String, String)> {
    let ca_key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "Bench CA");
    let ca_pem = params.self_signed(&ca_key)?.pem();
    let issuer = Issuer::new(params, ca_key);
    let key = KeyPair::generate()?;
    let leaf = CertificateParams::new(vec!["localhost".to_owned()])?.signed_by(&key, &issuer)?;
    Ok((ca_pem, leaf.pem(), key.serialize_pem()))
}

fn connector(ca_pem: &str) -> anyhow::Result<TlsConnector> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(ca_pem.as_bytes())?)?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsConnector::from(Arc::new(config)))
}

fn batch_body(records: usize) -> Bytes {
    let one = r#"{"key":"customer-000042","value":{"order":12345,"total":42.5,"currency":"EUR","items":3}}"#;
    let list = vec![one; records].join(",");
    Bytes::from(format!(r#"{{"records":[{list}]}}"#))
}

type H1 = hyper::client::conn::http1::SendRequest<Full<Bytes>>;
type H2 = hyper::client::conn::http2::SendRequest<Full<Bytes>>;

enum Sender {
    H1(H1),
    H2(H2),
}

async fn open(connector: &TlsConnector, target: &Target, h2: bool) -> anyhow::Result<Sender> {
    let tcp = TcpStream::connect(target.addr).await?;
    tcp.set_nodelay(true)?;
    if target.wire == Wire::Plain {
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
        tokio::spawn(conn);
        return Ok(Sender::H1(send));
    }
    let mut config = (*connector_config(connector)).clone();
    config.alpn_protocols = vec![if h2 {
        b"h2".to_vec()
    } else {
        b"http/1.1".to_vec()
    }];
    let tls = TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost")?, tcp)
        .await?;
    if h2 {
        let (send, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls)).await?;
        tokio::spawn(conn);
        Ok(Sender::H2(send))
    } else {
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
        tokio::spawn(conn);
        Ok(Sender::H1(send))
    }
}

fn connector_config(connector: &TlsConnector) -> Arc<rustls::ClientConfig> {
    Arc::clone(connector.config())
}

fn build(target: &Target, path: &str, body: Bytes) -> anyhow::Result<Request<Full<Bytes>>> {
    let uri = if target.wire == Wire::H2 {
        format!("https://localhost{path}")
    } else {
        path.to_owned()
    };
    let mut req = Request::post(uri).header("content-type", "application/json");
    if target.wire != Wire::H2 {
        req = req.header("host", "localhost");
    }
    if let Some(auth) = &target.auth {
        req = req.header("authorization", auth);
    }
    Ok(req.body(Full::new(body))?)
}

async fn send(sender: &mut Sender, req: Request<Full<Bytes>>) -> anyhow::Result<Bytes> {
    let resp = match sender {
        Sender::H1(s) => {
            s.ready().await?;
            s.send_request(req).await?
        }
        Sender::H2(s) => {
            s.ready().await?;
            s.send_request(req).await?
        }
    };
    let status = resp.status();
    let body = resp.into_body().collect().await?.to_bytes();
    if !(status == StatusCode::OK || status == StatusCode::CREATED) {
        anyhow::bail!("{status}: {}", String::from_utf8_lossy(&body));
    }
    Ok(body)
}

async fn request(
    connector: &TlsConnector,
    target: &Target,
    path: &str,
    body: Vec<u8>,
) -> anyhow::Result<Bytes> {
    let mut sender = open(connector, target, false).await?;
    send(&mut sender, build(target, path, Bytes::from(body))?).await
}

/// Seconds to send `requests` produce requests over `CONNECTIONS` connections (or streams).
async fn load(
    connector: &TlsConnector,
    target: &Target,
    body: &Bytes,
    requests: usize,
) -> anyhow::Result<f64> {
    let shared_h2 = if target.wire == Wire::H2 {
        Some(open(connector, target, true).await?)
    } else {
        None
    };
    let mut senders = Vec::new();
    for _ in 0..CONNECTIONS {
        senders.push(match &shared_h2 {
            Some(Sender::H2(s)) => Sender::H2(s.clone()),
            _ => open(connector, target, false).await?,
        });
    }
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for mut sender in senders {
        let reqs: Vec<_> = (0..requests / CONNECTIONS)
            .map(|_| build(target, "/v1/topics/bench/records", body.clone()))
            .collect::<anyhow::Result<_>>()?;
        tasks.spawn(async move {
            for req in reqs {
                send(&mut sender, req).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(started.elapsed().as_secs_f64())
}
