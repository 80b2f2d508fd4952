//! No other origin's page may call the API, on any route: what a browser
//! sends without a preflight (a WebSocket upgrade, a "simple" POST as
//! `text/plain` or a form) is refused before anything runs, out of the box;
//! and cross-origin access (CORS) only for the origins listed.

use std::{sync::Arc, time::Duration};

use serde_json::{json, Value};
use tracking::{
    domain::{Driver, Ride},
    store::memory::MemoryStore,
};

use crate::common::{
    header, id_of, north_of, raw_ws::RawSocket, within, Client, StoreKind, TestApp, DRIVER,
    PATIENCE, RIDER,
};

const EVIL: &str = "https://evil.example";
const APP: &str = "https://app.example.com";

/// A service around a memory store the test can read.
async fn app_on_memory(tweak: impl FnOnce(&mut tracking::Config)) -> (TestApp, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::new(Duration::from_secs(3600)));
    let app = TestApp::spawn_on(store.clone(), tweak).await;
    (app, store)
}

/// Every driver and ride, read at one fixed instant so freshness cannot flip.
fn world(store: &MemoryStore, at: chrono::DateTime<chrono::Utc>) -> (Vec<Driver>, Vec<Arc<Ride>>) {
    store.contents(at)
}

/// A POST with exactly these headers; status and body.
async fn post(app: &Client, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
    let (status, _, body) = app
        .raw(reqwest::Method::POST, path, headers, Some(body))
        .await;
    (status, body)
}

/// Opens `/ws` with an `Origin` (or none): `Ok` if upgraded, else the status line.
async fn open_ws(app: &TestApp, origin: Option<&str>) -> Result<(), String> {
    let header = origin.map(|o| format!("Origin: {o}"));
    let headers: Vec<&str> = header.iter().map(String::as_str).collect();
    RawSocket::connect(app.addr, "graphql-transport-ws", &headers)
        .await
        .map(|_| ())
}

