//! What every handler can reach: the schemas and the gate, the dispatcher,
//! the token verifier, the limits, the shutdown signals, the web assets and
//! the device credentials.

use std::{sync::Arc, time::Duration};

use axum::http::{header, HeaderMap};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::{cors, dashboard, graphiql, ws};
use crate::{
    api::{prepare::Gate, Schemas},
    auth::{session_from, Caller, Devices, Session, Verifier},
    dispatch::Dispatcher,
    domain::error::Error,
};

/// What every handler can reach: the core the requests run against, and
/// the service's parts by concern.
#[derive(Clone)]
pub struct AppState {
    pub schemas: Schemas,
    pub dispatcher: Dispatcher,
    /// `None`: no key configured, everyone is [`Caller::Open`].
    pub verifier: Option<Verifier>,
    /// What every request passes before it runs.
    pub gate: Arc<Gate>,
    /// How large and how much one HTTP request may be.
    pub limits: Limits,
    /// The shutdown signals and the tasks shutdown waits for.
    pub lifecycle: Lifecycle,
    /// What WebSockets share: their limits, their handshakes, live maps.
    pub live: Live,
    /// What browsers and operators fetch besides GraphQL.
    pub web: Web,
    /// The phone apps' credentials (`--device-credentials`), when given.
    pub devices: Option<Devices>,
}

/// How large and how much one HTTP request may be.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Most operations in one JSON batch.
    pub max_batch: usize,
    /// The complexity budget of one request (a batch shares it).
    pub max_complexity: usize,
    /// How often an idle HTTP stream (multipart, SSE) sends a heartbeat.
    pub stream_heartbeat: Duration,
}

/// The shutdown signals, and the tasks shutdown waits for.
#[derive(Clone)]
pub struct Lifecycle {
    /// Cancelled when the service shuts down (WebSockets close then).
    pub shutdown: CancellationToken,
    /// Cancelled when the shutdown grace is over: whatever still runs stops.
    pub cut: CancellationToken,
    /// The WebSocket tasks, so shutdown can wait for them (within its grace).
    pub ws_tasks: TaskTracker,
}

/// What WebSockets share.
#[derive(Clone)]
pub struct Live {
    /// The limits of one socket.
    pub ws_limits: ws::WsLimits,
    /// Sockets still waiting for their `connection_init` to be accepted.
    pub pending_init: Arc<ws::PendingInit>,
    /// Live maps shared by their WebSocket subscribers.
    pub shared: Arc<ws::shared::SharedSubscriptions>,
}

/// What browsers and operators fetch besides GraphQL.
#[derive(Clone)]
pub struct Web {
    /// The origins allowed to call the API from a browser.
    pub cors: cors::Origins,
    /// GraphiQL's files, when served locally (`--graphiql-assets`).
    pub graphiql: Option<Arc<graphiql::LocalAssets>>,
    /// The dashboard's base map.
    pub map: dashboard::BaseMap,
    /// The road network the base map draws (`--roads`), when loaded.
    pub roads: Option<dashboard::RoadMap>,
    /// The Prometheus recorder `/metrics` renders (`None`: not installed).
    pub metrics: Option<PrometheusHandle>,
}

impl AppState {
    /// Who sent a request, from its `Authorization` header.
    pub(super) async fn session(&self, headers: &HeaderMap) -> Result<Session, Error> {
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
    pub(super) async fn caller(&self, headers: &HeaderMap) -> Result<Caller, Error> {
        Ok(self.session(headers).await?.caller)
    }
}
