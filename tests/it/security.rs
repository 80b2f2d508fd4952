//! Who may do what, and the limits that keep one client from hurting others.

use std::time::Duration;

use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{protocol::frame::coding::CloseCode, Message};
use tracking::auth::{mint, Role};

use crate::common::{
    error_code_of, id_of, north_of, within, ws::Event, Protocol, StoreKind, Subscription, TestApp,
    DRIVER, PATIENCE, RIDER, RIDE_STATUS,
};

const SECRET: &str = "test-secret-of-at-least-16-bytes";

fn token(sub: &str, role: Role) -> String {
    mint(SECRET, sub, role, Duration::from_secs(600)).expect("mint")
}

async fn secured(tweak: impl FnOnce(&mut tracking::Config)) -> TestApp {
    TestApp::spawn(StoreKind::Memory, |c| {
        c.jwt_secret = Some(SECRET.into());
        tweak(c);
    })
    .await
}

/// A fleet where rider r1's ride is matched to driver d1, d2 and d3 are free.
async fn fleet(app: &TestApp) -> String {
    let ops = token("ops", Role::Dispatcher);
    let update = "mutation($d: ID!, $lat: Float!, $lng: Float!) { updateLocation(driverId: $d, lat: $lat, lng: $lng) { id } }";
    for (d, at) in [
        ("d1", DRIVER),
        ("d2", north_of(RIDER, 20.0)),
        ("d3", north_of(RIDER, 30.0)),
    ] {
        let (status, body) = app
            .gql_as(
                Some(&ops),
                update,
                json!({"d": d, "lat": at.0, "lng": at.1}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let (_, body) = app
        .gql_as(
            Some(&ops),
            "mutation { requestDriver(riderId: \"r1\", lat: -33.44262, lng: -70.63054) { id } }",
            json!({}),
        )
        .await;
    let id = id_of(&body["data"]["requestDriver"]);
    let (_, body) = app
        .gql_as(
            Some(&ops),
            "query($id: ID!) { ride(id: $id) { status } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(body["data"]["ride"]["status"], "DRIVER_FOUND", "{body}");
    id
}

/// What a response came to: "ok", or the first error's code.
fn outcome(body: &Value) -> String {
    match body.get("errors") {
        None => "ok".into(),
        Some(_) => error_code_of(body),
    }
}

#[tokio::test]
async fn each_role_may_do_only_its_own_operations() {
    let ride_ops = |op: &str| format!("mutation($id: ID!) {{ {op}(rideId: $id) {{ id status }} }}");
    let cancel = ride_ops("cancelRequest");
    let complete = ride_ops("completeRide");
    let update =
        "mutation { updateLocation(driverId: \"d1\", lat: -33.44091, lng: -70.6301) { id } }";
    let offline = "mutation { goOffline(driverId: \"d3\") { id } }";
    let request = "mutation { requestDriver(riderId: \"r1\", lat: -33.4, lng: -70.6) { id } }";
    let ride = "query($id: ID!) { ride(id: $id) { id driver { id } } }";
    let driver = "query { driver(id: \"d1\") { id location { lat } } }";
    let nearby = "query { nearbyDrivers(lat: -33.44262, lng: -70.63054, radiusKm: 50) { distanceKm driver { id } } }";

    // (operation, who, expected)
    let table: Vec<(&str, &str, &str)> = vec![
        (update, "driver:d1", "ok"),
        (update, "driver:d2", "FORBIDDEN"),
        (update, "rider:r1", "FORBIDDEN"),
        (update, "dispatcher:ops", "ok"),
        (update, "none", "UNAUTHENTICATED"),
        (offline, "driver:d3", "ok"),
        (offline, "driver:d1", "FORBIDDEN"),
        (offline, "rider:r1", "FORBIDDEN"),
        (offline, "none", "UNAUTHENTICATED"),
        (request, "rider:r1", "ok"),
        (request, "rider:r2", "FORBIDDEN"),
        (request, "driver:d1", "FORBIDDEN"),
        (request, "dispatcher:ops", "ok"),
        (request, "none", "UNAUTHENTICATED"),
        (ride, "rider:r1", "ok"),
        (ride, "rider:r2", "FORBIDDEN"),
        (ride, "driver:d1", "ok"),
        (ride, "driver:d2", "FORBIDDEN"),
        (ride, "dispatcher:ops", "ok"),
        (ride, "none", "UNAUTHENTICATED"),
        (&cancel, "rider:r1", "ok"),
        (&cancel, "rider:r2", "FORBIDDEN"),
        (&cancel, "driver:d1", "FORBIDDEN"),
        (&cancel, "dispatcher:ops", "ok"),
        (&cancel, "none", "UNAUTHENTICATED"),
        (&complete, "driver:d1", "ok"),
        (&complete, "driver:d2", "FORBIDDEN"),
        (&complete, "rider:r1", "FORBIDDEN"),
        (&complete, "dispatcher:ops", "ok"),
        (&complete, "none", "UNAUTHENTICATED"),
        (driver, "driver:d1", "ok"),
        (driver, "driver:d2", "FORBIDDEN"),
        (driver, "rider:r1", "ok"),
        (driver, "rider:r2", "FORBIDDEN"),
        (driver, "dispatcher:ops", "ok"),
        (nearby, "rider:r1", "ok"),
        (nearby, "dispatcher:ops", "ok"),
        (nearby, "driver:d1", "FORBIDDEN"),
        (nearby, "none", "UNAUTHENTICATED"),
    ];
    for (query, who, expected) in table {
        let app = secured(|_| {}).await;
        let ride_id = fleet(&app).await;
        let token = match who.split_once(':') {
            Some(("driver", sub)) => Some(token(sub, Role::Driver)),
            Some(("rider", sub)) => Some(token(sub, Role::Rider)),
            Some(("dispatcher", sub)) => Some(token(sub, Role::Dispatcher)),
            _ => None,
        };
        let ops = self::token("ops", Role::Dispatcher);
        let before = app.gql_as(Some(&ops), ride, json!({"id": ride_id})).await.1;
        let (_, body) = app
            .gql_as(token.as_deref(), query, json!({"id": ride_id}))
            .await;
        assert_eq!(outcome(&body), expected, "{who} running {query}: {body}");
        if expected != "ok" {
            let after = app.gql_as(Some(&ops), ride, json!({"id": ride_id})).await.1;
            assert_eq!(before, after, "a refusal changed the ride");
        }
        if query == nearby && who == "rider:r1" {
            let ids: Vec<&str> = body["data"]["nearbyDrivers"]
                .as_array()
                .expect("list")
                .iter()
                .filter_map(|n| n["driver"]["id"].as_str())
                .collect();
            assert!(
                !ids.is_empty() && ids.iter().all(|id| id.starts_with("hidden-")),
                "riders do not see driver ids: {ids:?}"
            );
        }
    }
}

#[tokio::test]
async fn rest_adapters_take_the_header_too() {
    let app = secured(|_| {}).await;
    let post = |token: Option<String>, path: &'static str, body: &'static str| {
        let mut request = app
            .http
            .post(app.url(path))
            .header("content-type", "application/json")
            .body(body);
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        async move { request.send().await.expect("POST").status().as_u16() }
    };
    let tracking = r#"{"id": "1", "lat": -33.44091, "lng": -70.6301}"#;
    assert_eq!(post(None, "/tracking", tracking).await, 401);
    assert_eq!(
        post(Some(token("2", Role::Driver)), "/tracking", tracking).await,
        403
    );
    assert_eq!(
        post(Some(token("1", Role::Driver)), "/tracking", tracking).await,
        200
    );
    assert_eq!(
        post(Some("garbage".into()), "/tracking", tracking).await,
        401
    );
}

#[tokio::test]
async fn forged_expired_and_missing_tokens_are_refused_over_http_and_websocket() {
    let app = secured(|_| {}).await;
    let ride_id = fleet(&app).await;
    let forged = mint(
        "another-secret-of-16-bytes",
        "ops",
        Role::Dispatcher,
        Duration::from_secs(600),
    )
    .expect("mint");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &tracking::auth::Claims {
            sub: "ops".into(),
            role: Role::Dispatcher,
            exp: now - 120,
        },
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("encode");
    for bad in [forged.as_str(), expired.as_str(), "not-a-jwt"] {
        let (status, body) = app
            .gql_as(Some(bad), "{ ride(id: \"1\") { id } }", json!({}))
            .await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(error_code_of(&body), "UNAUTHENTICATED");
    }

    // WebSocket: a bad token in connection_init closes the connection.
    for (protocol, init) in [
        (
            Protocol::TransportWs,
            json!({"authorization": format!("Bearer {forged}")}),
        ),
        (
            Protocol::LegacyWs,
            json!({"Authorization": format!("Bearer {expired}")}),
        ),
    ] {
        let mut socket = Subscription::connect(app.addr, protocol).await;
        use futures_util::{SinkExt, StreamExt};
        socket
            .send(Message::text(
                json!({"type": "connection_init", "payload": init}).to_string(),
            ))
            .await
            .expect("send");
        let answer = within(PATIENCE, "the refusal", socket.next()).await;
        match answer {
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(frame.code, CloseCode::Library(4403))
            }
            Some(Ok(Message::Text(text))) => assert!(text.contains("connection_error"), "{text}"),
            other => panic!("{protocol:?}: expected a refusal, got {other:?}"),
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
    let other = json!({"authorization": format!("Bearer {}", token("r2", Role::Rider))});
    let mut sub = Subscription::start_with_init(
        app.addr,
        Protocol::LegacyWs,
        other,
        RIDE_STATUS,
        json!({"id": ride_id}),
    )
    .await;
    assert_eq!(sub.expect_error_code().await, "FORBIDDEN");
}

#[tokio::test]
async fn graphql_limits_refuse_deep_complex_and_huge_requests() {
    let app = TestApp::spawn(StoreKind::Memory, |c| {
        c.max_depth = 5;
        c.max_complexity = 40;
        c.max_query_bytes = 2048;
        c.max_body_bytes = 8192;
    })
    .await;
    let fine = "{ ride(id: \"1\") { driver { location { lat } } } }";
    assert_eq!(
        outcome(&app.gql(fine, json!({})).await),
        "ok",
        "depth 4 is within 5"
    );

    // A valid query nested 500 deep.
    let abyss = format!(
        "{{ __type(name: \"Ride\") {{ fields {{ type {{ {}name{} }} }} }} }}",
        "ofType { ".repeat(500),
        " }".repeat(500)
    );
    let app_deep = TestApp::spawn(StoreKind::Memory, |c| c.max_depth = 5).await;
    assert_eq!(
        outcome(&app_deep.gql(&abyss, json!({})).await),
        "BAD_USER_INPUT",
        "depth limit"
    );

    // Complexity: many aliased lists in one request.
    let wide = format!(
        "{{ {} }}",
        (0..20)
            .map(|i| format!(
                "n{i}: nearbyDrivers(lat: 0, lng: 0) {{ distanceKm driver {{ id }} }}"
            ))
            .collect::<Vec<_>>()
            .join(" ")
    );
    assert_eq!(
        outcome(&app.gql(&wide, json!({})).await),
        "BAD_USER_INPUT",
        "complexity limit"
    );

    let long = format!("{{ __typename {} }}", " ".repeat(3000));
    assert_eq!(
        outcome(&app.gql(&long, json!({})).await),
        "BAD_USER_INPUT",
        "query text limit"
    );
    let huge = format!(
        "{{\"query\": \"{{ __typename }}\", \"x\": \"{}\"}}",
        "a".repeat(10_000)
    );
    let (status, _) = app.post_raw("/graphql", &huge).await;
    assert_eq!(status, 413, "body limit");

    let closed = TestApp::spawn(StoreKind::Memory, |c| c.no_introspection = true).await;
    let body = closed
        .gql("{ __schema { types { name } } }", json!({}))
        .await;
    assert!(
        body["data"]["__schema"].is_null(),
        "introspection is off: {body}"
    );
    let open = app
        .gql("{ __schema { queryType { name } } }", json!({}))
        .await;
    assert_eq!(open["data"]["__schema"]["queryType"]["name"], "Query");
}

#[tokio::test]
async fn websocket_limits_close_or_refuse_clearly() {
    let app = TestApp::spawn(StoreKind::Memory, |c| {
        c.max_connections = 2;
        c.max_subscriptions = 1;
        c.connection_init_timeout = Duration::from_millis(300);
    })
    .await;
    let ride = id_of(&app.request_driver("r", RIDER).await);

    // One subscription per connection: a second one is refused, the first goes on.
    let mut sub = app.watch_ride(Protocol::TransportWs, &ride).await;
    sub.expect_status("SEARCHING").await;
    // Open a second connection, and try a third: refused with 503.
    let idle = Subscription::connect(app.addr, Protocol::TransportWs).await;
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
            "ws://{}/ws",
            app.addr
        ))
        .expect("request");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503)
        }
        other => panic!("expected 503 for a third connection, got {other:?}"),
    }

    // The idle one never sent connection_init: closed with 4408.
    let mut idle = idle;
    use futures_util::StreamExt;
    let closed = within(PATIENCE, "the init deadline", async {
        loop {
            match idle.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    })
    .await;
    assert_eq!(closed, Some(4408));
}

#[tokio::test]
async fn a_second_subscription_on_one_connection_is_refused() {
    let app = TestApp::spawn(StoreKind::Memory, |c| c.max_subscriptions = 1).await;
    let first = id_of(&app.request_driver("r1", RIDER).await);
    let second = id_of(&app.request_driver("r2", RIDER).await);
    let mut socket = Subscription::connect(app.addr, Protocol::TransportWs).await;
    use futures_util::{SinkExt, StreamExt};
    let send = |v: Value| Message::text(v.to_string());
    socket
        .send(send(json!({"type": "connection_init"})))
        .await
        .expect("init");
    socket.send(send(json!({"id": "a", "type": "subscribe", "payload": {"query": RIDE_STATUS, "variables": {"id": first}}}))).await.expect("a");
    socket.send(send(json!({"id": "b", "type": "subscribe", "payload": {"query": RIDE_STATUS, "variables": {"id": second}}}))).await.expect("b");
    let mut refused = false;
    let mut got_a = false;
    while !(refused && got_a) {
        let Some(Ok(Message::Text(text))) = within(PATIENCE, "messages", socket.next()).await
        else {
            panic!("socket closed")
        };
        let v: Value = serde_json::from_str(&text).expect("json");
        match (v["type"].as_str(), v["id"].as_str()) {
            (Some("error"), Some("b")) => {
                assert_eq!(v["payload"][0]["extensions"]["code"], "TOO_MANY_REQUESTS");
                refused = true;
            }
            (Some("next"), Some("a")) => got_a = true,
            _ => {}
        }
    }
}

#[tokio::test]
async fn a_silent_peer_is_closed_by_the_keepalive() {
    let app = TestApp::spawn(StoreKind::Memory, |c| {
        c.keepalive = Duration::from_millis(100)
    })
    .await;
    let ride = id_of(&app.request_driver("r", RIDER).await);
    let mut sub = app.watch_ride(Protocol::TransportWs, &ride).await;
    sub.expect_status("SEARCHING").await;
    // Go silent: no reads, so no pongs, for longer than two intervals.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        sub.next_event().await,
        Event::Closed,
        "the server closed the silent socket"
    );
}

