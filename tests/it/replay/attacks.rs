//! Attacks on following the log: a dispatcher's token that expires while
//! its `events` subscription is open, over every transport.

use std::time::{Duration, Instant};

use serde_json::json;
use tracking::auth::{mint, Role};

use super::setup::{log_on, FOLLOW};
use crate::common::{
    error_code_of,
    raw_ws::RawSocket,
    streams::{HttpStream, Part, Streaming},
    tokens::SECRET,
    within, StoreKind, TestApp, DRIVER, PATIENCE,
};

/// The log's stream is a dispatcher's right while its token lasts: when the
/// token expires, an SSE or multipart stream fails UNAUTHENTICATED and
/// ends, and a WebSocket closes 4403, within a couple of seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atk_an_expiring_token_ends_the_events_stream_on_every_transport() {
    let app = TestApp::spawn(StoreKind::Memory, |c| {
        log_on(c);
        c.jwt_secret = Some(SECRET.into());
        c.jwt_leeway = Duration::ZERO;
    })
    .await;
    let driver = mint(SECRET, "atk-d1", Role::Driver, Duration::from_secs(600)).expect("mint");
    app.as_user(&driver).update_location("atk-d1", DRIVER).await;
    let short = || mint(SECRET, "ops", Role::Dispatcher, Duration::from_secs(2)).expect("mint");
    for protocol in [Streaming::Multipart, Streaming::Sse] {
        let user = app.as_user(&short());
        let opened = Instant::now();
        let mut stream = HttpStream::open(&user, protocol, FOLLOW, json!({})).await;
        let first = stream.next_data("events").await;
        assert_eq!(first["recovered"], true, "{protocol:?}: {first}");
        let failure = match stream.next().await {
            Part::Failed(errors) => json!({"errors": errors}),
            Part::Next(payload) => payload,
            other => panic!("{protocol:?}: expected the stream to fail, got {other:?}"),
        };
        assert_eq!(
            error_code_of(&failure),
            "UNAUTHENTICATED",
            "{protocol:?}: {failure}"
        );
        assert_eq!(stream.next().await, Part::End, "{protocol:?}");
        assert!(opened.elapsed() < Duration::from_secs(5), "{protocol:?}");
    }

    let token = short();
    let mut socket = RawSocket::initialised(
        app.addr,
        Some(json!({"authorization": format!("Bearer {token}")})),
    )
    .await;
    let ack = within(PATIENCE, "ack", socket.next_frame())
        .await
        .expect("ack");
    assert!(ack.text().contains("connection_ack"), "{}", ack.text());
    let subscribe = json!({"id": "1", "type": "subscribe", "payload": {"query": FOLLOW}});
    socket
        .send_text(&subscribe.to_string())
        .await
        .expect("subscribe");
    let first = within(PATIENCE, "the first page", socket.next_frame())
        .await
        .expect("next");
    assert!(first.text().contains("recovered"), "{}", first.text());
    let opened = Instant::now();
    assert_eq!(socket.closed().await, Ok(Some(4403)), "closed at expiry");
    assert!(
        opened.elapsed() < Duration::from_secs(4),
        "{:?}",
        opened.elapsed()
    );
}
