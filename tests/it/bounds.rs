//! Nothing a client sends, and nothing the service keeps, grows without a
//! bound. Each test is one way an attacker or a long-running deployment
//! could have exhausted the service; the WebSocket and HTTP ones run against
//! a service that verifies tokens, with no token at all.

use std::{
    collections::HashSet,
    sync::Arc,
    time::{Duration, Instant},
};

use serde_json::{json, Value};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tracking::store::memory::MemoryStore;

use crate::common::{
    error_code_of, id_of, north_of, raw_ws::RawSocket, within, Client, ServiceProcess, StoreKind,
    TestApp, PATIENCE, RIDER,
};

const SECRET: &str = "test-secret-of-at-least-16-bytes";

async fn guarded(tweak: impl FnOnce(&mut tracking::Config)) -> TestApp {
    TestApp::spawn(StoreKind::Memory, |c| {
        c.jwt_secret = Some(SECRET.into());
        tweak(c);
    })
    .await
}

/// The service still answers over HTTP and over a new WebSocket.
async fn still_serving(addr: std::net::SocketAddr) {
    let (status, _) = Client::new(addr, None).get("/health").await;
    assert_eq!(status, 200, "still serving HTTP");
    let mut socket = RawSocket::connect(addr, "graphql-transport-ws", &[])
        .await
        .expect("a new WebSocket");
    socket
        .send_text(&json!({"type": "connection_init"}).to_string())
        .await
        .expect("init");
    let ack = within(PATIENCE, "connection_ack", socket.next_frame())
        .await
        .expect("a frame");
    assert!(ack.text().contains("connection_ack"), "{}", ack.text());
}

/// A message over the cap closes the socket with 1009 before it is buffered
/// whole: announced in one frame (60 MB, never sent) or sent in fragments.
#[tokio::test]
async fn an_oversized_websocket_message_is_refused_with_1009() {
    let app = guarded(|c| c.max_ws_message_bytes = 64 * 1024).await;
    // One frame announcing 60 MB, before connection_init, without a token.
    let mut socket = RawSocket::connect(app.addr, "graphql-transport-ws", &[])
        .await
        .expect("upgrade");
    socket
        .send_announcing(60 * 1024 * 1024, br#"{"type":"subscribe","#)
        .await
        .expect("send");
    assert_eq!(socket.closed().await, Ok(Some(1009)));

    // Fragments of 16 KiB each: refused once past 64 KiB in all.
    let mut socket = RawSocket::connect(app.addr, "graphql-ws", &[])
        .await
        .expect("upgrade");
    let chunk = vec![b' '; 16 * 1024];
    let mut refused = None;
    for i in 0..8 {
        if socket.send_fragment(i == 0, false, &chunk).await.is_err() {
            break;
        }
        if i >= 4 {
            refused = Some(socket.closed().await);
            break;
        }
    }
    assert_eq!(refused, Some(Ok(Some(1009))));
    still_serving(app.addr).await;
}

/// A 1,000-report `updateLocations` fits under the default cap.
#[tokio::test]
async fn a_thousand_report_batch_fits_in_one_websocket_message() {
    let app = TestApp::spawn(StoreKind::Memory, |_| {}).await;
    let updates: Vec<Value> = (0..1000)
        .map(|i| json!({"driverId": format!("batch-driver-{i:04}"), "lat": RIDER.0 + i as f64 * 1e-4, "lng": RIDER.1, "at": chrono::Utc::now().to_rfc3339()}))
        .collect();
    let mut sub = app
        .subscribe(
            crate::common::Protocol::TransportWs,
            "mutation($u: [LocationUpdate!]!) { updateLocations(updates: $u) { accepted } }",
            json!({"u": updates}),
        )
        .await;
    match sub.next_event().await {
        crate::common::ws::Event::Next(payload) => {
            assert_eq!(
                payload["data"]["updateLocations"]["accepted"], 1000,
                "{payload}"
            )
        }
        other => panic!("expected the batch's result, got {other:?}"),
    }
}

/// Before `connection_init` is accepted, any other message closes the socket
/// with 4401, unparsed.
#[tokio::test]
async fn a_message_before_connection_init_closes_with_4401() {
    let app = guarded(|_| {}).await;
    for (protocol, kind) in [
        ("graphql-transport-ws", "subscribe"),
        ("graphql-ws", "start"),
    ] {
        let mut socket = RawSocket::connect(app.addr, protocol, &[])
            .await
            .expect("upgrade");
        let message = json!({"id": "1", "type": kind, "payload": {"query": "subscription { rideStatus(rideId: \"1\") { id } }"}});
        socket.send_text(&message.to_string()).await.expect("send");
        assert_eq!(socket.closed().await, Ok(Some(4401)), "{protocol}");
    }
    // Garbage is closed the same way, not parsed.
    let mut socket = RawSocket::connect(app.addr, "graphql-transport-ws", &[])
        .await
        .expect("upgrade");
    socket
        .send_text("{\"payload\": [[[[[[")
        .await
        .expect("send");
    assert_eq!(socket.closed().await, Ok(Some(4401)));
    still_serving(app.addr).await;
}

/// Sockets that never finish `connection_init` are capped: past the cap,
/// new upgrades get 503.
#[tokio::test]
async fn sockets_waiting_for_connection_init_are_capped() {
    let app = guarded(|c| c.max_ws_pending_init = 3).await;
    let mut waiting = Vec::new();
    for _ in 0..3 {
        waiting.push(
            RawSocket::connect(app.addr, "graphql-transport-ws", &[])
                .await
                .expect("upgrade"),
        );
    }
    match RawSocket::connect(app.addr, "graphql-transport-ws", &[]).await {
        Err(head) => assert!(head.starts_with("HTTP/1.1 503"), "{head}"),
        Ok(_) => panic!("a fourth unauthenticated socket was accepted"),
    }
    // One finishes its handshake: room for another.
    waiting[0]
        .send_text(&json!({"type": "connection_init"}).to_string())
        .await
        .expect("init");
    let ack = within(PATIENCE, "ack", waiting[0].next_frame())
        .await
        .expect("frame");
    assert!(ack.text().contains("connection_ack"));
    RawSocket::connect(app.addr, "graphql-transport-ws", &[])
        .await
        .expect("room again");
}

/// 10,000 operation names chosen by an anonymous client add no metric
/// series: operations are counted by the schema's root fields.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_chosen_operation_names_never_become_metric_labels() {
    let app = guarded(|_| {}).await;
    for batch in 0..1000 {
        let body: Vec<Value> = (0..10)
            .map(|i| {
                let name = format!("Attacker{}x{}", batch, i);
                json!({"query": format!("query {name} {{ nearbyDrivers(lat: 0, lng: 0) {{ distanceKm }} }}"), "operationName": name})
            })
            .collect();
        let (status, _) = app
            .post_raw("/graphql", &Value::Array(body).to_string())
            .await;
        assert_eq!(status, 200);
    }
    let text = app.metrics().await;
    assert!(!text.contains("Attacker"), "a client's name became a label");
    let fields: HashSet<&str> = tracking::api::prepare::root_fields()
        .iter()
        .copied()
        .chain(["other"])
        .collect();
    let outcomes: HashSet<&str> = tracking::error::codes::ALL
        .iter()
        .copied()
        .chain(["ok", "error"])
        .collect();
    let series: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("tracking_graphql_operations_total{"))
        .collect();
    assert!(!series.is_empty());
    for line in series {
        let label = |name: &str| {
            line.split(&format!("{name}=\""))
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or_default()
                .to_owned()
        };
        assert!(fields.contains(label("operation").as_str()), "{line}");
        assert!(outcomes.contains(label("outcome").as_str()), "{line}");
    }
    assert!(
        text.contains(r#"operation="nearbyDrivers",outcome="UNAUTHENTICATED""#),
        "the refusals were counted under the field's name"
    );
}

