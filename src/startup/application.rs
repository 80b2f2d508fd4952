//! The service as a whole: built from the configuration (settings checked,
//! store opened, dispatcher started, handlers assembled), bound, served,
//! and shut down in order; [`run`] does all of it until a signal.

use std::{future::Future, net::SocketAddr, sync::Arc};

use tokio::net::TcpListener;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::info;

use super::{
    config::Config,
    endpoint::{bind, Endpoint},
    error::StartError,
    roads_config::load_roads,
    settings::{settings, verifier},
    store::{open_store, read_areas},
};
use crate::{
    auth::{Devices, Verifier},
    dispatch::{delivery::Delivery, AreaRoads, Dispatcher, Settings},
    domain::ServiceAreas,
    http::{self, serve, AppState, Lifecycle},
    roads::Roads,
    store::Store,
    telemetry,
};

/// What `assemble` puts together: the dispatcher's settings, the token
/// verifier, the store, the areas and the roads.
type Parts = (
    Settings,
    Option<Verifier>,
    Arc<dyn Store>,
    Arc<ServiceAreas>,
    AreaRoads,
);

/// The service, built and bound, ready to serve.
pub struct Application {
    listener: TcpListener,
    dispatcher: Dispatcher,
    router: axum::Router,
    overflow: axum::Router,
    serve_limits: serve::ServeLimits,
    /// The shutdown signals: `shutdown` tells open WebSockets and streams
    /// to close when shutdown begins, `cut` tells whatever still runs to
    /// stop when the grace period is over; and the tasks to wait for.
    lifecycle: Lifecycle,
    /// The road networks (`--roads`, and the areas' own), loaded once.
    roads: AreaRoads,
    /// The event log's delivery to its sinks, and its trimming (when the
    /// log is on).
    delivery: Option<Delivery>,
    /// The phone apps' credentials (`--device-credentials`), when given.
    devices: Option<Devices>,
    /// OwnTracks over MQTT (`--mqtt-url`).
    mqtt: Option<http::mqtt::MqttIngest>,
}

impl Application {
    /// Builds the service on `config.listen`: the address is bound first
    /// (a taken port fails at once) but listened on only when everything
    /// is ready, so no connection is accepted that nothing would serve
    /// (reading a large areas file, reaching Redis, fetching keys).
    pub async fn build(config: Config) -> Result<Self, StartError> {
        let socket = bind(config.listen)?;
        Self::build_at(config, Endpoint::Bound(socket)).await
    }

    /// Builds the service on a listener the caller bound (tests bind
    /// `127.0.0.1:0`), and takes over the rides nobody searches for.
    pub async fn build_on(config: Config, listener: TcpListener) -> Result<Self, StartError> {
        Self::build_at(config, Endpoint::Listening(listener)).await
    }

    async fn build_at(config: Config, endpoint: Endpoint) -> Result<Self, StartError> {
        let settings = settings(&config)?;
        let verifier = verifier(&config, &endpoint).await?;
        let areas = Arc::new(read_areas(&config)?);
        let roads = load_roads(&config.roads, &areas, config.areas.as_deref()).await?;
        let store = open_store(&config, &areas, settings.match_radius).await?;
        let parts = (settings, verifier, store, areas, roads);
        Self::assemble(config, endpoint, parts).await
    }

    /// Builds the service around a store the caller made (tests use this to
    /// look inside the store, or to give its event hub other capacities).
    pub async fn build_with_store(
        config: Config,
        listener: TcpListener,
        store: Arc<dyn Store>,
    ) -> Result<Self, StartError> {
        let settings = settings(&config)?;
        let endpoint = Endpoint::Listening(listener);
        let verifier = verifier(&config, &endpoint).await?;
        let areas = Arc::new(read_areas(&config)?);
        let roads = load_roads(&config.roads, &areas, config.areas.as_deref()).await?;
        let parts = (settings, verifier, store, areas, roads);
        Self::assemble(config, endpoint, parts).await
    }

