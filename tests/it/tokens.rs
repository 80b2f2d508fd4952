//! Tokens as identity providers issue them: not-before and issued-at, the
//! end of a socket's rights when its token expires, and keys published at
//! a JWKS URL (chosen by `kid`, rotated, the provider down).

use std::{
    net::SocketAddr,
    path::PathBuf,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use axum::{extract::State, http::StatusCode, response::IntoResponse, routing::get, Router};
use serde_json::{json, Value};
use tracking::auth::{Claims, Role};

use crate::common::{
    error_code_of, eventually, raw_ws::RawSocket, within, Client, StoreKind, TestApp, PATIENCE,
};

pub(crate) const SECRET: &str = "test-secret-of-at-least-16-bytes";

pub(crate) fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

pub(crate) fn hs256(claims: &Claims) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("sign")
}

pub(crate) fn dispatcher(exp: u64) -> Claims {
    Claims {
        sub: "ops".into(),
        role: Some(Role::Dispatcher),
        exp,
        ..Claims::default()
    }
}

async fn init(addr: SocketAddr, token: &str) -> RawSocket {
    let mut socket = RawSocket::connect(addr, "graphql-transport-ws", &[])
        .await
        .expect("upgrade");
    let init =
        json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {token}")}});
    socket.send_text(&init.to_string()).await.expect("init");
    socket
}

/// A token valid only from next year is refused, over HTTP and WebSocket.
#[tokio::test]
async fn a_token_not_yet_valid_is_refused() {
    let app = TestApp::spawn(StoreKind::Memory, |c| c.jwt_secret = Some(SECRET.into())).await;
    let early = hs256(&Claims {
        nbf: Some(now() + 365 * 24 * 3600),
        ..dispatcher(now() + 2 * 365 * 24 * 3600)
    });
    let (status, body) = app
        .gql_as(Some(&early), "{ driver(id: \"x\") { id } }", json!({}))
        .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(error_code_of(&body), "UNAUTHENTICATED");
    let mut socket = init(app.addr, &early).await;
    assert_eq!(socket.closed().await, Ok(Some(4403)));
}

/// A WebSocket opened with a token keeps its rights only until the token
/// expires: then it is closed with 4403, its subscriptions with it; the
/// same token over HTTP is refused as well.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_closes_when_its_token_expires() {
    let app = TestApp::spawn(StoreKind::Memory, |c| {
        c.jwt_secret = Some(SECRET.into());
        c.jwt_leeway = Duration::from_secs(0);
    })
    .await;
    let token = hs256(&dispatcher(now() + 2));
    let ride = app.as_user(&token).request_driver("r", (10.0, 10.0)).await;
    let mut socket = init(app.addr, &token).await;
    let ack = within(PATIENCE, "ack", socket.next_frame())
        .await
        .expect("ack");
    assert!(ack.text().contains("connection_ack"));
    let subscribe = json!({"id": "1", "type": "subscribe", "payload": {"query": "subscription($id: ID!) { rideStatus(rideId: $id) { status } }", "variables": {"id": ride["id"]}}});
    socket
        .send_text(&subscribe.to_string())
        .await
        .expect("subscribe");
    let first = within(PATIENCE, "the ride", socket.next_frame())
        .await
        .expect("next");
    assert!(first.text().contains("SEARCHING"), "{}", first.text());
    let opened = Instant::now();
    assert_eq!(
        socket.closed().await,
        Ok(Some(4403)),
        "closed when the token expired"
    );
    assert!(
        opened.elapsed() < Duration::from_secs(4),
        "{:?}",
        opened.elapsed()
    );
    let (status, _) = app
        .gql_as(Some(&token), "{ driver(id: \"x\") { id } }", json!({}))
        .await;
    assert_eq!(status, 401);
}

/// An RSA key pair made with openssl, and its public half as a JWK.
pub(crate) struct RsaKey {
    private_pem: Vec<u8>,
    kid: String,
    pub(crate) jwk: Value,
}

pub(crate) fn rsa_key(dir: &std::path::Path, kid: &str) -> RsaKey {
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stderr(std::process::Stdio::null())
            .output()
            .expect("openssl on PATH (Debian: apt-get install openssl)");
        assert!(out.status.success(), "openssl {args:?}");
        out.stdout
    };
    let private = format!("{kid}.pem");
    run(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        &private,
    ]);
    let modulus =
        String::from_utf8(run(&["rsa", "-in", &private, "-noout", "-modulus"])).expect("text");
    let hex = modulus.trim().trim_start_matches("Modulus=");
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect();
    RsaKey {
        private_pem: std::fs::read(dir.join(&private)).expect("key"),
        kid: kid.to_owned(),
        jwk: json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": base64url(&bytes), "e": "AQAB"}),
    }
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

