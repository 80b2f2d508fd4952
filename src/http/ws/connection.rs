//! One WebSocket, from upgrade to close: a single task reads the client's
//! messages, runs its operations, writes their results, pings, and closes
//! the socket with the right code when a limit or a deadline is hit.
//!
//! Before `connection_init` is accepted nothing but the message's type is
//! read: any other message closes the socket (4401) unparsed. A message or
//! frame over the size cap closes it (1009) before it is buffered whole
//! (tungstenite refuses it from its header). A slow reader holds back only
//! its own socket: while a write waits, this task reads nothing and its
//! subscriptions' channels skip ahead (they are bounded).

use std::{sync::Arc, time::Duration};

use async_graphql::Data;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::StreamExt;
use serde_json::Value;
use tokio::time::{Instant, Interval};
use tracing::debug;

use super::{
    limits::Pending,
    operations::{Operations, Output},
    protocol::{self, close, ClientMessage, Protocol},
    shared::{Payload, SharedSubscriptions},
};
use crate::{
    api::{
        limits::{record_operation, record_outcome},
        prepare::Kind,
    },
    auth::{session_from, Caller, Role},
    domain::error::codes,
    http::AppState,
    telemetry,
};

/// Queries and mutations one socket may have running at once; past this the
/// socket is not read until one finishes.
const MAX_QUERIES_IN_FLIGHT: usize = 16;
/// Subscribes refused in a row (the socket at its cap) before the client is
/// taken to be misbehaving and closed (4429).
const REFUSALS_BEFORE_CLOSE: usize = 10;

/// Why the loop stopped.
enum End {
    /// Close the socket with this code and reason.
    Close(u16, String),
    /// The client is gone (or closed): nothing more to send.
    Gone,
}

/// Counts open WebSockets while it lives.
struct Open;

impl Open {
    fn new() -> Self {
        metrics::gauge!(telemetry::WS_CONNECTIONS).increment(1.0);
        Self
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        metrics::gauge!(telemetry::WS_CONNECTIONS).decrement(1.0);
    }
}

struct Connection {
    socket: WebSocket,
    protocol: Protocol,
    state: AppState,
    operations: Operations,
    /// `Some` once `connection_init` was accepted.
    session: Option<Arc<Data>>,
    /// Whether the caller may watch the fleet (a dispatcher, or no tokens
    /// at all): only such sockets join shared live maps.
    watches_fleet: bool,
    /// Held until `connection_init` is accepted (the pending-init cap).
    pending: Option<Pending>,
    refused_in_a_row: usize,
    last_heard: Instant,
    /// When the token of `connection_init` expires: the socket closes then.
    expires: Option<Instant>,
}

/// Serves one upgraded socket until it closes.
pub(super) async fn run(socket: WebSocket, state: AppState, protocol: Protocol, pending: Pending) {
    let _open = Open::new();
    let limits = state.live.ws_limits;
    let cut = state.lifecycle.cut.clone();
    let mut connection = Connection {
        socket,
        protocol,
        state,
        operations: Operations::default(),
        session: None,
        watches_fleet: false,
        pending: Some(pending),
        refused_in_a_row: 0,
        last_heard: Instant::now(),
        expires: None,
    };
    let end = tokio::select! {
        end = connection.serve(limits.init_timeout, limits.keepalive) => end,
        _ = cut.cancelled() => End::Gone,
    };
    if let End::Close(code, reason) = end {
        debug!(code, %reason, "closing a WebSocket");
        // Every close goes out here, so every reason is cut to fit here.
        let frame = Message::Close(Some(CloseFrame {
            code,
            reason: close::reason(&reason).into(),
        }));
        // Bounded: a client that reads nothing cannot hold the task.
        let _ = tokio::time::timeout(Duration::from_secs(1), connection.socket.send(frame)).await;
    }
}

