//! HTTP and WebSocket: where requests enter.
//!
//! - `POST /graphql`, `GET /graphql?query=…`: GraphQL over HTTP
//!   ([`graphql`]), subscriptions included when the client accepts a stream
//!   ([`stream`]: Apollo's multipart protocol, Server-Sent Events);
//! - `GET /graphql` from a browser: GraphiQL ([`graphiql`]), its files under
//!   `/graphiql/` when served locally;
//! - `/graphql/stream`: GraphQL over Server-Sent Events (graphql-sse);
//! - `GET /ws`: subscriptions over `graphql-transport-ws` (graphql-ws,
//!   Apollo's current link) and the legacy `graphql-ws` subprotocol
//!   (subscriptions-transport-ws);
//! - cross-origin access to the GraphQL routes only as configured, and
//!   none to the routes a page reaches without a preflight (`/ws`, the REST
//!   routes) from an origin not listed ([`cors`]);
//! - `GET /`: the dashboard (`/?ride=ID`: the rider view), its modules under
//!   `/dashboard/`, and `GET /config`: the limits clients should know;
//! - `GET /health`, `GET /ready`, `GET /metrics`;
//! - the seed's REST API ([`rest`]), as adapters onto the same dispatcher.
//!
//! Nothing here decides anything about rides: it decodes, calls the schema or
//! the dispatcher, and encodes.

pub mod cors;
pub mod dashboard;
pub mod graphiql;
pub mod graphql;
mod rest;
pub mod serve;
pub mod stream;
pub mod ws;

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use axum::{
    extract::{DefaultBodyLimit, MatchedPath, Request, State},
    http::{header, HeaderMap, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::Instrument;

use crate::{
    api::{prepare::Gate, Schemas},
    auth::{session_from, Caller, Session, Verifier},
    dispatch::Dispatcher,
    error::Error,
    telemetry,
};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub schemas: Schemas,
    pub dispatcher: Dispatcher,
    /// `None`: no key configured, everyone is [`Caller::Open`].
    pub verifier: Option<Verifier>,
    pub ws_limits: ws::WsLimits,
    pub pending_init: Arc<ws::PendingInit>,
    /// The WebSocket tasks, so shutdown can wait for them (within its grace).
    pub ws_tasks: TaskTracker,
    /// Cancelled when the service shuts down (WebSockets close then).
    pub shutdown: CancellationToken,
    /// Cancelled when the shutdown grace is over: whatever still runs stops.
    pub cut: CancellationToken,
    pub metrics: Option<PrometheusHandle>,
    pub max_body_bytes: usize,
    /// Most operations in one JSON batch.
    pub max_batch: usize,
    /// The complexity budget of one request (a batch shares it).
    pub max_complexity: usize,
    /// What every request passes before it runs.
    pub gate: Arc<Gate>,
    /// How often an idle HTTP stream (multipart, SSE) sends a heartbeat.
    pub stream_heartbeat: Duration,
    /// The origins allowed to call the API from a browser.
    pub cors: cors::Origins,
    /// GraphiQL's files, when served locally (`--graphiql-assets`).
    pub graphiql: Option<Arc<graphiql::LocalAssets>>,
    /// The dashboard's base map.
    pub map: dashboard::BaseMap,
    /// Live maps shared by their WebSocket subscribers.
    pub shared: Arc<ws::shared::SharedSubscriptions>,
}

impl AppState {
    /// Who sent a request, from its `Authorization` header.
    async fn session(&self, headers: &HeaderMap) -> Result<Session, Error> {
        let value =
            match headers.get(header::AUTHORIZATION) {
                None => None,
                Some(v) => Some(v.to_str().map_err(|_| {
                    Error::Unauthenticated("unreadable Authorization header".into())
                })?),
            };
        session_from(self.verifier.as_ref(), value).await
    }

    /// Who sent a request.
    async fn caller(&self, headers: &HeaderMap) -> Result<Caller, Error> {
        Ok(self.session(headers).await?.caller)
    }
}

/// The service's routes.
pub fn router(state: AppState) -> Router {
    let limit = state.max_body_bytes;
    let graphql_routes = Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route(
            "/graphql/stream",
            get(stream::sse::get).post(stream::sse::post),
        )
        .layer(middleware::from_fn_with_state(state.clone(), cors::layer));
    Router::new()
        .merge(graphql_routes)
        .route("/graphiql/{file}", get(graphiql::asset))
        .route("/ws", get(ws::subscriptions))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics_text))
        .merge(rest::routes().route_layer(middleware::from_fn_with_state(
            state.clone(),
            cors::same_origin_only,
        )))
        .merge(dashboard::routes())
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn(record_request))
        .with_state(state)
}

