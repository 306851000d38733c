//! OIDC/JWT bearer tokens: a token from the configured issuer, for the configured audience,
//! signed by a key of the JWKS, names its principal (`sub`) and groups (`groups`), and group
//! ACLs apply; a wrong audience or issuer, an expired token, another key, or HS256 is 401.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use hyper::{Method, StatusCode};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use rcgen::KeyPair;
use serde_json::{Value, json};
use tidegate::config::ServeArgs;

use crate::support::{Client, TestGateway};

const ISSUER: &str = "https://idp.example";
const AUDIENCE: &str = "tidegate";

struct Signer {
    key: EncodingKey,
    jwk: Value,
}

fn signer(kid: &str) -> Signer {
    let pair = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let raw = pair.public_key_raw();
    let (x, y) = raw[1..].split_at(32);
    let jwk = json!({"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
                     "x": B64URL.encode(x), "y": B64URL.encode(y)});
    let key = EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).unwrap();
    Signer { key, jwk }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn token(s: &Signer, kid: &str, claims: Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.to_owned());
    encode(&header, &claims, &s.key).unwrap()
}

async fn status(c: &Client, method: Method, path: &str, body: &Value, token: &str) -> StatusCode {
    let auth = format!("Bearer {token}");
    let body = serde_json::to_vec(body).unwrap();
    c.send(method, path, body, &[("authorization", auth.as_str())])
        .await
        .status
}

#[tokio::test]
async fn tokens_from_the_issuer_name_principals_and_groups() {
    let trusted = signer("k1");
    let jwks_dir = tempfile::tempdir().unwrap();
    let jwks = jwks_dir.path().join("jwks.json");
    std::fs::write(&jwks, json!({"keys": [trusted.jwk]}).to_string()).unwrap();
    let args = ServeArgs {
        auth_required: Some(true),
        auth_admin_token: Some("oidc-admin".into()),
        oidc_issuer: Some(ISSUER.into()),
        oidc_audience: Some(AUDIENCE.into()),
        oidc_jwks_file: Some(jwks),
        ..ServeArgs::default()
    };
    let gw = TestGateway::start_in(tempfile::tempdir().unwrap(), args).await;
    let c = &gw.client;
    let post = Method::POST;
    assert_eq!(
        status(
            c,
            post.clone(),
            "/v1/topics",
            &json!({"name": "t", "partitions": 1}),
            "oidc-admin"
        )
        .await,
        StatusCode::CREATED
    );
    let grant = json!({"principal": "Group:writers", "resource_type": "topic", "resource_name": "t",
                       "operation": "write", "permission": "allow"});
    assert_eq!(
        status(c, post.clone(), "/v1/acls", &grant, "oidc-admin").await,
        StatusCode::CREATED
    );

    let claims = |sub: &str, groups: Value, aud: &str, iss: &str, exp: u64| json!({"sub": sub, "groups": groups, "aud": aud, "iss": iss, "exp": exp});
    let produce = json!({"records": [{"value": 1}]});
    let later = now() + 600;
    let good = token(
        &trusted,
        "k1",
        claims("carol", json!(["writers"]), AUDIENCE, ISSUER, later),
    );
    assert_eq!(
        status(c, post.clone(), "/v1/topics/t/records", &produce, &good).await,
        StatusCode::OK
    );
    let outsider = token(
        &trusted,
        "k1",
        claims("dave", json!(["readers"]), AUDIENCE, ISSUER, later),
    );
    assert_eq!(
        status(c, post.clone(), "/v1/topics/t/records", &produce, &outsider).await,
        StatusCode::FORBIDDEN,
        "authenticated, but its groups hold no ACL"
    );
    let impostor = signer("k1");
    let refused = [
        (
            "wrong audience",
            token(
                &trusted,
                "k1",
                claims("carol", json!(["writers"]), "other", ISSUER, later),
            ),
        ),
        (
            "wrong issuer",
            token(
                &trusted,
                "k1",
                claims("carol", json!(["writers"]), AUDIENCE, "https://evil", later),
            ),
        ),
        (
            "expired",
            token(
                &trusted,
                "k1",
                claims("carol", json!(["writers"]), AUDIENCE, ISSUER, now() - 600),
            ),
        ),
        (
            "another key",
            token(
                &impostor,
                "k1",
                claims("carol", json!(["writers"]), AUDIENCE, ISSUER, later),
            ),
        ),
        (
            "HS256",
            encode(
                &Header::new(Algorithm::HS256),
                &claims("carol", json!(["writers"]), AUDIENCE, ISSUER, later),
                &EncodingKey::from_secret(b"k"),
            )
            .unwrap(),
        ),
        ("garbage", "a.b.c".to_owned()),
    ];
    for (why, token) in refused {
        assert_eq!(
            status(c, post.clone(), "/v1/topics/t/records", &produce, &token).await,
            StatusCode::UNAUTHORIZED,
            "{why}"
        );
    }
    let r = c.get("/v1/topics/t").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let admin_view = c
        .send(
            Method::GET,
            "/v1/topics/t",
            Vec::new(),
            &[("authorization", "Bearer oidc-admin")],
        )
        .await;
    assert_eq!(
        admin_view.json["partitions"][0]["end_offset"], 1,
        "only the good token produced"
    );
    gw.stop().await;
}

