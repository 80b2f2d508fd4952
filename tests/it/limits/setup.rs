//! What the limit tests start from: a service that verifies tokens (the
//! attacks come with none), and a check that it still serves.

use crate::common::{
    raw_ws::RawSocket, tokens::SECRET, within, Client, StoreKind, TestApp, PATIENCE,
};

pub(crate) async fn guarded(tweak: impl FnOnce(&mut tracking::Config)) -> TestApp {
    TestApp::spawn(StoreKind::Memory, |c| {
        c.jwt_secret = Some(SECRET.into());
        tweak(c);
    })
    .await
}

/// The service still answers over HTTP and over a new WebSocket.
pub(crate) async fn still_serving(addr: std::net::SocketAddr) {
    let (status, _) = Client::new(addr, None).get("/health").await;
    assert_eq!(status, 200, "still serving HTTP");
    let mut socket = RawSocket::initialised(addr, None).await;
    let ack = within(PATIENCE, "connection_ack", socket.next_frame())
        .await
        .expect("a frame");
    assert!(ack.text().contains("connection_ack"), "{}", ack.text());
}