/// Whether the server ends a raw TCP connection within `limit` (reads EOF
/// or a reset), ignoring whatever it sends first.
async fn closed_within(tcp: &mut TcpStream, limit: Duration) -> bool {
    tokio::time::timeout(limit, async {
        let mut buf = [0u8; 1024];
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    })
    .await
    .is_ok()
}

/// Half a request header, nothing at all, or a keep-alive connection left
/// idle: each is closed after its deadline, not held forever.
#[tokio::test]
async fn slow_and_idle_connections_are_closed_after_their_deadlines() {
    let app = guarded(|c| {
        c.header_read_timeout = Duration::from_millis(300);
        c.idle_timeout = Duration::from_millis(600);
    })
    .await;
    let started = Instant::now();
    let mut half = TcpStream::connect(app.addr).await.expect("connect");
    half.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .expect("write");
    let mut silent = TcpStream::connect(app.addr).await.expect("connect");
    assert!(
        closed_within(&mut half, PATIENCE).await,
        "half a header held"
    );
    assert!(
        closed_within(&mut silent, PATIENCE).await,
        "a silent socket held"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "closed before the deadline: {:?}",
        started.elapsed()
    );

    // Trickling a header byte by byte does not reset the deadline.
    let mut trickle = TcpStream::connect(app.addr).await.expect("connect");
    let began = Instant::now();
    let mut cut = false;
    for byte in b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: aaaaaaaaaaaaaaaaaaaa" {
        if trickle.write_all(&[*byte]).await.is_err() {
            cut = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        if began.elapsed() > Duration::from_secs(5) {
            break;
        }
    }
    assert!(cut || closed_within(&mut trickle, Duration::from_secs(1)).await);
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "trickling held the socket"
    );

    // A keep-alive connection: served, then closed once idle.
    let mut kept = TcpStream::connect(app.addr).await.expect("connect");
    kept.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut buf = vec![0u8; 4096];
    let n = kept.read(&mut buf).await.expect("response");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let idle_from = Instant::now();
    assert!(
        closed_within(&mut kept, PATIENCE).await,
        "an idle keep-alive connection held"
    );
    assert!(
        idle_from.elapsed() >= Duration::from_millis(500),
        "{:?}",
        idle_from.elapsed()
    );
}