#[tokio::test]
async fn shutdown_closes_websockets_with_a_close_frame() {
    let app = TestApp::spawn(StoreKind::Memory, |_| {}).await;
    let ride = id_of(&app.request_driver("r", RIDER).await);
    let mut socket = Subscription::connect(app.addr, Protocol::TransportWs).await;
    use futures_util::{SinkExt, StreamExt};
    socket
        .send(Message::text(
            json!({"type": "connection_init"}).to_string(),
        ))
        .await
        .expect("init");
    socket
        .send(Message::text(json!({"id": "1", "type": "subscribe", "payload": {"query": RIDE_STATUS, "variables": {"id": ride}}}).to_string()))
        .await
        .expect("subscribe");
    let stopping = tokio::spawn(app.stop());
    let code = within(PATIENCE, "the close frame", async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    })
    .await;
    assert_eq!(code, Some(1001));
    stopping.await.expect("stopped");
}

#[tokio::test]
async fn fast_updates_and_impossible_jumps_are_refused() {
    let app = TestApp::spawn(StoreKind::Memory, |c| {
        c.max_update_rate = 2.0;
        c.max_speed_kmh = 300.0;
    })
    .await;
    let update = |lat: f64, lng: f64| {
        app.gql(
            "mutation($lat: Float!, $lng: Float!) { updateLocation(driverId: \"fast\", lat: $lat, lng: $lng) { location { lat } } }",
            json!({"lat": lat, "lng": lng}),
        )
    };
    assert_eq!(outcome(&update(DRIVER.0, DRIVER.1).await), "ok");
    // 50 km in a moment: faster than 300 km/h.
    let far = north_of(DRIVER, 50.0);
    assert_eq!(outcome(&update(far.0, far.1).await), "BAD_USER_INPUT");
    assert_eq!(
        app.driver("fast").await["location"]["lat"],
        DRIVER.0,
        "the jump changed nothing"
    );
    // The burst of two is spent: the next one is too fast.
    assert_eq!(
        outcome(&update(DRIVER.0, DRIVER.1).await),
        "TOO_MANY_REQUESTS"
    );
}

