//! Tokens: forged, expired and missing ones refused over HTTP and
//! WebSocket, thirty seconds of clock skew and no more, not-before, a
//! socket closed when its token expires, public-key tokens, the `token`
//! helper, and no open service on a public address.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{protocol::frame::coding::CloseCode, Message};
use tracking::auth::{mint, Claims, Role};

use super::setup::{fleet, secured};
use crate::common::{
    error_code_of,
    keys::{openssl, temp_dir},
    outcome,
    raw_ws::RawSocket,
    tokens::{dispatcher, hs256, now, token, SECRET},
    within, Protocol, StoreKind, Subscription, TestApp, PATIENCE, RIDE_STATUS,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_expired_and_missing_tokens_are_refused_over_http_and_websocket() {
    let (app, _) = secured(|_| {}).await;
    let ride_id = fleet(&app).await;
    let forged = mint(
        "another-secret-of-16-bytes",
        "ops",
        Role::Dispatcher,
        Duration::from_secs(600),
    )
    .expect("mint");
    let expired = hs256(&dispatcher(now() - 120));
    for bad in [forged.as_str(), expired.as_str(), "not-a-jwt"] {
        let (status, body) = app
            .gql_as(Some(bad), "{ ride(id: \"1\") { id } }", json!({}))
            .await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(error_code_of(&body), "UNAUTHENTICATED");
    }

    // WebSocket: a bad token in connection_init closes the connection:
    // 4403 with graphql-transport-ws, connection_error with the legacy one.
    use futures_util::{SinkExt, StreamExt};
    for bad in [&forged, &expired] {
        let mut socket = Subscription::connect(app.addr, Protocol::TransportWs).await;
        let init = json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {bad}")}});
        socket
            .send(Message::text(init.to_string()))
            .await
            .expect("send");
        match within(PATIENCE, "the refusal", socket.next()).await {
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(frame.code, CloseCode::Library(4403))
            }
            other => panic!("expected close 4403, got {other:?}"),
        }
        let mut legacy = Subscription::connect(app.addr, Protocol::LegacyWs).await;
        let init = json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {bad}")}});
        legacy
            .send(Message::text(init.to_string()))
            .await
            .expect("send");
        match within(PATIENCE, "the refusal", legacy.next()).await {
            Some(Ok(Message::Text(text))) => {
                let message: Value = serde_json::from_str(&text).expect("JSON");
                assert_eq!(message["type"], "connection_error", "{message}");
            }
            other => panic!("expected connection_error, got {other:?}"),
        }
    }

    // No token: connected, but the subscription is refused.
    let mut anonymous = app.watch_ride(Protocol::TransportWs, &ride_id).await;
    assert_eq!(anonymous.expect_error_code().await, "UNAUTHENTICATED");
    // The right tokens, in each accepted place.
    for init in [
        json!({"authorization": format!("Bearer {}", token("r1", Role::Rider))}),
        json!({"Authorization": format!("Bearer {}", token("r1", Role::Rider))}),
        json!({"headers": {"Authorization": format!("Bearer {}", token("d1", Role::Driver))}}),
    ] {
        let mut sub = Subscription::start_with_init(
            app.addr,
            Protocol::TransportWs,
            init,
            RIDE_STATUS,
            json!({"id": ride_id}),
        )
        .await;
        sub.expect_status("DRIVER_FOUND").await;
    }
}

/// `exp` is enforced with 30 s of leeway, no more.
#[tokio::test]
async fn expiry_allows_thirty_seconds_of_clock_skew() {
    let (app, _) = secured(|_| {}).await;
    let query = "{ driver(id: \"nobody\") { id } }";
    let recent = hs256(&dispatcher(now() - 10));
    let (status, body) = app.gql_as(Some(&recent), query, json!({})).await;
    assert_eq!((status, outcome(&body)), (200, "ok".into()), "{body}");
    let stale = hs256(&dispatcher(now() - 45));
    let (status, body) = app.gql_as(Some(&stale), query, json!({})).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(error_code_of(&body), "UNAUTHENTICATED");
}

