//! GraphQL over WebSocket: both subprotocols follow a ride to its end, a
//! peer that stops answering pings is closed, and shutdown closes every
//! socket with a close frame.

use std::time::Duration;

use crate::common::{
    id_of, raw_ws::RawSocket, within, ws::Event, Protocol, StoreKind, TestApp, DRIVER, PATIENCE,
    RIDER,
};

pub(super) async fn both_subprotocols_follow_a_ride_to_its_end(store: StoreKind) {
    let app = TestApp::spawn(store, |_| {}).await;
    let id = id_of(&app.request_driver("rider-1", RIDER).await);
    let mut modern = app.watch_ride(Protocol::TransportWs, &id).await;
    let mut legacy = app.watch_ride(Protocol::LegacyWs, &id).await;
    for sub in [&mut modern, &mut legacy] {
        sub.expect_status("SEARCHING").await;
    }
    app.update_location("1", DRIVER).await;
    for sub in [&mut modern, &mut legacy] {
        assert_eq!(sub.expect_status("DRIVER_FOUND").await["driver"]["id"], "1");
    }
    app.cancel(&id).await;
    for sub in [&mut modern, &mut legacy] {
        sub.expect_status("CANCELLED").await;
        sub.expect_complete().await;
    }
    assert_eq!(
        app.driver("1").await["status"],
        "AVAILABLE",
        "cancelling frees the driver"
    );
}

/// A client that stops answering pings is closed (1001) after two
/// keep-alive intervals. The raw client never answers a ping: silence is
/// the scenario, not a sleep.
#[tokio::test]
async fn a_silent_peer_is_closed_by_the_keepalive() {
    let app = TestApp::spawn(StoreKind::Memory, |c| {
        c.keepalive = Duration::from_millis(200)
    })
    .await;
    let mut socket = RawSocket::initialised(app.addr, None).await;
    let started = std::time::Instant::now();
    let mut pings = 0;
    let code = within(PATIENCE, "the keep-alive close", async {
        loop {
            match socket.next_frame().await {
                Some(frame) if frame.opcode == crate::common::raw_ws::PING => pings += 1,
                Some(frame) if frame.opcode == crate::common::raw_ws::CLOSE => {
                    return frame.close_code()
                }
                Some(_) => {}
                None => return None,
            }
        }
    })
    .await;
    assert_eq!(code, Some(1001), "closed with 1001 after {pings} pings");
    assert!(pings >= 1, "pinged before giving up");
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "not before two intervals: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn shutdown_closes_websockets_with_a_close_frame() {
    let app = TestApp::spawn(StoreKind::Memory, |_| {}).await;
    let ride = id_of(&app.request_driver("r", RIDER).await);
    let mut sub = app.watch_ride(Protocol::TransportWs, &ride).await;
    sub.expect_status("SEARCHING").await;
    let mut legacy = app.watch_ride(Protocol::LegacyWs, &ride).await;
    legacy.expect_status("SEARCHING").await;
    let stopping = tokio::spawn(app.stop());
    assert_eq!(sub.next_event().await, Event::Closed(Some(1001)));
    assert_eq!(legacy.next_event().await, Event::Closed(Some(1001)));
    stopping.await.expect("stopped");
}
