//! Subscriptions over a WebSocket: `graphql-transport-ws` (graphql-ws's
//! protocol, the default) or the legacy `graphql-ws`
//! (subscriptions-transport-ws), one subscription per socket.

use std::marker::PhantomData;

use futures_util::{SinkExt, StreamExt};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    tungstenite::{client::IntoClientRequest, http::HeaderValue, Message},
    MaybeTlsStream, WebSocketStream,
};

use crate::{documents, Client, Driver, Error, FeedEvent, FleetEvent, GraphQLError, Result, Ride};

/// A WebSocket as [`Subscription::connect`] opens it.
pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The two GraphQL-over-WebSocket subprotocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `graphql-transport-ws`: graphql-ws, Apollo's current link.
    TransportWs,
    /// `graphql-ws`: the legacy subscriptions-transport-ws protocol.
    LegacyWs,
}

impl Protocol {
    /// Both, for code that must work with either.
    pub const ALL: [Protocol; 2] = [Protocol::TransportWs, Protocol::LegacyWs];

    /// The `Sec-WebSocket-Protocol` value.
    pub fn name(self) -> &'static str {
        match self {
            Self::TransportWs => "graphql-transport-ws",
            Self::LegacyWs => "graphql-ws",
        }
    }
}

/// What the server sent for a subscription.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A result: `{"data": …}` or `{"errors": …}`.
    Next(Value),
    /// The server ended the stream.
    Complete,
    /// The server refused or failed the subscription.
    Error(Value),
    /// The socket closed: with its close code, or `None` without a close
    /// frame.
    Closed(Option<u16>),
}

/// One subscription, on a socket of its own.
pub struct Subscription {
    socket: Socket,
    protocol: Protocol,
}

impl Client {
    /// Opens a socket, initialises it (with the token) and subscribes.
    pub async fn subscribe(&self, query: &str, variables: Value) -> Result<Subscription> {
        self.subscribe_with(Protocol::TransportWs, query, variables)
            .await
    }

    /// Like [`Client::subscribe`], over a chosen subprotocol.
    pub async fn subscribe_with(
        &self,
        protocol: Protocol,
        query: &str,
        variables: Value,
    ) -> Result<Subscription> {
        let init = match self.token() {
            Some(token) => json!({"authorization": format!("Bearer {token}")}),
            None => json!({}),
        };
        Subscription::open(&self.ws_url(), protocol, init, query, variables).await
    }

    /// A ride as it is now, then at every status change (`rideStatus`).
    pub async fn ride_status(&self, ride: &str) -> Result<Updates<Ride>> {
        Ok(Updates::new(
            self.subscribe(&documents::RIDE_STATUS, json!({"id": ride}))
                .await?,
            "rideStatus",
        ))
    }

    /// The assigned driver of a ride at every move (`driverLocation`).
    pub async fn driver_location(&self, ride: &str) -> Result<Updates<Driver>> {
        Ok(Updates::new(
            self.subscribe(&documents::DRIVER_LOCATION, json!({"id": ride}))
                .await?,
            "driverLocation",
        ))
    }

    /// A driver's own feed (`driverFeed`): its state, then each offer, each
    /// offer's end, each change of its ride.
    pub async fn driver_feed(&self, driver: &str) -> Result<Updates<FeedEvent>> {
        Ok(Updates::new(
            self.subscribe(&documents::DRIVER_FEED, json!({"d": driver}))
                .await?,
            "driverFeed",
        ))
    }

    /// Everything moving in an area (`fleet`, dispatchers only).
    pub async fn fleet(&self, lat: f64, lng: f64, radius_km: f64) -> Result<Updates<FleetEvent>> {
        Ok(Updates::new(
            self.subscribe(
                &documents::FLEET,
                json!({"lat": lat, "lng": lng, "r": radius_km}),
            )
            .await?,
            "fleet",
        ))
    }
}

impl Subscription {
    /// Connects to `ws_url`, sends `connection_init` with `init` as its
    /// payload, waits for the ack, and subscribes.
    pub async fn open(
        ws_url: &str,
        protocol: Protocol,
        init: Value,
        query: &str,
        variables: Value,
    ) -> Result<Self> {
        let mut socket = Self::connect(ws_url, protocol).await?;
        send(
            &mut socket,
            json!({"type": "connection_init", "payload": init}),
        )
        .await?;
        let mut sub = Self { socket, protocol };
        loop {
            let message = sub.receive().await?;
            match message["type"].as_str() {
                Some("connection_ack") => break,
                Some("ka") | Some("ping") => continue,
                Some("connection_error") => {
                    return Err(Error::GraphQL(vec![GraphQLError {
                        message: message["payload"]["message"]
                            .as_str()
                            .unwrap_or("connection refused")
                            .to_owned(),
                        extensions: message["payload"]["extensions"].clone(),
                    }]))
                }
                _ => {
                    return Err(Error::Unexpected(format!(
                        "expected connection_ack, got {message}"
                    )))
                }
            }
        }
        let kind = match protocol {
            Protocol::TransportWs => "subscribe",
            Protocol::LegacyWs => "start",
        };
        send(
            &mut sub.socket,
            json!({"id": "1", "type": kind, "payload": {"query": query, "variables": variables}}),
        )
        .await?;
        Ok(sub)
    }