/// A key set server on loopback: serves whatever `set` holds and counts the fetches.
struct JwksServer {
    url: String,
    set: std::sync::Arc<parking_lot::Mutex<String>>,
    fetches: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

async fn jwks_server(keys: &[&Value]) -> JwksServer {
    use std::sync::atomic::Ordering;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let set = std::sync::Arc::new(parking_lot::Mutex::new(json!({"keys": keys}).to_string()));
    let fetches = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (served, counted) = (set.clone(), fetches.clone());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (served, counted) = (served.clone(), counted.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_req| {
                    counted.fetch_add(1, Ordering::SeqCst);
                    let body = bytes::Bytes::from(served.lock().clone());
                    async move {
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(
                            http_body_util::Full::new(body),
                        ))
                    }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
    JwksServer { url, set, fetches }
}

/// A JWKS URL: fetched at start; a token signed with a key the identity provider added later
/// (a rotation) is accepted once the set is fetched again, which a new key id triggers; made-up
/// key ids are refused without making the gateway fetch more than once per refresh interval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwks_url_is_fetched_and_refetched_for_rotated_keys() {
    use std::sync::atomic::Ordering;
    let first = signer("k1");
    let second = signer("k2");
    let idp = jwks_server(&[&first.jwk]).await;
    let args = ServeArgs {
        auth_required: Some(true),
        oidc_issuer: Some(ISSUER.into()),
        oidc_audience: Some(AUDIENCE.into()),
        oidc_jwks_url: Some(idp.url.clone()),
        oidc_jwks_refresh_ms: Some(1_000),
        ..ServeArgs::default()
    };
    let gw = TestGateway::start_in(tempfile::tempdir().unwrap(), args).await;
    assert_eq!(
        idp.fetches.load(Ordering::SeqCst),
        1,
        "fetched once at start"
    );
    let c = &gw.client;
    let claims = json!({"sub": "carol", "aud": AUDIENCE, "iss": ISSUER, "exp": now() + 600});
    // The principal holds no ACL, so it gets 403; anything but 401 shows the token verified.
    let get = |t: String| async move {
        status(c, Method::GET, "/v1/topics/none", &json!(null), &t).await
    };
    assert_ne!(
        get(token(&first, "k1", claims.clone())).await,
        StatusCode::UNAUTHORIZED
    );
    let rotated = token(&second, "k2", claims.clone());
    assert_eq!(get(rotated.clone()).await, StatusCode::UNAUTHORIZED);

    *idp.set.lock() = json!({"keys": [first.jwk, second.jwk]}).to_string();
    // The refetch waits out the refresh interval since the last fetch: a clock, so a bounded
    // retry.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while get(rotated.clone()).await == StatusCode::UNAUTHORIZED {
        assert!(
            std::time::Instant::now() < deadline,
            "the rotated key was never fetched"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    let before = idp.fetches.load(Ordering::SeqCst);
    let started = std::time::Instant::now();
    for i in 0..20 {
        let bogus = token(&second, &format!("made-up-{i}"), claims.clone());
        assert_eq!(get(bogus).await, StatusCode::UNAUTHORIZED);
    }
    let fetched = idp.fetches.load(Ordering::SeqCst) - before;
    let allowed = usize::try_from(started.elapsed().as_secs()).unwrap() + 1;
    assert!(
        fetched <= allowed,
        "{fetched} fetches for 20 made-up key ids in {:?}",
        started.elapsed()
    );
    gw.stop().await;
}

/// A key set URL over plain HTTP to a remote host is refused at start.
#[test]
fn a_plain_http_jwks_url_off_loopback_is_refused() {
    let args = ServeArgs {
        oidc_issuer: Some(ISSUER.into()),
        oidc_audience: Some(AUDIENCE.into()),
        oidc_jwks_url: Some("http://idp.example/jwks.json".into()),
        ..ServeArgs::default()
    };
    let e = tidegate::config::Config::load(&args)
        .unwrap_err()
        .to_string();
    assert!(e.contains("https://"), "{e}");
}