impl Connection {
    async fn serve(&mut self, init_timeout: Duration, keepalive: Duration) -> End {
        let init_deadline = tokio::time::sleep(init_timeout);
        tokio::pin!(init_deadline);
        let mut ping = keepalive_timer(keepalive);
        let closing = self.state.lifecycle.shutdown.clone();
        loop {
            let reading = self.operations.queries() < MAX_QUERIES_IN_FLIGHT;
            let expiry = async {
                match self.expires {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            let step = tokio::select! {
                _ = expiry => Err(End::Close(close::FORBIDDEN, "token expired".into())),
                message = self.socket.recv(), if reading => self.on_message(message).await,
                output = self.operations.next() => self.on_output(output).await,
                _ = &mut init_deadline, if self.session.is_none() => {
                    Err(End::Close(close::INIT_TIMEOUT, "Connection initialisation timeout".into()))
                }
                _ = ping.tick() => {
                    if self.last_heard.elapsed() > keepalive * 2 {
                        Err(End::Close(close::GOING_AWAY, "keep-alive timeout".into()))
                    } else {
                        self.send(Message::Ping(Default::default())).await
                    }
                }
                _ = closing.cancelled() => {
                    Err(End::Close(close::GOING_AWAY, "server shutting down".into()))
                }
            };
            if let Err(end) = step {
                return end;
            }
        }
    }

    async fn send(&mut self, message: Message) -> Result<(), End> {
        self.socket.send(message).await.map_err(|_| End::Gone)
    }

    async fn send_text(&mut self, text: String) -> Result<(), End> {
        self.send(Message::Text(text.into())).await
    }

    async fn on_message(
        &mut self,
        message: Option<Result<Message, axum::Error>>,
    ) -> Result<(), End> {
        let message = match message {
            None => return Err(End::Gone),
            Some(Err(error)) => return Err(read_error(error)),
            Some(Ok(message)) => message,
        };
        self.last_heard = Instant::now();
        let binary;
        let text: &str = match &message {
            Message::Text(text) => text.as_str(),
            Message::Binary(bytes) => {
                binary = bytes.clone();
                match std::str::from_utf8(&binary) {
                    Ok(text) => text,
                    Err(_) => {
                        return Err(End::Close(
                            close::BAD_REQUEST,
                            "messages are UTF-8 JSON".into(),
                        ))
                    }
                }
            }
            Message::Close(_) => return Err(End::Gone),
            Message::Ping(_) | Message::Pong(_) => return Ok(()),
        };
        if self.session.is_none() {
            // Before the handshake only the type is read; anything but
            // connection_init (or a ping) ends the socket unparsed.
            match protocol::message_type(text).as_deref() {
                Some("connection_init") | Some("ping") | Some("pong") => {}
                _ => return Err(End::Close(close::UNAUTHORIZED, "Unauthorized".into())),
            }
        }
        let message = match protocol::parse(self.protocol, text) {
            Ok(message) => message,
            Err(reason) => return Err(End::Close(close::BAD_REQUEST, reason)),
        };
        match message {
            ClientMessage::Init { payload } => {
                let payload = payload.and_then(|p| serde_json::from_str::<Value>(p.get()).ok());
                self.on_init(payload).await
            }
            ClientMessage::Subscribe { id, payload } => {
                let request = serde_json::from_str::<async_graphql::Request>(payload.get());
                match request {
                    Ok(request) => self.on_subscribe(id.into(), request).await,
                    Err(error) => Err(End::Close(
                        close::BAD_REQUEST,
                        format!("invalid subscribe payload: {error}"),
                    )),
                }
            }
            ClientMessage::Complete { id } => {
                if self.operations.stop(&id) {
                    self.refused_in_a_row = 0;
                    let complete = self.protocol.complete(&id);
                    self.send_text(complete).await?;
                }
                Ok(())
            }
            ClientMessage::Ping { payload } => {
                let pong = self.protocol.pong(payload);
                self.send_text(pong).await
            }
            ClientMessage::Pong => Ok(()),
            ClientMessage::Terminate => Err(End::Close(1000, "terminated".into())),
        }
    }

    async fn on_init(&mut self, payload: Option<Value>) -> Result<(), End> {
        if self.session.is_some() {
            return match self.protocol {
                Protocol::TransportWs => Err(End::Close(
                    close::TOO_MANY,
                    "Too many initialisation requests".into(),
                )),
                // The legacy protocol says nothing of a second init.
                Protocol::LegacyWs => Ok(()),
            };
        }
        let payload = payload.unwrap_or_default();
        match session_from(
            self.state.verifier.as_ref(),
            authorization(&payload).as_deref(),
        )
        .await
        {
            Ok(session) => {
                // The socket's rights end with its token's: closed then.
                self.expires = session
                    .remaining()
                    .and_then(|left| Instant::now().checked_add(left));
                let mut data = Data::default();
                self.watches_fleet = matches!(
                    session.caller,
                    Caller::Open
                        | Caller::Token {
                            role: Role::Dispatcher,
                            ..
                        }
                );
                data.insert::<Caller>(session.caller);
                self.session = Some(Arc::new(data));
                self.pending = None;
                let ack = self.protocol.ack();
                self.send_text(ack).await
            }
            Err(error) => match self.protocol {
                Protocol::TransportWs => Err(End::Close(close::FORBIDDEN, error.to_string())),
                Protocol::LegacyWs => {
                    let refusal = self
                        .protocol
                        .connection_error(&error.to_string(), error.code());
                    self.send_text(refusal).await?;
                    Err(End::Close(close::FORBIDDEN, error.to_string()))
                }
            },
        }
    }

    async fn on_subscribe(
        &mut self,
        id: Arc<str>,
        request: async_graphql::Request,
    ) -> Result<(), End> {
        if self.operations.has(&id) {
            return match self.protocol {
                Protocol::TransportWs => Err(End::Close(
                    close::DUPLICATE_ID,
                    format!("Subscriber for {id} already exists"),
                )),
                // Legacy clients restart an id: the old one gives way.
                Protocol::LegacyWs => {
                    self.operations.stop(&id);
                    self.start(id, request).await
                }
            };
        }
        self.start(id, request).await
    }

    async fn start(&mut self, id: Arc<str>, request: async_graphql::Request) -> Result<(), End> {
        let Some(session) = self.session.clone() else {
            return Err(End::Close(close::UNAUTHORIZED, "Unauthorized".into()));
        };
        let prepared = match self.state.gate.prepare(request, caller_of(&session)).await {
            Ok(prepared) => prepared,
            Err(refused) => {
                record_operation(refused.label, &refused.response());
                let refusal = self.protocol.errors(&id, &refused.errors);
                return self.send_text(refusal).await;
            }
        };
        let schema = self.state.schemas.of(&prepared).clone();
        if prepared.kind == Kind::Subscription {
            let max = self.state.live.ws_limits.max_subscriptions;
            if self.operations.subscriptions() >= max {
                self.refused_in_a_row += 1;
                if self.refused_in_a_row > REFUSALS_BEFORE_CLOSE {
                    return Err(End::Close(
                        close::TOO_MANY,
                        format!("over {max} subscriptions, again and again"),
                    ));
                }
                let refusal = self.protocol.error(
                    &id,
                    &format!("at most {max} subscriptions per connection"),
                    codes::TOO_MANY_REQUESTS,
                );
                return self.send_text(refusal).await;
            }
            self.refused_in_a_row = 0;
            let label = prepared.label;
            let mut first = true;
            let record = move |payload: &Payload| match (std::mem::take(&mut first), payload) {
                (true, Payload::Own(response)) => record_operation(label, response),
                (true, Payload::First(snapshot)) => record_outcome(label, snapshot.outcome),
                _ => {}
            };
            match prepared.replay {
                Some(replay) if self.watches_fleet && SharedSubscriptions::shares(label) => {
                    let stream = self
                        .state
                        .live
                        .shared
                        .subscribe(schema, session, replay)
                        .inspect(record);
                    self.operations.subscribe(id, stream);
                }
                _ => {
                    let stream = schema
                        .execute_stream_with_session_data(prepared.request, session)
                        .map(Payload::Own)
                        .inspect(record);
                    self.operations.subscribe(id, stream);
                }
            }
        } else {
            let label = prepared.label;
            let request = prepared.request;
            self.operations.run(id, async move {
                let response = schema
                    .execute_stream_with_session_data(request, session)
                    .next()
                    .await
                    .unwrap_or_default();
                record_operation(label, &response);
                response
            });
        }
        Ok(())
    }

    async fn on_output(&mut self, output: Output) -> Result<(), End> {
        match output {
            Output::Next { id, response } => {
                let next = match response {
                    Payload::Own(response) => self.protocol.next(&id, &response),
                    Payload::First(first) => self.protocol.next_json(&id, &first.json),
                    Payload::Shared(json) => self.protocol.next_json(&id, &json),
                };
                self.send_text(next).await
            }
            Output::Ended { id } => {
                self.refused_in_a_row = 0;
                let complete = self.protocol.complete(&id);
                self.send_text(complete).await
            }
            Output::Finished { id, response } => {
                let next = self.protocol.next(&id, &response);
                self.send_text(next).await?;
                let complete = self.protocol.complete(&id);
                self.send_text(complete).await
            }
        }
    }
}

/// Pings every `every`, the first after one interval.
fn keepalive_timer(every: Duration) -> Interval {
    let mut timer = tokio::time::interval_at(Instant::now() + every, every);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    timer
}

/// A read error: a message over the cap closes with 1009; anything else
/// means the socket is broken.
fn read_error(error: axum::Error) -> End {
    let too_big = error
        .into_inner()
        .downcast::<tungstenite::Error>()
        .is_ok_and(|e| matches!(*e, tungstenite::Error::Capacity(_)));
    if too_big {
        End::Close(close::TOO_BIG, "message too big".into())
    } else {
        End::Gone
    }
}

/// The token from a `connection_init` payload: `authorization` (Apollo's
/// convention), `Authorization`, or `headers.Authorization`.
fn authorization(payload: &Value) -> Option<String> {
    let direct = ["authorization", "Authorization"]
        .iter()
        .find_map(|k| payload.get(*k).and_then(Value::as_str));
    let nested = || {
        let headers = payload.get("headers")?;
        ["Authorization", "authorization"]
            .iter()
            .find_map(|k| headers.get(*k).and_then(Value::as_str))
    };
    direct.or_else(nested).map(str::to_owned)
}

/// The caller a socket's `connection_init` established (kept in its
/// session data for the resolvers).
fn caller_of(session: &Data) -> &Caller {
    session
        .get(&std::any::TypeId::of::<Caller>())
        .and_then(|caller| caller.downcast_ref::<Caller>())
        .unwrap_or(&Caller::Anonymous)
}
