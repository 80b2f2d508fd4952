//! Attacks on the group commit of single reports on Redis: HTTP clients
//! that hang up mid-request while Redis is paused (their handlers are
//! dropped while leading or waiting in the area's group), then the first
//! report after the pause must be written at once: the group never stays
//! busy with no one leading.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::json;

use crate::common::{eventually, north_of, StoreKind, TestApp, DRIVER};

const UPDATE: &str = "mutation($d: ID!, $lat: Float!, $lng: Float!) { updateLocation(driverId: $d, lat: $lat, lng: $lng) { id status } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atk_clients_hanging_up_while_redis_is_paused_do_not_wedge_the_group() {
    let app = TestApp::spawn(StoreKind::Redis, |c| c.max_update_rate = 0.0).await;
    let redis = app.redis.clone().expect("redis");
    app.update_location("before", DRIVER).await;
    let _: () = redis.cmd(&["CLIENT", "PAUSE", "1500", "WRITE"]).await;
    // Clients that give up after 50 to 400 ms: some lead a stuck call,
    // some wait behind it, some are handed the lead as others hang up.
    let url = app.url("/graphql");
    let hung_up = join_all((0..48u64).map(|i| {
        let url = url.clone();
        async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_millis(50 + (i * 37) % 350))
                .build()
                .expect("a client");
            let at = north_of(DRIVER, 0.2 * i as f64);
            let body = json!({"query": UPDATE,
                "variables": {"d": format!("h{i}"), "lat": at.0, "lng": at.1}});
            client.post(&url).json(&body).send().await.is_err()
        }
    }))
    .await;
    // (Some are answered UNAVAILABLE before they hang up: see the next
    // test.)
    assert!(
        hung_up.iter().any(|&gone| gone),
        "every client was answered before it hung up: Redis was not paused?"
    );
    // The calls the clients left behind are held until the pause ends.
    eventually("the pause to end", || async {
        blocked(&redis).await.xor(Some(()))
    })
    .await;
    let sent = Instant::now();
    let body = app
        .gql(
            UPDATE,
            json!({"d": "after", "lat": DRIVER.0, "lng": DRIVER.1}),
        )
        .await;
    assert!(
        body.get("errors").is_none(),
        "the first report after the pause failed ({:?}): {body}",
        sent.elapsed()
    );
    assert!(
        sent.elapsed() < Duration::from_millis(1_000),
        "the first report after the pause took {:?}",
        sent.elapsed()
    );
    assert_eq!(app.driver("after").await["status"], "AVAILABLE");
}

/// Sends a GraphQL request over a raw connection and leaves it unread:
/// dropping the stream is the client hanging up mid-request.
async fn hang_on(app: &TestApp, driver: &str, at: (f64, f64)) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let body = json!({"query": UPDATE,
        "variables": {"d": driver, "lat": at.0, "lng": at.1}})
    .to_string();
    let request = format!(
        "POST /graphql HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        app.addr,
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send the request");
    stream
}

/// `Some` while the app's Redis holds a client (a paused write is one).
async fn blocked(redis: &crate::common::RedisServer) -> Option<()> {
    let info: String = redis.cmd(&["INFO", "clients"]).await;
    info.lines()
        .any(|l| l.starts_with("blocked_clients:") && l != "blocked_clients:0")
        .then_some(())
}

/// A report's caller is answered for its own report, not for a stranger's
/// connection: X leads a call stuck in a pause; F, then eight patient
/// clients, queue behind it; X hangs up, so F leads the next call, which
/// carries the eight; F hangs up. The eight are still connected and the
/// pause ends well inside the store's timeout, so each must be answered
/// with its driver (their call was sent to Redis and runs after the pause).
///
/// No event tells that a report has joined the queue, so two short waits
/// let the requests get there; a slow machine can only make this pass
/// without showing anything, never fail for nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atk_a_caller_hanging_up_does_not_fail_the_reports_its_call_carries() {
    let app = TestApp::spawn(StoreKind::Redis, |c| c.max_update_rate = 0.0).await;
    let redis = app.redis.clone().expect("redis");
    app.update_location("before", DRIVER).await;
    let _: () = redis.cmd(&["CLIENT", "PAUSE", "1200", "WRITE"]).await;
    let x = hang_on(&app, "x", north_of(DRIVER, 1.0)).await;
    eventually("X's call to be held by the pause", || blocked(&redis)).await;
    let f = hang_on(&app, "f", north_of(DRIVER, 2.0)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let patient = join_all((0..8).map(|i| {
        let app = &app;
        async move {
            let at = north_of(DRIVER, 3.0 + i as f64);
            app.gql(
                UPDATE,
                json!({"d": format!("p{i}"), "lat": at.0, "lng": at.1}),
            )
            .await
        }
    }));
    let hang_ups = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        drop(x);
        tokio::time::sleep(Duration::from_millis(100)).await;
        drop(f);
    };
    let (answers, ()) = tokio::join!(patient, hang_ups);
    eventually("the pause to end", || async {
        blocked(&redis).await.xor(Some(()))
    })
    .await;
    for (i, body) in answers.iter().enumerate() {
        let stored = app.driver(&format!("p{i}")).await["status"].clone();
        assert!(
            body.get("errors").is_none(),
            "p{i} (still connected) was failed for another client's hang-up, \
             though its report was written (status {stored}): {body}"
        );
    }
}