    async fn assemble(
        config: Config,
        endpoint: Endpoint,
        parts: Parts,
    ) -> Result<Self, StartError> {
        let (settings, verifier, store, areas, roads) = parts;
        // Checked before anything starts: a bad flag stops the start.
        let mqtt = config
            .mqtt
            .settings(config.devices.device_credentials.is_some())?;
        let road_map = road_map(&areas, &roads);
        // The recorder first: a metric set before it exists is lost (the
        // connection cap once was, in every fresh process).
        let metrics = telemetry::handle();
        let mut plan = config
            .events
            .delivery_plan(&areas, config.instance_lease)
            .map_err(StartError::Config)?;
        let delivery_shutdown = CancellationToken::new();
        if let Some(plan) = &mut plan {
            let every: Vec<_> = areas.all().iter().map(|a| a.id.clone()).collect();
            let nats =
                super::nats_sink::nats_sink(&config, every.clone(), delivery_shutdown.clone());
            if let Some(sink) = nats.await? {
                plan.routes
                    .push(crate::dispatch::delivery::Route { sink, areas: every });
            }
        }
        let delivery_store: Arc<dyn Store> =
            Arc::new(crate::store::traced::Traced::new(store.clone()));
        let dispatcher = Dispatcher::start(store, settings, areas, roads.clone()).await?;
        let delivery = plan.map(|plan| Delivery::start(delivery_store, plan, delivery_shutdown));
        let lifecycle = Lifecycle {
            shutdown: CancellationToken::new(),
            cut: CancellationToken::new(),
            ws_tasks: TaskTracker::new(),
        };
        let (max_connections, how) = serve::connection_cap(config.max_connections);
        let serve_limits = serve::ServeLimits {
            max_connections,
            header_read_timeout: config.header_read_timeout,
            idle_timeout: config.idle_timeout,
            shutdown_grace: config.shutdown_grace,
        };
        serve::announce(&serve_limits, &how);
        let mut state = AppState::new(
            &config,
            dispatcher.clone(),
            verifier,
            lifecycle.clone(),
            metrics,
        )
        .await?;
        state.web.roads = road_map;
        if let (Some(devices), Some(path)) = (&state.devices, &config.devices.device_credentials) {
            super::devices_config::reload_on_hangup(
                devices.clone(),
                path.clone(),
                lifecycle.shutdown.clone(),
            );
        }
        let mqtt = match (mqtt, &state.devices) {
            (Some(settings), Some(devices)) => Some(http::mqtt::MqttIngest::start(
                settings,
                dispatcher.clone(),
                devices.clone(),
            )),
            _ => None,
        };
        // Ready: only now may the kernel accept connections.
        let listener = endpoint.listen().map_err(|source| StartError::Listen {
            addr: config.listen,
            source,
        })?;
        Ok(Self {
            listener,
            dispatcher,
            router: http::router(state.clone()),
            overflow: http::overflow_router(state.clone()),
            serve_limits,
            lifecycle,
            roads,
            delivery,
            devices: state.devices.clone(),
            mqtt,
        })
    }

    /// The road network loaded at start (`--roads`).
    pub fn roads(&self) -> Option<&Arc<Roads>> {
        self.roads.default_roads()
    }

    /// The device credentials in force (`--device-credentials`), shared
    /// with the handlers: a reload is seen by all.
    pub fn devices(&self) -> Option<&Devices> {
        self.devices.as_ref()
    }

    /// The address the service listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The most connections this instance serves at once (see
    /// [`serve::connection_cap`]).
    pub fn max_connections(&self) -> usize {
        self.serve_limits.max_connections
    }

    /// Serves until `shutdown` completes: then stops accepting, closes
    /// WebSockets with a close frame, finishes in-flight requests (cutting
    /// what is still open after the grace period), stops the search tasks
    /// and hands the searching rides over.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let served = serve::serve(
            self.listener,
            serve::Served {
                router: self.router,
                overflow: self.overflow,
                limits: self.serve_limits,
                closing: self.lifecycle.shutdown.clone(),
                cut: self.lifecycle.cut.clone(),
                also_wait_for: self.lifecycle.ws_tasks,
            },
            shutdown,
        )
        .await;
        self.lifecycle.shutdown.cancel();
        // No new reports once the dispatcher stops.
        if let Some(mqtt) = &self.mqtt {
            mqtt.stop().await;
        }
        self.dispatcher.shutdown().await;
        if let Some(delivery) = &self.delivery {
            delivery.stop().await;
        }
        served
    }
}

/// What the dashboard's base map draws: the service's roads and every
/// area's own, each network once; `None` without any.
fn road_map(areas: &ServiceAreas, roads: &AreaRoads) -> Option<http::dashboard::RoadMap> {
    let mut networks: Vec<Arc<Roads>> = Vec::new();
    let all = std::iter::once(roads.default_roads())
        .chain(areas.all().iter().map(|area| roads.of(Some(&area.id))));
    for network in all.flatten() {
        if !networks.iter().any(|n| Arc::ptr_eq(n, network)) {
            networks.push(network.clone());
        }
    }
    http::dashboard::RoadMap::new(networks)
}

/// Runs the service until SIGINT or SIGTERM.
pub async fn run(config: Config) -> Result<(), StartError> {
    let addr = config.listen;
    let app = Application::build(config).await?;
    let local = app
        .local_addr()
        .map_err(|source| StartError::Listen { addr, source })?;
    info!("listening on http://{local} (GraphiQL: http://{local}/graphql)");
    app.run_until(shutdown_signal())
        .await
        .map_err(|source| StartError::Listen { addr, source })
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
    info!("shutting down");
}