/// What a connection past the cap is served: health checks answer, every
/// other request is told to come back later, and the connection closes.
pub fn overflow_router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics_text))
        .fallback(|| async {
            let error = Error::TooManyRequests("too many connections; try again later".into());
            (StatusCode::SERVICE_UNAVAILABLE, error_body(&error)).into_response()
        })
        .layer(middleware::from_fn(record_request))
        .with_state(state)
}

/// Counts and times every request by route (not by raw path, which would
/// let clients create unbounded label values).
async fn record_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    // Static labels: no allocation per request on the hot path.
    let method = match *request.method() {
        axum::http::Method::GET => "GET",
        axum::http::Method::POST => "POST",
        _ => "other",
    };
    let route = route_label(
        request
            .extensions()
            .get::<MatchedPath>()
            .map(|p| p.as_str()),
    );
    let span = tracing::info_span!("request", method, route);
    let response = next.run(request).instrument(span).await;
    let status: &'static str = match response.status().as_u16() {
        200 => "200",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        409 => "409",
        413 => "413",
        415 => "415",
        429 => "429",
        503 => "503",
        s if s < 400 => "other-ok",
        _ => "other-error",
    };
    metrics::counter!(telemetry::HTTP_REQUESTS, "method" => method, "route" => route, "status" => status).increment(1);
    metrics::histogram!(telemetry::HTTP_DURATION, "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// The label of a matched route: its template, as the router declares it
/// (`MatchedPath` holds only templates, never a raw path, so the set is the
/// router's own and bounded; it is capped all the same). Interned, so the
/// hot path allocates nothing.
fn route_label(template: Option<&str>) -> &'static str {
    const MOST: usize = 64;
    static SEEN: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let Some(template) = template else {
        return "other";
    };
    let mut seen = SEEN.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(label) = seen.iter().find(|l| **l == template) {
        return label;
    }
    if seen.len() >= MOST {
        return "other";
    }
    let label: &'static str = Box::leak(template.to_owned().into_boxed_str());
    seen.push(label);
    label
}

/// Liveness: the process answers. The body also tells whether the store does.
async fn health(State(state): State<AppState>) -> Response {
    let store = match state.dispatcher.ping().await {
        Ok(()) => "ok".to_owned(),
        Err(error) => error.to_string(),
    };
    Json(json!({"status": "ok", "store": store})).into_response()
}

/// Readiness: the store answers and (on Redis) the event bridge is connected.
async fn ready(State(state): State<AppState>) -> Response {
    let store = state.dispatcher.ping().await;
    let events = state.dispatcher.events_connected();
    match (store, events) {
        (Ok(()), true) => Json(json!({"status": "ready"})).into_response(),
        (store, events) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "status": "unavailable",
                "store": store.err().map(|e| e.to_string()).unwrap_or_else(|| "ok".into()),
                "events": if events { "connected" } else { "disconnected" },
            })),
        )
            .into_response(),
    }
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    match &state.metrics {
        Some(handle) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            handle.render(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "metrics are off").into_response(),
    }
}

/// A 400 for a body that is not the JSON the route takes.
pub(crate) fn bad_request(message: String) -> Response {
    error_response(&Error::BadInput(message))
}

/// The HTTP status of each error, for the REST adapters and the refusals
/// that happen before GraphQL runs.
pub(crate) fn status(error: &Error) -> StatusCode {
    match error {
        Error::BadInput(_) => StatusCode::BAD_REQUEST,
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::OutOfServiceArea(_) => StatusCode::UNPROCESSABLE_ENTITY,
        Error::Conflict(_) | Error::ActiveRide { .. } => StatusCode::CONFLICT,
        Error::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        Error::Forbidden(_) => StatusCode::FORBIDDEN,
        Error::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
        Error::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        Error::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// An error as HTTP status plus a GraphQL-shaped body.
pub(crate) fn error_response(error: &Error) -> Response {
    (status(error), error_body(error)).into_response()
}

/// The GraphQL-shaped error body every non-GraphQL refusal uses.
pub(crate) fn error_body(error: &Error) -> Json<serde_json::Value> {
    Json(json!({"errors": [{"message": error.to_string(), "extensions": {"code": error.code()}}]}))
}