#[tokio::test]
async fn metrics_count_a_real_match() {
    let app = TestApp::spawn(StoreKind::Memory, |_| {}).await;
    let read = || async {
        let text = app
            .http
            .get(app.url("/metrics"))
            .send()
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("text");
        let value = |name: &str| -> f64 {
            text.lines()
                .find(|l| l.starts_with(name) && !l.starts_with('#'))
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0)
        };
        (
            value("tracking_matches_total"),
            value("tracking_time_to_match_seconds_count"),
            text,
        )
    };
    let (matches, timed, _) = read().await;
    app.update_location("m1", DRIVER).await;
    let id = id_of(&app.request_driver("r", RIDER).await);
    app.ride_reaches(&id, "DRIVER_FOUND").await;
    let (after, timed_after, text) = read().await;
    assert!(after >= matches + 1.0, "matches {matches} -> {after}");
    assert!(timed_after >= timed + 1.0, "time to match recorded");
    for name in [
        "tracking_http_requests_total",
        "tracking_graphql_operations_total",
        "tracking_rides_searching",
    ] {
        assert!(text.contains(name), "{name} missing from /metrics");
    }
}

#[tokio::test]
async fn without_a_key_the_service_stays_on_loopback() {
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0")
        .await
        .expect("bind");
    let mut config = crate::common::test_config();
    config.listen = listener.local_addr().expect("addr");
    let refused = tracking::Application::build_on(config.clone(), listener).await;
    assert!(
        refused.is_err(),
        "an open service on a public address must be refused"
    );
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0")
        .await
        .expect("bind");
    config.insecure_no_auth = true;
    assert!(tracking::Application::build_on(config, listener)
        .await
        .is_ok());
}

