//! WebSocket subscriptions in tests: `tracking-client`'s, every wait bounded
//! by the suite's patience, with the assertions the scenarios use.

use std::net::SocketAddr;

use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
pub use tracking_client::{Event, Protocol};

use super::{within, PATIENCE};

/// The WebSocket URL of a service.
pub fn ws_url(addr: SocketAddr) -> String {
    format!("ws://{addr}/ws")
}

/// One subscription on its own socket.
pub struct Subscription(tracking_client::Subscription);

impl Subscription {
    /// Connects, initialises the connection and subscribes.
    pub async fn start(
        addr: SocketAddr,
        protocol: Protocol,
        query: &str,
        variables: Value,
    ) -> Self {
        Self::start_with_init(addr, protocol, serde_json::json!({}), query, variables).await
    }

    /// Like [`Subscription::start`] with a `connection_init` payload.
    pub async fn start_with_init(
        addr: SocketAddr,
        protocol: Protocol,
        init: Value,
        query: &str,
        variables: Value,
    ) -> Self {
        let opened = within(
            PATIENCE,
            "the subscription to open",
            tracking_client::Subscription::open(&ws_url(addr), protocol, init, query, variables),
        )
        .await
        .unwrap_or_else(|e| panic!("subscribe over {protocol:?}: {e}"));
        Self(opened)
    }

    /// Opens the socket with the subprotocol header only.
    pub async fn connect(
        addr: SocketAddr,
        protocol: Protocol,
    ) -> WebSocketStream<MaybeTlsStream<TcpStream>> {
        within(
            PATIENCE,
            "the WebSocket handshake",
            tracking_client::Subscription::connect(&ws_url(addr), protocol),
        )
        .await
        .unwrap_or_else(|e| panic!("WebSocket handshake: {e}"))
    }

    /// The next event of the subscription.
    pub async fn next_event(&mut self) -> Event {
        within(PATIENCE, "a subscription event", self.0.next_event()).await
    }

    /// The next result of the subscription, `data.<field>`; fails on errors
    /// and on anything else.
    pub async fn next_data(&mut self, field: &str) -> Value {
        match self.next_event().await {
            Event::Next(payload) => {
                assert!(payload.get("errors").is_none(), "errors in {payload}");
                payload["data"][field].clone()
            }
            other => panic!("expected a {field} event, got {other:?}"),
        }
    }

    /// The next event pushed by `fleet`; fails on anything else.
    pub async fn next_fleet(&mut self) -> Value {
        self.next_data("fleet").await
    }

    /// The next ride pushed by `rideStatus`; fails on anything else.
    pub async fn next_ride(&mut self) -> Value {
        self.next_data("rideStatus").await
    }

    /// Expects the next ride to have `status`; returns it.
    pub async fn expect_status(&mut self, status: &str) -> Value {
        let ride = self.next_ride().await;
        assert_eq!(ride["status"], status, "ride: {ride}");
        ride
    }

    /// Expects the server to end the stream.
    pub async fn expect_complete(&mut self) {
        let event = self.next_event().await;
        assert_eq!(event, Event::Complete, "expected the stream to complete");
    }

    /// What the next event came to: the payload of a result, or the code of
    /// an error (sent as an error message or as a result with errors).
    pub async fn outcome(&mut self) -> Result<Value, String> {
        let errors = match self.next_event().await {
            Event::Next(payload) if payload.get("errors").is_none() => return Ok(payload),
            Event::Next(payload) => payload["errors"].clone(),
            Event::Error(payload) => payload,
            other => panic!("expected a result or an error, got {other:?}"),
        };
        let first = if errors.is_array() {
            errors[0].clone()
        } else {
            errors
        };
        Err(first["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no code in {first}"))
            .to_owned())
    }

    /// Expects the subscription to fail; returns the error's code.
    pub async fn expect_error_code(&mut self) -> String {
        match self.outcome().await {
            Err(code) => code,
            Ok(payload) => panic!("expected an error, got {payload}"),
        }
    }
}