impl RsaKey {
    pub(crate) fn sign(&self, claims: &Claims) -> String {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(&self.private_pem).expect("key");
        jsonwebtoken::encode(&header, claims, &key).expect("sign")
    }
}

/// A JWKS endpoint on loopback whose key set the test changes, which can be
/// taken down, and which counts its hits.
#[derive(Clone)]
struct Provider {
    keys: Arc<Mutex<Option<Value>>>,
    hits: Arc<AtomicUsize>,
}

async fn serve_jwks(State(provider): State<Provider>) -> impl IntoResponse {
    provider.hits.fetch_add(1, Ordering::Relaxed);
    match provider.keys.lock().expect("lock").clone() {
        Some(set) => (StatusCode::OK, set.to_string()),
        None => (StatusCode::SERVICE_UNAVAILABLE, "down".to_owned()),
    }
}

async fn provider(set: Value) -> (Provider, String) {
    let provider = Provider {
        keys: Arc::new(Mutex::new(Some(set))),
        hits: Arc::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = Router::new()
        .route("/.well-known/jwks.json", get(serve_jwks))
        .with_state(provider.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (provider, format!("http://{addr}/.well-known/jwks.json"))
}

fn keys_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tracking-jwks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

/// Keys from a JWKS URL: chosen by kid; a rotation is picked up when a
/// token names the new key; tokens naming keys that do not exist cannot make
/// the service fetch more than once every few seconds; a token minted for
/// another audience or by another issuer is refused; and while the provider
/// is down the last good set stays in use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_from_a_jwks_url_are_chosen_by_kid_rotated_and_kept() {
    let dir = keys_dir();
    let first = rsa_key(&dir, "key-1");
    let second = rsa_key(&dir, "key-2");
    let (provider, url) = provider(json!({"keys": [first.jwk]})).await;
    let app = TestApp::spawn(StoreKind::Memory, |c| {
        c.jwt_jwks_url = Some(url);
        c.jwt_issuer = Some("https://id.example/".into());
        c.jwt_audience = Some("tracking".into());
    })
    .await;
    let claims = |aud: &str, iss: &str| Claims {
        iss: Some(iss.into()),
        aud: Some(aud.into()),
        ..dispatcher(now() + 600)
    };
    let query = "{ driver(id: \"x\") { id } }";
    let status = |token: String| {
        let client = Client::new(app.addr, None);
        async move { client.gql_as(Some(&token), query, json!({})).await.0 }
    };
    let right = claims("tracking", "https://id.example/");
    let (code, body) = Client::new(app.addr, None)
        .gql_as(Some(&first.sign(&right)), query, json!({}))
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        status(first.sign(&claims("billing", "https://id.example/"))).await,
        401
    );
    assert_eq!(
        status(first.sign(&claims("tracking", "https://evil.example/"))).await,
        401
    );

    // Made-up kids, hammered for four seconds: at most a couple of fetches.
    let before = provider.hits.load(Ordering::Relaxed);
    let hammered = Instant::now();
    let mut forged = 0;
    while hammered.elapsed() < Duration::from_secs(4) {
        let mut fake = rsa_key_like(&first, &format!("nope-{forged}"));
        fake.kid = format!("nope-{forged}");
        assert_eq!(status(fake.sign(&right)).await, 401);
        forged += 1;
    }
    let fetched = provider.hits.load(Ordering::Relaxed) - before;
    assert!(
        forged > 20 && fetched <= 2,
        "{forged} forged kids made {fetched} fetches"
    );

    // Rotation: the provider now publishes the second key only.
    *provider.keys.lock().expect("lock") = Some(json!({"keys": [second.jwk]}));
    eventually("the rotated key to be fetched", || async {
        (status(second.sign(&right)).await == 200).then_some(())
    })
    .await;

    // The provider goes down: the set in hand keeps working.
    *provider.keys.lock().expect("lock") = None;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        status(second.sign(&right)).await,
        200,
        "the last good set is kept"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A key that signs like `key` under another kid.
fn rsa_key_like(key: &RsaKey, kid: &str) -> RsaKey {
    RsaKey {
        private_pem: key.private_pem.clone(),
        kid: kid.to_owned(),
        jwk: Value::Null,
    }
}

/// A service pointed at a JWKS URL nobody serves does not start.
#[tokio::test]
async fn a_jwks_url_that_does_not_answer_stops_start_up() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/jwks.json", listener.local_addr().expect("addr"));
    drop(listener);
    let (ok, stderr) = crate::common::ServiceProcess::run_to_exit(&["--jwt-jwks-url", &url]);
    assert!(!ok);
    assert!(stderr.contains("JWKS"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}
