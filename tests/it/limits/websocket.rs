//! WebSocket bounds: a message over the cap (1009), messages before
//! `connection_init` (4401), sockets that never initialise (capped, and
//! closed with 4408), one subscription per connection where so set, and
//! the subscription cap counting streams, not text.

use std::time::Duration;

use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use super::setup::{guarded, still_serving};
use crate::common::{
    eventually, id_of, metric, north_of, raw_ws::RawSocket, within, ws::Event, Client, Protocol,
    ServiceProcess, StoreKind, Subscription, TestApp, PATIENCE, RIDER, RIDE_STATUS,
};

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
            Protocol::TransportWs,
            "mutation($u: [LocationUpdate!]!) { updateLocations(updates: $u) { accepted } }",
            json!({"u": updates}),
        )
        .await;
    match sub.next_event().await {
        Event::Next(payload) => {
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

#[tokio::test]
async fn a_socket_without_connection_init_is_closed_with_4408() {
    let app = TestApp::spawn(StoreKind::Memory, |c| {
        c.connection_init_timeout = Duration::from_millis(300)
    })
    .await;
    for protocol in ["graphql-transport-ws", "graphql-ws"] {
        let mut idle = RawSocket::connect(app.addr, protocol, &[])
            .await
            .expect("upgrade");
        assert_eq!(idle.closed().await, Ok(Some(4408)), "{protocol}");
    }
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
            (Some("connection_ack"), _) | (Some("ping"), _) => {}
            _ => panic!("unexpected {v}"),
        }
    }
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
    let mut socket = RawSocket::initialised(service.addr, None).await;
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
    let gauge = |text: &str| metric(text, "tracking_subscriptions");
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
    eventually("the gauge to drop with the socket", || async {
        (gauge(&client.metrics().await) == Some(0.0)).then_some(())
    })
    .await;
}
