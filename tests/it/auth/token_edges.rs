//! Signed tokens at the edges of what their claims can say: an `exp` no
//! clock can reach (2^63 seconds and beyond, up to 2^64 − 1) is a token
//! that does not expire, not a panic nor an already-expired session; and a
//! refusal whose reason is longer than a close frame can carry still
//! reaches the client as its code (4403), the reason cut on a character.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{
    raw_ws::{RawSocket, CLOSE},
    streams::{HttpStream, Streaming},
    tokens::{dispatcher, hs256, now, SECRET},
    within, Protocol, StoreKind, TestApp, PATIENCE, RIDE_STATUS,
};

/// A token signed with the test's secret over any claims, made-up or not.
fn signed(claims: &Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("sign")
}

/// `exp` values past every clock: the first that overflowed an instant,
/// and the last a u64 holds (where `exp + leeway` wrapped to the past).
const FAR: [u64; 3] = [(1 << 63) - 31, u64::MAX - 30, u64::MAX];

/// A dispatcher whose token expires at `exp` reads a ride over HTTP, and
/// watches it over both WebSocket protocols, SSE and multipart: each
/// subscription delivers the ride.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_whose_exp_no_clock_reaches_works_on_every_transport() {
    let app = TestApp::spawn(StoreKind::Memory, |c| {
        c.jwt_secret = Some(SECRET.into());
        // A multipart part is whole when the next begins: heartbeats soon.
        c.stream_heartbeat = Duration::from_millis(200);
    })
    .await;
    let ride = app
        .as_user(&hs256(&dispatcher(now() + 600)))
        .request_driver("r", (10.0, 10.0))
        .await;
    let id = ride["id"].as_str().expect("an id").to_owned();
    for exp in FAR {
        let token = signed(&json!({"sub": "ops", "role": "dispatcher", "exp": exp}));
        let client = app.as_user(&token);
        let read = client.ride(&id).await;
        assert_eq!(read["status"], "SEARCHING", "exp {exp}: {read}");
        for protocol in [Protocol::TransportWs, Protocol::LegacyWs] {
            let mut watch = client.watch_ride(protocol, &id).await;
            watch.expect_status("SEARCHING").await;
        }
        for streaming in [Streaming::Sse, Streaming::Multipart] {
            let mut stream =
                HttpStream::open(&client, streaming, RIDE_STATUS, json!({"id": id})).await;
            assert_eq!(stream.status, 200, "exp {exp} over {streaming:?}");
            let status = stream.next_data("rideStatus").await;
            assert_eq!(
                status["status"], "SEARCHING",
                "exp {exp} over {streaming:?}"
            );
        }
    }
}

/// The close frame of a socket refused at `connection_init` with `token`.
async fn refusal_of(app: &TestApp, token: &str) -> (u16, Vec<u8>) {
    let mut socket = RawSocket::connect(app.addr, "graphql-transport-ws", &[])
        .await
        .expect("upgrade");
    let init =
        json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {token}")}});
    socket.send_text(&init.to_string()).await.expect("init");
    loop {
        let frame = within(PATIENCE, "the close frame", socket.next_frame())
            .await
            .expect("a close frame before the end of the connection");
        if frame.opcode == CLOSE {
            let code = frame.close_code().expect("a close code");
            return (code, frame.payload[2..].to_vec());
        }
    }
}

/// A token whose role is spelled `Dispatcher` is refused with 4403 and a
/// reason that fits a control frame (at most 123 bytes), even when the
/// refusal quotes a long role of two-byte characters: cut whole.
#[tokio::test]
async fn a_refusal_with_a_long_reason_keeps_its_close_code() {
    let app = TestApp::spawn(StoreKind::Memory, |c| c.jwt_secret = Some(SECRET.into())).await;
    for role in ["Dispatcher".to_owned(), "é".repeat(100)] {
        let token = signed(&json!({"sub": "ops", "role": role, "exp": now() + 600}));
        let (code, reason) = refusal_of(&app, &token).await;
        assert_eq!(code, 4403, "role {role}");
        assert!(reason.len() <= 123, "a {}-byte reason", reason.len());
        let reason = String::from_utf8(reason).expect("a reason of whole characters");
        assert!(
            reason.contains("role") || reason.contains("variant"),
            "{reason}"
        );
    }
}
