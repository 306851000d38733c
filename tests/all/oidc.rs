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