/// Under an open-file limit of 256 and 300 sockets that send nothing, the
/// service never fails to accept and `/health` keeps answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_idle_sockets_cannot_take_the_service_down() {
    let service = ServiceProcess::start_with_fd_limit(256, &["--jwt-secret", SECRET]);
    let mut idle = Vec::new();
    for _ in 0..300 {
        // Past cap and overflow, connections wait in the backlog: fine.
        match tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(service.addr))
            .await
        {
            Ok(Ok(tcp)) => idle.push(tcp),
            _ => break,
        }
    }
    let log = service.log.clone();
    let started = Instant::now();
    // Health checks still answer (on the overflow when the cap is full, or
    // as soon as the header deadline frees slots).
    let (status, body) = Client::new(service.addr, None).get("/health").await;
    assert_eq!(status, 200, "{body}");
    // Behind a hundred silent sockets queued past the cap, the health check
    // gets its turn within seconds, not when the attacker lets go.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let text = log.lock().expect("log").text();
    assert!(!text.contains("accept failed"), "accept failed:\n{text}");
    assert!(
        text.contains("connection cap"),
        "the cap is logged:\n{text}"
    );
    drop(idle);
}

/// The cap is exported from a fresh process (in-process tests share one
/// recorder, installed by whichever test ran first, so only a process of
/// its own shows a gauge set before the recorder existed: this one was).
#[tokio::test]
async fn a_fresh_process_exports_its_connection_cap() {
    let service = ServiceProcess::start(&["--max-connections", "50", "--jwt-secret", SECRET]);
    let (status, text) = Client::new(service.addr, None).get("/metrics").await;
    assert_eq!(status, 200);
    assert!(
        text.lines().any(|l| l == "tracking_connections_max 50"),
        "the cap in /metrics:\n{text}"
    );
}

/// SIGTERM with clients that would hold it open (a request body that never
/// finishes, a WebSocket that never reads): the process exits 0 within the
/// grace period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_exits_within_the_grace_whatever_clients_do() {
    let mut service = ServiceProcess::start(&["--shutdown-grace", "1s"]);
    let mut stuck = TcpStream::connect(service.addr).await.expect("connect");
    stuck
        .write_all(b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"query\":")
        .await
        .expect("write");
    let mut socket = RawSocket::connect(service.addr, "graphql-transport-ws", &[])
        .await
        .expect("upgrade");
    socket
        .send_text(&json!({"type": "connection_init"}).to_string())
        .await
        .expect("init");
    // Let the request reach the handler (which now waits for its body).
    let client = Client::new(service.addr, None);
    assert_eq!(client.get("/health").await.0, 200);
    let signalled = Instant::now();
    service.terminate();
    let status = service
        .wait(Duration::from_secs(5))
        .expect("the service to exit within the grace (1 s) and a little");
    assert!(status.success(), "{status}");
    assert!(
        signalled.elapsed() < Duration::from_secs(4),
        "{:?}",
        signalled.elapsed()
    );
    drop(stuck);
}