    /// Opens the socket with the subprotocol header only (nothing sent).
    pub async fn connect(ws_url: &str, protocol: Protocol) -> Result<Socket> {
        let mut request = ws_url
            .into_client_request()
            .map_err(|e| Error::Transport(e.to_string()))?;
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static(protocol.name()),
        );
        let (socket, response) = tokio_tungstenite::connect_async(request)
            .await
            .map_err(|e| Error::Transport(e.to_string()))?;
        let chosen = response
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok());
        if chosen != Some(protocol.name()) {
            return Err(Error::Unexpected(format!(
                "the server chose subprotocol {chosen:?}, not {}",
                protocol.name()
            )));
        }
        Ok(socket)
    }

    /// The next JSON message, answering the protocol's pings; `Err(Closed)`
    /// once the socket closes.
    async fn receive(&mut self) -> Result<Value> {
        loop {
            match self.socket.next().await {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(&text)
                        .map_err(|e| Error::Unexpected(format!("not JSON: {e}")))?;
                    match value["type"].as_str() {
                        Some("ping") => {
                            send(&mut self.socket, json!({"type": "pong"})).await?;
                        }
                        Some("ka") => {}
                        _ => return Ok(value),
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    return Err(Error::Closed(frame.map(|f| u16::from(f.code))))
                }
                None | Some(Err(_)) => return Err(Error::Closed(None)),
                Some(Ok(_)) => {}
            }
        }
    }

    /// The next event of the subscription.
    pub async fn next_event(&mut self) -> Event {
        let message = match self.receive().await {
            Ok(message) => message,
            Err(Error::Closed(code)) => return Event::Closed(code),
            Err(error) => return Event::Error(Value::String(error.to_string())),
        };
        match (self.protocol, message["type"].as_str()) {
            (Protocol::TransportWs, Some("next")) | (Protocol::LegacyWs, Some("data")) => {
                Event::Next(message["payload"].clone())
            }
            (_, Some("complete")) => Event::Complete,
            (_, Some("error")) => Event::Error(message["payload"].clone()),
            _ => Event::Error(message),
        }
    }

    /// Stops the subscription (the client's `complete`, or `stop`).
    pub async fn stop(&mut self) -> Result<()> {
        let kind = match self.protocol {
            Protocol::TransportWs => "complete",
            Protocol::LegacyWs => "stop",
        };
        send(&mut self.socket, json!({"id": "1", "type": kind})).await
    }
}

async fn send(socket: &mut Socket, message: Value) -> Result<()> {
    socket
        .send(Message::text(message.to_string()))
        .await
        .map_err(|e| Error::Transport(e.to_string()))
}

/// A subscription's results, typed: `T` from `data.<field>` of each event.
pub struct Updates<T> {
    subscription: Subscription,
    field: &'static str,
    item: PhantomData<T>,
}

impl<T: DeserializeOwned> Updates<T> {
    fn new(subscription: Subscription, field: &'static str) -> Self {
        Self {
            subscription,
            field,
            item: PhantomData,
        }
    }

    /// The next result; `None` when the server completed the stream.
    pub async fn next(&mut self) -> Result<Option<T>> {
        match self.subscription.next_event().await {
            Event::Next(payload) => {
                if let Some(errors) = payload.get("errors") {
                    let errors: Vec<GraphQLError> = serde_json::from_value(errors.clone())
                        .map_err(|e| Error::Unexpected(e.to_string()))?;
                    return Err(Error::GraphQL(errors));
                }
                serde_json::from_value(payload["data"][self.field].clone())
                    .map(Some)
                    .map_err(|e| Error::Unexpected(format!("{}: {e}", self.field)))
            }
            Event::Complete => Ok(None),
            Event::Error(payload) => {
                let errors = if payload.is_array() {
                    payload
                } else {
                    Value::Array(vec![payload])
                };
                Err(Error::GraphQL(
                    serde_json::from_value(errors).unwrap_or_default(),
                ))
            }
            Event::Closed(code) => Err(Error::Closed(code)),
        }
    }

    /// The subscription underneath.
    pub fn raw(&mut self) -> &mut Subscription {
        &mut self.subscription
    }
}
