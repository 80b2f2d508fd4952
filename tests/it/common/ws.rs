//! A real WebSocket GraphQL client speaking either subprotocol.

use std::net::SocketAddr;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    tungstenite::{client::IntoClientRequest, http::HeaderValue, Message},
    MaybeTlsStream, WebSocketStream,
};

use super::{within, PATIENCE};

/// The two GraphQL-over-WebSocket subprotocols clients use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `graphql-transport-ws`: graphql-ws, Apollo's current link.
    TransportWs,
    /// `graphql-ws`: the legacy subscriptions-transport-ws protocol.
    LegacyWs,
}

impl Protocol {
    pub const ALL: [Protocol; 2] = [Protocol::TransportWs, Protocol::LegacyWs];

    fn name(self) -> &'static str {
        match self {
            Self::TransportWs => "graphql-transport-ws",
            Self::LegacyWs => "graphql-ws",
        }
    }
}

/// What the server sent for the subscription.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A result: `{"data": …}` or `{"errors": …}`.
    Next(Value),
    /// The server ended the stream.
    Complete,
    /// The server refused or failed the subscription.
    Error(Value),
    /// The socket closed: with the close frame's code, or `None` when it
    /// ended without a close frame (reset, EOF).
    Closed(Option<u16>),
}

/// One subscription on its own socket.
pub struct Subscription {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    protocol: Protocol,
}

impl Subscription {
    /// Connects, initialises the connection and subscribes.
    pub async fn start(
        addr: SocketAddr,
        protocol: Protocol,
        query: &str,
        variables: Value,
    ) -> Self {
        Self::start_with_init(addr, protocol, json!({}), query, variables).await
    }

    /// Like [`Subscription::start`] with a `connection_init` payload.
    pub async fn start_with_init(
        addr: SocketAddr,
        protocol: Protocol,
        init: Value,
        query: &str,
        variables: Value,
    ) -> Self {
        let mut socket = Self::connect(addr, protocol).await;
        socket
            .send(Message::text(
                json!({"type": "connection_init", "payload": init}).to_string(),
            ))
            .await
            .expect("send connection_init");
        let mut sub = Self { socket, protocol };
        loop {
            let message = sub
                .receive()
                .await
                .unwrap_or_else(|code| panic!("closed ({code:?}) instead of connection_ack"));
            match message["type"].as_str() {
                Some("connection_ack") => break,
                Some("ka") | Some("ping") => continue,
                _ => panic!("expected connection_ack, got {message}"),
            }
        }
        let kind = match protocol {
            Protocol::TransportWs => "subscribe",
            Protocol::LegacyWs => "start",
        };
        sub.socket
            .send(Message::text(
                json!({"id": "1", "type": kind, "payload": {"query": query, "variables": variables}}).to_string(),
            ))
            .await
            .expect("send subscribe");
        sub
    }

    /// Opens the socket with the subprotocol header only.
    pub async fn connect(
        addr: SocketAddr,
        protocol: Protocol,
    ) -> WebSocketStream<MaybeTlsStream<TcpStream>> {
        let mut request = format!("ws://{addr}/ws")
            .into_client_request()
            .expect("request");
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static(protocol.name()),
        );
        let (socket, response) = within(
            PATIENCE,
            "the WebSocket handshake",
            tokio_tungstenite::connect_async(request),
        )
        .await
        .expect("WebSocket handshake");
        assert_eq!(
            response
                .headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok()),
            Some(protocol.name()),
            "the server must pick the subprotocol we asked for"
        );
        socket
    }

    /// The next JSON message, answering pings; `Err` with the close code
    /// once the socket closes.
    async fn receive(&mut self) -> Result<Value, Option<u16>> {
        loop {
            let message = within(PATIENCE, "a WebSocket message", self.socket.next()).await;
            match message {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(&text).expect("JSON message");
                    if value["type"] == "ping" {
                        let _ = self
                            .socket
                            .send(Message::text(json!({"type": "pong"}).to_string()))
                            .await;
                        continue;
                    }
                    if value["type"] == "ka" {
                        continue;
                    }
                    return Ok(value);
                }
                Some(Ok(Message::Close(frame))) => return Err(frame.map(|f| u16::from(f.code))),
                None | Some(Err(_)) => return Err(None),
                Some(Ok(_)) => continue,
            }
        }
    }

    /// The next event of the subscription.
    pub async fn next_event(&mut self) -> Event {
        let message = match self.receive().await {
            Ok(message) => message,
            Err(code) => return Event::Closed(code),
        };
        match (self.protocol, message["type"].as_str()) {
            (Protocol::TransportWs, Some("next")) | (Protocol::LegacyWs, Some("data")) => {
                Event::Next(message["payload"].clone())
            }
            (_, Some("complete")) => Event::Complete,
            (_, Some("error")) => Event::Error(message["payload"].clone()),
            _ => panic!("unexpected message {message}"),
        }
    }

    /// The next ride pushed by `rideStatus`; fails on anything else.
    pub async fn next_ride(&mut self) -> Value {
        match self.next_event().await {
            Event::Next(payload) => {
                assert!(payload.get("errors").is_none(), "errors in {payload}");
                payload["data"]["rideStatus"].clone()
            }
            other => panic!("expected a ride, got {other:?}"),
        }
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

    /// Expects the subscription to fail; returns the error's code.
    pub async fn expect_error_code(&mut self) -> String {
        let errors = match self.next_event().await {
            Event::Error(payload) => payload,
            Event::Next(payload) if payload.get("errors").is_some() => payload["errors"].clone(),
            other => panic!("expected an error, got {other:?}"),
        };
        let first = if errors.is_array() {
            errors[0].clone()
        } else {
            errors
        };
        first["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no code in {first}"))
            .to_owned()
    }
}
