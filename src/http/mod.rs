//! HTTP and WebSocket: where requests enter.
//!
//! - `POST /graphql`: queries and mutations (single or batched);
//! - `GET /graphql`: GraphiQL, with subscriptions pointed at `/ws`;
//! - `GET /ws`: subscriptions over `graphql-transport-ws` (graphql-ws,
//!   Apollo's current link) and the legacy `graphql-ws` subprotocol
//!   (subscriptions-transport-ws);
//! - `GET /health`: 200 while the store answers;
//! - the seed's REST API ([`rest`]), as adapters onto the same dispatcher.
//!
//! Nothing here decides anything about rides: it decodes, calls the schema or
//! the dispatcher, and encodes.

mod rest;

use async_graphql::http::{GraphiQLSource, ALL_WEBSOCKET_PROTOCOLS};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::{
    body::Bytes,
    extract::{State, WebSocketUpgrade},
    http::{header, StatusCode},
    response::{Html, IntoResponse, Redirect, Response},
    routing::get,
    Json, Router,
};
use serde_json::json;

use crate::{api::TrackingSchema, dispatch::Dispatcher, error::codes::BAD_USER_INPUT};

/// Read buffer of each WebSocket: subscription messages are small, and
/// axum's 128 KiB default would dominate the memory of an idle subscriber.
const WS_READ_BUFFER: usize = 4 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub schema: TrackingSchema,
    pub dispatcher: Dispatcher,
}

/// The service's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::temporary("/graphql") }))
        .route("/graphql", get(graphiql).post(graphql))
        .route("/ws", get(subscriptions))
        .route("/health", get(health))
        .merge(rest::routes())
        .with_state(state)
}

async fn graphiql() -> Html<String> {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/ws")
            .title("tracking")
            .finish(),
    )
}

/// Executes a GraphQL request. The body is decoded here rather than by
/// async-graphql-axum's extractor so that malformed JSON gets a 400 with a
/// GraphQL-shaped error body and a machine-readable code.
async fn graphql(State(state): State<AppState>, body: Bytes) -> Response {
    let request: async_graphql::BatchRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => {
            return bad_request(format!("request body is not a GraphQL request: {error}"))
        }
    };
    let response = state.schema.execute_batch(request).await;
    Json(response).into_response()
}

async fn subscriptions(
    State(state): State<AppState>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade
        .read_buffer_size(WS_READ_BUFFER)
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| GraphQLWebSocket::new(socket, state.schema, protocol).serve())
}

async fn health(State(state): State<AppState>) -> Response {
    match state.dispatcher.ping().await {
        Ok(()) => Json(json!({"status": "ok"})).into_response(),
        Err(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "error": error.to_string()})),
        )
            .into_response(),
    }
}

/// A 400 whose body looks like a GraphQL error response.
pub(crate) fn bad_request(message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "application/json")],
        Json(json!({"errors": [{"message": message, "extensions": {"code": BAD_USER_INPUT}}]})),
    )
        .into_response()
}