#[tokio::test]
async fn a_websocket_from_another_origin_is_refused_out_of_the_box() {
    let app = TestApp::spawn(StoreKind::Memory, |_| {}).await;
    let head = open_ws(&app, Some(EVIL))
        .await
        .expect_err("another origin opened a WebSocket");
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    // A look-alike of the service's own origin is another origin too.
    let port = app.addr.port();
    for lookalike in [
        format!("http://localhost:{port}"),
        format!("http://127.0.0.1:{}", port.wrapping_add(1)),
        format!("http://127.0.0.1:{port}.evil.example"),
        "null".to_owned(),
    ] {
        let head = open_ws(&app, Some(&lookalike))
            .await
            .expect_err("a look-alike opened a WebSocket");
        assert!(head.starts_with("HTTP/1.1 403"), "{lookalike}: {head}");
    }
    // No Origin (not a browser), and the service's own, under either
    // scheme (a TLS proxy in front keeps the Host), open.
    let own = format!("http://{}", app.addr);
    let behind_tls = format!("https://{}", app.addr);
    for origin in [None, Some(own.as_str()), Some(behind_tls.as_str())] {
        open_ws(&app, origin)
            .await
            .unwrap_or_else(|head| panic!("{origin:?} was refused: {head}"));
    }
    // A listed origin opens; another still does not.
    let listed = TestApp::spawn(StoreKind::Memory, |c| c.cors_origin = vec![APP.into()]).await;
    open_ws(&listed, Some(APP))
        .await
        .unwrap_or_else(|head| panic!("the listed origin was refused: {head}"));
    let head = open_ws(&listed, Some(EVIL)).await.expect_err("opened");
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rest_routes_take_json_only_and_another_origin_changes_nothing() {
    let (app, store) = app_on_memory(|_| {}).await;
    app.update_location("d1", DRIVER).await;
    let ride = id_of(&app.request_driver("r1", RIDER).await);
    app.ride_reaches(&ride, "DRIVER_FOUND").await;
    let at = chrono::Utc::now();
    let before = world(&store, at);

    let far = north_of(DRIVER, 500.0);
    let routes = [
        (
            "/tracking",
            json!({"id": "d1", "lat": far.0, "lng": far.1}).to_string(),
        ),
        (
            "/search",
            json!({"lat": RIDER.0, "lng": RIDER.1, "limit": 5}).to_string(),
        ),
        (
            "/v2/search",
            json!({"lat": RIDER.0, "lng": RIDER.1}).to_string(),
        ),
        ("/v2/cancel", json!({"request_id": ride}).to_string()),
    ];
    // What a page elsewhere can send without a preflight: the JSON text as
    // text/plain, as a form, as multipart, or with no type at all; and
    // proper JSON, but from another origin.
    let refused: [(&[(&str, &str)], u16); 6] = [
        (&[("content-type", "text/plain")], 415),
        (&[("content-type", "text/plain;charset=UTF-8")], 415),
        (
            &[("content-type", "application/x-www-form-urlencoded")],
            415,
        ),
        (&[("content-type", "multipart/form-data; boundary=x")], 415),
        (&[], 415),
        (
            &[("content-type", "application/json"), ("origin", EVIL)],
            403,
        ),
    ];
    for (path, body) in &routes {
        for (headers, expected) in refused {
            let (status, answer) = post(&app, path, headers, body).await;
            assert_eq!(status, expected, "{path} with {headers:?}: {answer}");
            assert!(
                answer["errors"][0]["extensions"]["code"].is_string()
                    && answer["errors"][0]["message"].is_string(),
                "{path} with {headers:?}: no JSON error: {answer}"
            );
            assert_eq!(
                world(&store, at),
                before,
                "{path} with {headers:?} changed the world"
            );
        }
    }
    // The same bodies as JSON (charset and all, or from the service's own
    // page) do what they say: the refusals above were for their type alone.
    let own = format!("http://{}", app.addr);
    let json_utf8: &[(&str, &str)] = &[("content-type", "application/json; charset=utf-8")];
    let (status, answer) = post(&app, "/tracking", json_utf8, &routes[0].1).await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = post(
        &app,
        "/v2/cancel",
        &[("content-type", "application/json"), ("origin", &own)],
        &routes[3].1,
    )
    .await;
    assert_eq!(
        (status, &answer["status"]),
        (200, &json!("CANCELLED")),
        "{answer}"
    );
    assert_ne!(world(&store, chrono::Utc::now()), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_and_its_streams_change_nothing_for_a_simple_cross_site_request() {
    let (app, store) = app_on_memory(|_| {}).await;
    app.update_location("d1", DRIVER).await;
    let at = chrono::Utc::now();
    let before = world(&store, at);
    let mutation = format!(
        "mutation {{ requestDriver(riderId: \"r1\", lat: {}, lng: {}) {{ id }} }}",
        RIDER.0, RIDER.1
    );
    let body = json!({"query": mutation}).to_string();
    for path in ["/graphql", "/graphql/stream"] {
        for kind in ["text/plain", "application/x-www-form-urlencoded"] {
            let (status, answer) = post(
                &app,
                path,
                &[("content-type", kind), ("origin", EVIL)],
                &body,
            )
            .await;
            assert_eq!(status, 415, "{path} as {kind}: {answer}");
        }
        // A GET (an <img>, an EventSource) never runs a mutation.
        let url = format!(
            "{}?query={}",
            app.url(path),
            crate::common::urlencode(&mutation)
        );
        let response = within(
            PATIENCE,
            "an HTTP response",
            app.http().get(url).header("origin", EVIL).send(),
        )
        .await
        .expect("HTTP");
        assert_eq!(response.status().as_u16(), 405, "GET {path}");
    }
    assert_eq!(world(&store, at), before);
}

#[tokio::test]
async fn cross_origin_access_only_for_the_listed_origins() {
    const APP: &str = "https://app.example.com";
    const EVIL: &str = "https://evil.example.net";
    let preflight = |app: &TestApp, origin: &'static str, path: &'static str| {
        let app: Client = (**app).clone();
        async move {
            app.raw(
                reqwest::Method::OPTIONS,
                path,
                &[
                    ("origin", origin),
                    ("access-control-request-method", "POST"),
                    (
                        "access-control-request-headers",
                        "content-type, authorization",
                    ),
                ],
                None,
            )
            .await
        }
    };
    let closed = TestApp::spawn(StoreKind::Memory, |_| {}).await;
    let (status, headers, _) = preflight(&closed, APP, "/graphql").await;
    assert!(status >= 400, "no origin is listed by default: {status}");
    assert!(headers.get("access-control-allow-origin").is_none());

    let app = TestApp::spawn(StoreKind::Memory, |c| c.cors_origin = vec![APP.into()]).await;
    for path in ["/graphql", "/graphql/stream"] {
        let (status, headers, _) = preflight(&app, APP, path).await;
        assert_eq!(status, 204, "{path}");
        assert_eq!(header(&headers, "access-control-allow-origin"), APP);
        let methods = header(&headers, "access-control-allow-methods");
        assert!(
            methods.contains("POST") && methods.contains("GET"),
            "{methods}"
        );
        let allowed = header(&headers, "access-control-allow-headers");
        for name in ["content-type", "authorization", "apollographql-client-name"] {
            assert!(allowed.contains(name), "{name} not in {allowed}");
        }
        let (status, headers, _) = preflight(&app, EVIL, path).await;
        assert_eq!(status, 403, "{path}");
        assert!(headers.get("access-control-allow-origin").is_none());
    }
    // The request itself: the listed origin is named, another is not.
    let post = |origin: &'static str| {
        let app: Client = (*app).clone();
        async move {
            app.raw(
                reqwest::Method::POST,
                "/graphql",
                &[("content-type", "application/json"), ("origin", origin)],
                Some(r#"{"query": "{ __typename }"}"#),
            )
            .await
        }
    };
    let (status, headers, _) = post(APP).await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "access-control-allow-origin"), APP);
    let (_, headers, _) = post(EVIL).await;
    assert!(headers.get("access-control-allow-origin").is_none());

    // The WebSocket upgrade: the listed origin, the service's own and no
    // origin pass; another is refused.
    let own = format!("http://{}", app.addr);
    for (origin, allowed) in [
        (Some(APP), true),
        (Some(own.as_str()), true),
        (None, true),
        (Some(EVIL), false),
    ] {
        let header = origin.map(|o| format!("Origin: {o}"));
        let headers: Vec<&str> = header.iter().map(String::as_str).collect();
        let result =
            crate::common::raw_ws::RawSocket::connect(app.addr, "graphql-transport-ws", &headers)
                .await;
        match (result, allowed) {
            (Ok(_), true) => {}
            (Err(head), false) => assert!(head.starts_with("HTTP/1.1 403"), "{head}"),
            (Ok(_), false) => panic!("{origin:?} opened a WebSocket"),
            (Err(head), true) => panic!("{origin:?} was refused: {head}"),
        }
    }
}
