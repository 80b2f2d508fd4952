//! GraphQL subscriptions over WebSocket, with the limits a public service needs.
//!
//! async-graphql speaks both subprotocols; this module wraps its connection
//! loop with what it lacks:
//! - a cap on connections per instance (beyond it: HTTP 503 before upgrading);
//! - a cap on subscriptions per connection (beyond it: an `error` message
//!   for that subscription, code `TOO_MANY_REQUESTS`);
//! - a `connection_init` deadline (close code 4408, as graphql-ws defines);
//! - server-side keep-alive: a WebSocket ping every `keepalive`; a peer
//!   silent for two intervals is closed (1001), so half-open sockets go;
//! - authentication from the `connection_init` payload (close 4403 with
//!   graphql-transport-ws, `connection_error` with the legacy protocol);
//! - a proper close frame (1001) when the service shuts down.
//!
//! Each socket reads into a 4 KiB buffer (axum's default of 128 KiB would
//! dominate an idle subscriber's memory). Outgoing messages pass through one
//! small channel to a writer loop that owns the socket's sink.

use std::{
    collections::HashSet,
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc, Mutex, PoisonError,
    },
    time::{Duration, Instant},
};

use async_graphql::{
    futures_util::stream::BoxStream, http::ALL_WEBSOCKET_PROTOCOLS, Data, Executor,
};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::{
    extract::{
        ws::{CloseFrame, Message, WebSocket},
        State, WebSocketUpgrade,
    },
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use futures_channel::mpsc;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::AppState;
use crate::{
    auth::{caller_from, Verifier},
    error::{codes::TOO_MANY_REQUESTS, Error},
    telemetry,
};

const READ_BUFFER: usize = 1024;
/// Messages waiting for the writer; a slow client holds back its own
/// subscriptions, never the publishers.
const OUTBOX: usize = 8;

/// WebSocket limits.
#[derive(Debug, Clone, Copy)]
pub struct WsLimits {
    pub max_connections: usize,
    pub max_subscriptions: usize,
    pub init_timeout: Duration,
    pub keepalive: Duration,
}

/// Counts this instance's open sockets.
#[derive(Debug, Default)]
pub struct Connections {
    open: AtomicUsize,
}

/// One counted connection; uncounted on drop.
struct Slot(Arc<Connections>);

impl Slot {
    fn take(connections: &Arc<Connections>, max: usize) -> Option<Self> {
        let taken = connections
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .is_ok();
        taken.then(|| {
            metrics::gauge!(telemetry::WS_CONNECTIONS).increment(1.0);
            Self(connections.clone())
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
        metrics::gauge!(telemetry::WS_CONNECTIONS).decrement(1.0);
    }
}

/// `GET /ws`.
pub async fn subscriptions(
    State(state): State<AppState>,
    headers: HeaderMap,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    // The subprotocol async-graphql picks: the first one the client lists
    // that it speaks.
    let legacy = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .find(|p| *p == "graphql-ws" || *p == "graphql-transport-ws")
        == Some("graphql-ws");
    let Some(slot) = Slot::take(&state.connections, state.ws_limits.max_connections) else {
        let error =
            Error::TooManyRequests("too many WebSocket connections; try again later".into());
        return (StatusCode::SERVICE_UNAVAILABLE, super::error_body(&error)).into_response();
    };
    upgrade
        .read_buffer_size(READ_BUFFER)
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| serve(socket, state, protocol, legacy, slot))
}

/// The subscriptions a connection holds, by the client's ids.
#[derive(Default)]
struct Active {
    ids: Mutex<HashSet<String>>,
}

impl Active {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.ids.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn remove(&self, id: &str) {
        if self.lock().remove(id) {
            metrics::gauge!(telemetry::SUBSCRIPTIONS).decrement(1.0);
        }
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        let n = self.ids.get_mut().map(|ids| ids.len()).unwrap_or(0);
        metrics::gauge!(telemetry::SUBSCRIPTIONS).decrement(n as f64);
    }
}

/// What a client message is, as far as the limits care: its type and id.
fn kind_and_id(message: &Message) -> Option<(String, Option<String>)> {
    /// Only the envelope: the payload (a whole batch of positions, maybe)
    /// is skipped without building a tree.
    #[derive(serde::Deserialize)]
    struct Envelope {
        #[serde(rename = "type")]
        kind: String,
        id: Option<String>,
    }
    let bytes: &[u8] = match message {
        Message::Text(text) => text.as_bytes(),
        Message::Binary(bytes) => bytes,
        _ => return None,
    };
    let envelope: Envelope = serde_json::from_slice(bytes).ok()?;
    Some((envelope.kind, envelope.id))
}

async fn serve(
    socket: WebSocket,
    state: AppState,
    protocol: GraphQLProtocol,
    legacy: bool,
    slot: Slot,
) {
    let _slot = slot;
    let limits = state.ws_limits;
    let (mut sink, stream) = socket.split();
    // futures' channel allocates per queued message, not a block of slots
    // up front: an idle subscriber holds next to nothing here.
    let (outbox, mut outgoing) = mpsc::channel::<Message>(OUTBOX);
    let mut refusals = outbox.clone();
    // One allocation for everything the two halves share.
    let shared = Arc::new(Shared {
        active: Active::default(),
        initialised: AtomicBool::new(false),
        refused: AtomicBool::new(false),
        last_heard: Mutex::new(Instant::now()),
    });

    // Watch what the client sends: note it is alive, count subscriptions,
    // refuse those beyond the limit.
    let input = {
        let shared = shared.clone();
        stream.filter_map(move |message| {
            let active = &shared.active;
            *shared.last_heard.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
            let forward = match &message {
                Ok(m @ (Message::Text(_) | Message::Binary(_))) => match kind_and_id(m) {
                    Some((kind, Some(id))) if kind == "subscribe" || kind == "start" => {
                        let mut ids = active.lock();
                        if ids.len() >= limits.max_subscriptions && !ids.contains(&id) {
                            let error = json!([{"message": format!("at most {} subscriptions per connection", limits.max_subscriptions), "extensions": {"code": TOO_MANY_REQUESTS}}]);
                            let reply = if legacy {
                                json!({"type": "error", "id": id, "payload": error[0]})
                            } else {
                                json!({"type": "error", "id": id, "payload": error})
                            };
                            let _ = refusals.try_send(Message::Text(reply.to_string().into()));
                            false
                        } else {
                            if ids.insert(id) {
                                metrics::gauge!(telemetry::SUBSCRIPTIONS).increment(1.0);
                            }
                            true
                        }
                    }
                    Some((kind, Some(id))) if kind == "complete" || kind == "stop" => {
                        active.remove(&id);
                        true
                    }
                    _ => true,
                },
                Ok(_) => false,
                Err(_) => true,
            };
            futures_util::future::ready(forward.then_some(message))
        })
    };

    let verifier: Option<Verifier> = state.verifier.clone();
    let flags = shared.clone();
    let executor = Spread {
        schema: state.schema.clone(),
        parsed: state.parsed.clone(),
    };
    let connection = GraphQLWebSocket::new_with_pair(outbox, input, executor, protocol)
        .on_connection_init(move |payload| async move {
            let caller = caller_from(verifier.as_ref(), authorization(&payload).as_deref())
                .map_err(|e| {
                    flags.refused.store(true, Ordering::Release);
                    async_graphql::Error::new(e.to_string())
                })?;
            flags.initialised.store(true, Ordering::Release);
            let mut data = Data::default();
            data.insert(caller);
            Ok(data)
        })
        .serve();

    let writer = write_loop(
        &mut sink,
        &mut outgoing,
        &shared,
        limits,
        state.shutdown.clone(),
    );
    tokio::pin!(writer);
    let mut connection = Box::pin(connection);
    tokio::select! {
        _ = &mut connection => {}
        _ = &mut writer => return,
    }
    // The protocol loop ended (the client left, or async-graphql closed the
    // connection itself). Dropping it drops its senders, so the writer sends
    // what is still queued and then stops.
    drop(connection);
    writer.await;
}

/// Runs the queries and mutations that arrive over a socket on tasks of
/// their own, so several in flight on one socket (a batch uploader) use
/// every core; subscriptions stay on the connection's task, so an idle
/// subscriber costs no task of its own.
#[derive(Clone)]
struct Spread {
    schema: crate::api::TrackingSchema,
    parsed: Arc<crate::api::parsed::ParsedQueries>,
}

impl Executor for Spread {
    async fn execute(&self, request: async_graphql::Request) -> async_graphql::Response {
        self.schema.execute(request).await
    }

    fn execute_stream(
        &self,
        request: async_graphql::Request,
        session: Option<Arc<Data>>,
    ) -> BoxStream<'static, async_graphql::Response> {
        let (request, subscription) = self.parsed.prepare(request);
        let session = session.unwrap_or_default();
        if subscription {
            return self
                .schema
                .execute_stream_with_session_data(request, session);
        }
        let schema = self.schema.clone();
        let run = tokio::spawn(async move {
            schema
                .execute_stream_with_session_data(request, session)
                .collect::<Vec<_>>()
                .await
        });
        futures_util::stream::once(run)
            .flat_map(|done| futures_util::stream::iter(done.unwrap_or_default()))
            .boxed()
    }
}

/// What the reader side, the protocol loop and the writer share.
struct Shared {
    /// Subscriptions held, by the client's ids.
    active: Active,
    /// `connection_init` was accepted.
    initialised: AtomicBool,
    /// `connection_init` carried a token that failed verification.
    refused: AtomicBool,
    /// When the client last sent anything (pongs included).
    last_heard: Mutex<Instant>,
}

/// Writes queued messages; pings; closes on init timeout, silence or shutdown.
async fn write_loop(
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    outgoing: &mut mpsc::Receiver<Message>,
    shared: &Shared,
    limits: WsLimits,
    shutdown: CancellationToken,
) {
    let Shared {
        active,
        initialised,
        refused,
        last_heard,
    } = shared;
    let init_deadline = tokio::time::sleep(limits.init_timeout);
    tokio::pin!(init_deadline);
    let mut init_checked = false;
    let mut ping = tokio::time::interval_at(
        tokio::time::Instant::now() + limits.keepalive,
        limits.keepalive,
    );
    let close = |code: u16, reason: &'static str| {
        Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }))
    };
    loop {
        let message = tokio::select! {
            message = outgoing.next() => match message {
                Some(message) => message,
                None => return,
            },
            _ = &mut init_deadline, if !init_checked => {
                init_checked = true;
                if initialised.load(Ordering::Acquire) {
                    continue;
                }
                close(4408, "Connection initialisation timeout")
            }
            _ = ping.tick() => {
                let silent = last_heard.lock().unwrap_or_else(PoisonError::into_inner).elapsed();
                if silent > limits.keepalive * 2 {
                    close(1001, "keep-alive timeout")
                } else {
                    Message::Ping(Default::default())
                }
            }
            _ = shutdown.cancelled() => close(1001, "server shutting down"),
        };
        // A subscription the server ended no longer counts against the
        // limit; only such messages are parsed.
        let ends = matches!(&message, Message::Text(t)
            if t.as_str().contains(r#""type":"complete""#) || t.as_str().contains(r#""type":"error""#));
        if let (true, Some((_, Some(id)))) = (ends, kind_and_id(&message)) {
            active.remove(&id);
        }
        // async-graphql closes a refused connection_init with 1002; graphql-ws
        // clients expect 4403 (Forbidden) for a bad token.
        let message = match message {
            Message::Close(Some(frame))
                if frame.code == 1002 && refused.load(Ordering::Acquire) =>
            {
                Message::Close(Some(CloseFrame {
                    code: 4403,
                    reason: frame.reason,
                }))
            }
            other => other,
        };
        let closing = matches!(message, Message::Close(_));
        if sink.send(message).await.is_err() || closing {
            return;
        }
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
