//! GraphQL over WebSocket (`GET /ws`), both subprotocols, with the limits a
//! public service needs. One concern per file:
//!
//! - [`protocol`]: the messages of `graphql-transport-ws` and the legacy
//!   `graphql-ws`, parsed and written in one place;
//! - [`connection`]: one socket's task: handshake and authentication, the
//!   init deadline, keep-alive pings, shutdown, close codes;
//! - [`operations`]: what a socket runs, and the subscription count taken
//!   from the streams themselves;
//! - [`shared`]: live maps run once for all their subscribers, with their
//!   snapshots resolved once for those who join together ([`firsts`]);
//! - [`limits`]: a socket's limits, and the count of sockets pending init.
//!
//! Here: choosing the subprotocol, and what is checked before upgrading: a
//! cap on sockets that have not finished `connection_init` (each may hold up
//! to a message's worth of memory unauthenticated), and the message-size
//! cap handed to tungstenite. The total number of sockets is the
//! connection cap of [`super::serve`], which counts them with everything
//! else.

mod connection;
mod firsts;
mod limits;
mod operations;
pub mod protocol;
pub mod shared;

use axum::{
    extract::{ws::rejection::WebSocketUpgradeRejection, State, WebSocketUpgrade},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};

use super::AppState;
use crate::domain::error::Error;
use limits::Pending;
pub use limits::{PendingInit, WsLimits};
use protocol::Protocol;

/// Each socket's read buffer (axum's default of 128 KiB would dominate an
/// idle subscriber's memory).
const READ_BUFFER: usize = 1024;

/// What a request to `/ws` that cannot be served is told: the
/// subprotocols, and the transports that need no WebSocket.
const TRANSPORTS: &str = "ask for graphql-transport-ws (graphql-ws, Apollo's GraphQLWsLink) or \
     graphql-ws (the legacy subscriptions-transport-ws) in Sec-WebSocket-Protocol; without a \
     WebSocket, subscribe over HTTP: POST /graphql with Accept: multipart/mixed;subscriptionSpec=1.0 \
     (Apollo Client's HttpLink), or /graphql/stream with Accept: text/event-stream (graphql-sse)";

/// `GET /ws`.
pub async fn subscriptions(
    State(state): State<AppState>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => {
            let error = Error::bad_input(format!(
                "/ws serves GraphQL subscriptions over WebSocket, and this is not a WebSocket \
                 upgrade ({rejection}): {TRANSPORTS}"
            ));
            return (StatusCode::BAD_REQUEST, super::error_body(&error)).into_response();
        }
    };
    if !state.web.cors.admits(&headers) {
        let error =
            Error::Forbidden("this origin may not open WebSockets here (see --cors-origin)".into());
        return (StatusCode::FORBIDDEN, super::error_body(&error)).into_response();
    }
    let offered = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok());
    let Some(protocol) = Protocol::choose(offered) else {
        let error = Error::bad_input(format!("no known subprotocol: {TRANSPORTS}"));
        return (StatusCode::BAD_REQUEST, super::error_body(&error)).into_response();
    };
    let limits = state.live.ws_limits;
    let Some(pending) = Pending::take(&state.live.pending_init, limits.max_pending_init) else {
        let error = Error::TooManyRequests(
            "too many WebSockets waiting for connection_init; try again later".into(),
        );
        return (StatusCode::SERVICE_UNAVAILABLE, super::error_body(&error)).into_response();
    };
    let tasks = state.lifecycle.ws_tasks.clone();
    upgrade
        .read_buffer_size(READ_BUFFER)
        .max_message_size(limits.max_message_bytes)
        .max_frame_size(limits.max_message_bytes)
        .protocols([protocol.name()])
        .on_upgrade(move |socket| {
            tasks.track_future(connection::run(socket, state, protocol, pending))
        })
}
