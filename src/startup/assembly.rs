//! Assembling what every handler reaches ([`AppState`]) from the
//! configuration: the schemas and the gate, then each part by concern
//! (request limits, lifecycle, WebSockets, web assets).

use std::{sync::Arc, time::Duration};

use metrics_exporter_prometheus::PrometheusHandle;

use super::{config::Config, error::StartError, persisted::persisted};
use crate::{
    api::{self, prepare::Gate, Schemas},
    auth::Verifier,
    dispatch::Dispatcher,
    http::{
        cors::Origins, dashboard::BaseMap, graphiql::LocalAssets, ws, AppState, Lifecycle, Limits,
        Live, Web,
    },
};

/// The shortest heartbeat an idle HTTP stream is given.
const MIN_STREAM_HEARTBEAT: Duration = Duration::from_millis(10);

impl AppState {
    /// Everything the handlers reach, from `config`, around a started
    /// dispatcher and its verifier; `lifecycle` is shared with the server
    /// that drains connections at shutdown.
    pub async fn new(
        config: &Config,
        dispatcher: Dispatcher,
        verifier: Option<Verifier>,
        lifecycle: Lifecycle,
        metrics: Option<PrometheusHandle>,
    ) -> Result<Self, StartError> {
        let schemas = Schemas::new(dispatcher.clone(), api_limits(config));
        let gate = Gate::new(
            persisted(config).await?,
            config.max_query_bytes,
            config.open_introspection,
            config.max_complexity,
        );
        Ok(Self {
            schemas,
            dispatcher,
            verifier,
            gate: Arc::new(gate),
            limits: limits(config),
            lifecycle,
            live: live(config),
            web: web(config, metrics)?,
            devices: config.devices.load()?,
        })
    }
}

/// What the schema enforces on every operation.
fn api_limits(config: &Config) -> api::Limits {
    api::Limits {
        max_depth: config.max_depth,
        max_complexity: config.max_complexity,
        max_query_bytes: config.max_query_bytes,
        introspection: !config.no_introspection,
    }
}

/// How large and how much one HTTP request may be.
fn limits(config: &Config) -> Limits {
    Limits {
        max_body_bytes: config.max_body_bytes,
        max_batch: config.max_batch.max(1),
        max_complexity: config.max_complexity,
        stream_heartbeat: config.stream_heartbeat.max(MIN_STREAM_HEARTBEAT),
    }
}

/// What WebSockets share.
fn live(config: &Config) -> Live {
    Live {
        ws_limits: ws::WsLimits {
            max_subscriptions: config.max_subscriptions,
            init_timeout: config.connection_init_timeout,
            keepalive: config.keepalive,
            max_message_bytes: config.max_ws_message_bytes,
            max_pending_init: config.max_ws_pending_init,
        },
        pending_init: Default::default(),
        shared: Arc::new(ws::shared::SharedSubscriptions::new(config.fleet_interval)),
    }
}

/// The CORS origins, GraphiQL's local files, the dashboard's base map and
/// the metrics recorder (the roads it draws are added once loaded).
fn web(config: &Config, metrics: Option<PrometheusHandle>) -> Result<Web, StartError> {
    let graphiql = match &config.graphiql_assets {
        Some(dir) => Some(Arc::new(
            LocalAssets::read(dir).map_err(StartError::Config)?,
        )),
        None => None,
    };
    Ok(Web {
        cors: Origins::parse(&config.cors_origin).map_err(StartError::Config)?,
        graphiql,
        map: BaseMap::new(
            config.map_tiles.as_deref(),
            config.map_attribution.as_deref(),
        )
        .map_err(StartError::Config)?,
        roads: None,
        metrics,
    })
}