/// ES256 and RS256 tokens verify against a public key file. The keys are made
/// with `openssl`, which every machine this suite runs on has (Debian's
/// `openssl`; the test says so when it is missing).
#[tokio::test]
async fn public_key_tokens_verify() {
    let dir = std::env::temp_dir().join(format!("tracking-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let openssl = |args: &[&str]| {
        let status = std::process::Command::new("openssl")
            .args(args)
            .current_dir(&dir)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl on PATH (Debian: apt-get install openssl)");
        assert!(status.success(), "openssl {args:?}");
    };
    openssl(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        "ec.pem",
    ]);
    openssl(&[
        "pkcs8", "-topk8", "-nocrypt", "-in", "ec.pem", "-out", "ec8.pem",
    ]);
    openssl(&["ec", "-in", "ec.pem", "-pubout", "-out", "ec.pub"]);
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        "rsa.pem",
    ]);
    openssl(&["rsa", "-in", "rsa.pem", "-pubout", "-out", "rsa.pub"]);
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 600;
    let claims = tracking::auth::Claims {
        sub: "ops".into(),
        role: Role::Dispatcher,
        exp,
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
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tracking"))
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
    let verifier = tracking::auth::Verifier::from_config(Some(SECRET), None)
        .expect("config")
        .expect("verifier");
    assert_eq!(
        verifier.verify(token.trim()).expect("valid"),
        tracking::auth::Caller::Token {
            sub: "ana".into(),
            role: Role::Rider
        }
    );
    let missing = std::process::Command::new(env!("CARGO_BIN_EXE_tracking"))
        .args(["token", "--role", "rider", "--sub", "ana"])
        .env_remove("TRACKING_JWT_SECRET")
        .output()
        .expect("run");
    assert!(!missing.status.success(), "no secret, no token");
}