/// A batch over the cap, or a document whose work is multiplied by aliases
/// and list sizes, is refused before anything runs.
#[tokio::test]
async fn one_request_cannot_do_enormous_work() {
    let store = Arc::new(MemoryStore::new(Duration::from_secs(60)));
    let app = TestApp::spawn_on(store.clone(), |_| {}).await;
    let request = |i: usize| json!({"query": format!("mutation {{ requestDriver(riderId: \"r{i}\", lat: 1, lng: 1) {{ id }} }}")});

    // Eleven operations: over the default of ten.
    let batch: Vec<Value> = (0..11).map(request).collect();
    let (status, body) = app
        .post_raw("/graphql", &Value::Array(batch).to_string())
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(error_code_of(&body), "BAD_USER_INPUT");
    assert_eq!(
        body["errors"].as_array().map(Vec::len),
        Some(1),
        "one error"
    );
    assert_eq!(store.counts().1, 0, "no ride was created");

    // Sixty rides in one document: about 50 is the most one request may create.
    let aliases: String = (0..60)
        .map(|i| format!("r{i}: requestDriver(riderId: \"r{i}\", lat: 1, lng: 1) {{ id }} "))
        .collect();
    let body = app
        .gql(&format!("mutation {{ {aliases} }}"), json!({}))
        .await;
    assert_eq!(error_code_of(&body), "BAD_USER_INPUT", "{body}");
    assert!(body["data"].is_null(), "{body}");
    assert_eq!(store.counts().1, 0, "no ride was created");

    // Forty in one document is fine.
    let aliases: String = (0..40)
        .map(|i| format!("r{i}: requestDriver(riderId: \"r{i}\", lat: 1, lng: 1) {{ id }} "))
        .collect();
    let body = app
        .gql(&format!("mutation {{ {aliases} }}"), json!({}))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(store.counts().1, 40);

    // Ten documents of forty in a batch share one request's budget.
    let batch: Vec<Value> = (0..10)
        .map(|_| json!({"query": format!("mutation {{ {aliases} }}")}))
        .collect();
    let (status, body) = app
        .post_raw("/graphql", &Value::Array(batch).to_string())
        .await;
    assert_eq!(status, 200);
    for response in body.as_array().expect("a list") {
        assert_eq!(error_code_of(response), "BAD_USER_INPUT", "{response}");
    }
    assert_eq!(store.counts().1, 40, "nothing more was created");

    // Lists cost their limit: many aliased nearbyDrivers(limit: 100).
    let wide: String = (0..20)
        .map(|i| format!("n{i}: nearbyDrivers(lat: 0, lng: 0, limit: 100) {{ distanceKm driver {{ id location {{ lat lng }} }} }} "))
        .collect();
    let body = app.gql(&format!("{{ {wide} }}"), json!({})).await;
    assert_eq!(error_code_of(&body), "BAD_USER_INPUT", "{body}");
}

/// The subscription cap counts streams, not text: a ride whose rider is
/// named `complete`, selected under the alias `type`, makes every event
/// read `"type":"complete"`, which once fooled the count. 100 subscriptions
/// still fill the cap, each refusal past it is delivered, and a client that
/// keeps asking is closed with 4429.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_subscription_cap_counts_streams_not_text() {
    let service = ServiceProcess::start(&["--search-interval", "60s"]);
    let client = Client::new(service.addr, None);
    let ride = id_of(
        &client
            .request_driver("complete", north_of(RIDER, 50.0))
            .await,
    );
    let mut socket = RawSocket::connect(service.addr, "graphql-transport-ws", &[])
        .await
        .expect("upgrade");
    socket
        .send_text(&json!({"type": "connection_init"}).to_string())
        .await
        .expect("init");
    let query = "subscription($id: ID!) { rideStatus(rideId: $id) { type: riderId } }";
    for i in 0..100 {
        let message = json!({"id": format!("s{i}"), "type": "subscribe", "payload": {"query": query, "variables": {"id": ride}}});
        socket
            .send_text(&message.to_string())
            .await
            .expect("subscribe");
    }
    let mut nexts = 0;
    while nexts < 100 {
        let frame = within(
            PATIENCE,
            "the subscriptions' first events",
            socket.next_frame(),
        )
        .await
        .expect("a frame");
        let message: Value = serde_json::from_slice(&frame.payload).unwrap_or_default();
        match message["type"].as_str() {
            Some("next") => {
                assert_eq!(message["payload"]["data"]["rideStatus"]["type"], "complete");
                nexts += 1;
            }
            Some("connection_ack") => {}
            _ => panic!("unexpected {message}"),
        }
    }
    let gauge = |text: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix("tracking_subscriptions "))
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    assert_eq!(gauge(&client.metrics().await), Some(100.0));

    // Ten more: each refused, each refusal delivered.
    for i in 0..10 {
        let message = json!({"id": format!("x{i}"), "type": "subscribe", "payload": {"query": query, "variables": {"id": ride}}});
        socket
            .send_text(&message.to_string())
            .await
            .expect("subscribe");
    }
    for _ in 0..10 {
        let frame = within(PATIENCE, "a refusal", socket.next_frame())
            .await
            .expect("frame");
        let message: Value = serde_json::from_slice(&frame.payload).unwrap_or_default();
        assert_eq!(message["type"], "error", "{message}");
        assert_eq!(
            message["payload"][0]["extensions"]["code"],
            "TOO_MANY_REQUESTS"
        );
    }
    assert_eq!(gauge(&client.metrics().await), Some(100.0));
    // The eleventh in a row: the client is closed.
    let message = json!({"id": "x10", "type": "subscribe", "payload": {"query": query, "variables": {"id": ride}}});
    socket
        .send_text(&message.to_string())
        .await
        .expect("subscribe");
    assert_eq!(socket.closed().await, Ok(Some(4429)));
    crate::common::eventually("the gauge to drop with the socket", || async {
        (gauge(&client.metrics().await) == Some(0.0)).then_some(())
    })
    .await;
}