async fn init(addr: SocketAddr, token: &str) -> RawSocket {
    RawSocket::initialised(
        addr,
        Some(json!({"authorization": format!("Bearer {token}")})),
    )
    .await
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

/// ES256 and RS256 tokens verify against a public key file. The keys are made
/// with `openssl`, which every machine this suite runs on has (Debian's
/// `openssl`; the test says so when it is missing).
#[tokio::test]
async fn public_key_tokens_verify() {
    let dir = temp_dir("keys");
    openssl(
        &dir,
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "ec.pem",
        ],
    );
    openssl(
        &dir,
        &[
            "pkcs8", "-topk8", "-nocrypt", "-in", "ec.pem", "-out", "ec8.pem",
        ],
    );
    openssl(&dir, &["ec", "-in", "ec.pem", "-pubout", "-out", "ec.pub"]);
    openssl(
        &dir,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "rsa.pem",
        ],
    );
    openssl(
        &dir,
        &["rsa", "-in", "rsa.pem", "-pubout", "-out", "rsa.pub"],
    );
    let claims = Claims {
        sub: "ops".into(),
        role: Some(Role::Dispatcher),
        exp: now() + 600,
        ..Claims::default()
    };
    for (public, private, algorithm) in [
        ("ec.pub", "ec8.pem", jsonwebtoken::Algorithm::ES256),
        ("rsa.pub", "rsa.pem", jsonwebtoken::Algorithm::RS256),
    ] {
        let pem = std::fs::read(dir.join(private)).expect("private key");
        let key = match algorithm {
            jsonwebtoken::Algorithm::ES256 => jsonwebtoken::EncodingKey::from_ec_pem(&pem),
            _ => jsonwebtoken::EncodingKey::from_rsa_pem(&pem),
        }
        .expect("encoding key");
        let token = jsonwebtoken::encode(&jsonwebtoken::Header::new(algorithm), &claims, &key)
            .expect("sign");
        let path = dir.join(public);
        let app = TestApp::spawn(StoreKind::Memory, |c| c.jwt_public_key = Some(path)).await;
        let (status, body) = app
            .gql_as(Some(&token), "{ ride(id: \"1\") { id } }", json!({}))
            .await;
        assert_eq!(
            (status, outcome(&body)),
            (200, "ok".to_owned()),
            "{algorithm:?}: {body}"
        );
        let hs = self::token("ops", Role::Dispatcher);
        let (status, _) = app
            .gql_as(Some(&hs), "{ ride(id: \"1\") { id } }", json!({}))
            .await;
        assert_eq!(status, 401, "{algorithm:?}: an HS256 token is not accepted");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_token_helper_mints_a_token_the_service_accepts() {
    let output = crate::common::process::tracking_command()
        .args([
            "token",
            "--role",
            "rider",
            "--sub",
            "ana",
            "--jwt-secret",
            SECRET,
        ])
        .output()
        .expect("run tracking token");
    assert!(output.status.success());
    let token = String::from_utf8(output.stdout).expect("utf-8");
    let verifier = tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(tracking::auth::Verifier::from_config(
            tracking::auth::AuthConfig {
                secret: Some(SECRET),
                ..Default::default()
            },
        ))
        .expect("config")
        .expect("verifier");
    let session = tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(verifier.verify(token.trim()))
        .expect("valid");
    assert_eq!(
        session.caller,
        tracking::auth::Caller::Token {
            sub: "ana".into(),
            role: Role::Rider
        }
    );
    let missing = crate::common::process::tracking_command()
        .args(["token", "--role", "rider", "--sub", "ana"])
        .output()
        .expect("run");
    assert!(!missing.status.success(), "no secret, no token");
    // A secret the service would refuse makes no token either, and says why.
    let weak = crate::common::process::tracking_command()
        .args([
            "token",
            "--role",
            "rider",
            "--sub",
            "ana",
            "--jwt-secret",
            "short",
        ])
        .output()
        .expect("run");
    assert!(!weak.status.success(), "a weak secret, no token");
    assert!(weak.stdout.is_empty());
    let said = String::from_utf8_lossy(&weak.stderr);
    assert!(said.contains("at least 16 bytes"), "{said}");
}

#[tokio::test]
async fn without_a_key_the_service_stays_on_loopback() {
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0")
        .await
        .expect("bind");
    let mut config = crate::common::test_config();
    config.listen = listener.local_addr().expect("addr");
    match tracking::Application::build_on(config.clone(), listener).await {
        Err(tracking::StartError::Config(message)) => assert!(
            message.contains("refusing to serve") && message.contains("--insecure-no-auth"),
            "{message}"
        ),
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("an open service on a public address must be refused"),
    }
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0")
        .await
        .expect("bind");
    config.insecure_no_auth = true;
    assert!(tracking::Application::build_on(config, listener)
        .await
        .is_ok());
}
