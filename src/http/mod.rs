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
//!   `/dashboard/`, `GET /config`: the limits clients should know, and
//!   `GET /roads`: the road network of a box, the dashboard's base map;
//! - `GET /health`, `GET /ready`, `GET /metrics`;
//! - the seed's REST API ([`rest`]), as adapters onto the same dispatcher;
//! - the phone apps' routes ([`devices`]): `POST /owntracks` (OwnTracks),
//!   `GET`/`POST /osmand` (Traccar Client).
//! - OwnTracks over MQTT ([`mqtt`]): not a route but a subscription to a
//!   broker, reporting through the same dispatcher.
//!
//! What the GraphQL routes share is [`codec`] (media types, a request from
//! URL parameters, a response's body and status); errors refused before
//! GraphQL runs are answered by [`errors`]; what every handler reaches is
//! [`AppState`].
//!
//! Nothing here decides anything about rides: it decodes, calls the schema or
//! the dispatcher, and encodes.

pub mod codec;
pub mod cors;
pub mod dashboard;
pub mod devices;
mod errors;
pub mod graphiql;
pub mod graphql;
pub mod mqtt;
mod rest;
pub mod serve;
mod state;
pub mod stream;
pub mod ws;

use std::{
    sync::{Mutex, PoisonError},
    time::Instant,
};

use axum::{
    extract::{DefaultBodyLimit, MatchedPath, Request, State},
    http::{header, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use serde_json::json;
use tracing::Instrument;

pub(crate) use errors::{bad_request, error_body, error_response};
pub use state::{AppState, Lifecycle, Limits, Live, Web};

use crate::{domain::error::Error, telemetry};

/// The service's routes.
pub fn router(state: AppState) -> Router {
    let limit = state.limits.max_body_bytes;
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
        // Exempt, by name, from the REST routes' JSON-only rule (they take
        // their apps' content types); held to the same-origin rule.
        .merge(
            devices::routes().route_layer(middleware::from_fn_with_state(
                state.clone(),
                cors::same_origin_only,
            )),
        )
        .merge(dashboard::routes())
        .merge(
            dashboard::road_routes().route_layer(middleware::from_fn_with_state(
                state.clone(),
                cors::same_origin_only,
            )),
        )
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
    let headers = request.headers();
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if let Some(parent) = telemetry::traces::remote_parent(header) {
        // Only fails without an exporter, when there is no trace to join.
        let _ = tracing_opentelemetry::OpenTelemetrySpanExt::set_parent(&span, parent);
    }
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
    match &state.web.metrics {
        Some(handle) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            handle.render(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "metrics are off").into_response(),
    }
}
