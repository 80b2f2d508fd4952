//! `tracking`: real-time driver tracking and dispatch over GraphQL.
//!
//! A request travels down these modules, each calling only the next:
//!
//! - [`http`]: axum routes: GraphQL over HTTP and WebSocket, GraphiQL,
//!   health, and the seed's REST adapters;
//! - [`api`]: the GraphQL schema; turns arguments into [`domain`] types;
//! - [`dispatch`]: a ride's life: the search task per request, wake-ups,
//!   expiry, the ride event stream;
//! - [`store`]: where the fleet lives (in memory, or Redis), with the atomic
//!   match / cancel / complete / expire operations and the event hub.
//!
//! [`Application`] puts them together on a listener; `main` only parses the
//! [`Config`] and calls [`run`].

pub mod api;
pub mod auth;
pub mod config;
pub mod dispatch;
pub mod domain;
mod endpoint;
pub mod error;
pub mod http;
pub mod open;
pub mod simulate;
pub mod store;
pub mod telemetry;

use std::{future::Future, net::SocketAddr, sync::Arc};

use tokio::net::TcpListener;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::{info, warn};

use auth::Verifier;
pub use config::Config;
use dispatch::{Dispatcher, Settings};
use domain::RadiusKm;
use endpoint::{bind, Endpoint};
use store::{Offers, Store};

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot use the store: {0}")]
    Store(#[from] error::Error),
}

/// The service, built and bound, ready to serve.
pub struct Application {
    listener: TcpListener,
    dispatcher: Dispatcher,
    router: axum::Router,
    overflow: axum::Router,
    serve_limits: http::serve::ServeLimits,
    /// Tells open WebSockets and streams to close when shutdown begins.
    shutdown: CancellationToken,
    /// Tells whatever still runs to stop when the grace period is over.
    cut: CancellationToken,
    ws_tasks: TaskTracker,
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
        let areas = Arc::new(open::read_areas(&config)?);
        let store = open::open_store(&config, &areas, settings.match_radius).await?;
        Self::assemble(config, endpoint, settings, verifier, store, areas).await
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
        let areas = Arc::new(open::read_areas(&config)?);
        Self::assemble(config, endpoint, settings, verifier, store, areas).await
    }

    async fn assemble(
        config: Config,
        endpoint: Endpoint,
        settings: Settings,
        verifier: Option<Verifier>,
        store: Arc<dyn Store>,
        areas: Arc<domain::ServiceAreas>,
    ) -> Result<Self, StartError> {
        // The recorder first: a metric set before it exists is lost (the
        // connection cap once was, in every fresh process).
        let metrics = telemetry::handle();
        let dispatcher = Dispatcher::start(store, settings, areas).await?;
        let schemas = api::Schemas::new(
            dispatcher.clone(),
            api::Limits {
                max_depth: config.max_depth,
                max_complexity: config.max_complexity,
                max_query_bytes: config.max_query_bytes,
                introspection: !config.no_introspection,
            },
        );
        let shutdown = CancellationToken::new();
        let cut = CancellationToken::new();
        let ws_tasks = TaskTracker::new();
        let (max_connections, how) = http::serve::connection_cap(config.max_connections);
        let serve_limits = http::serve::ServeLimits {
            max_connections,
            header_read_timeout: config.header_read_timeout,
            idle_timeout: config.idle_timeout,
            shutdown_grace: config.shutdown_grace,
        };
        http::serve::announce(&serve_limits, &how);
        let state = http::AppState {
            schemas,
            dispatcher: dispatcher.clone(),
            verifier,
            ws_limits: http::ws::WsLimits {
                max_subscriptions: config.max_subscriptions,
                init_timeout: config.connection_init_timeout,
                keepalive: config.keepalive,
                max_message_bytes: config.max_ws_message_bytes,
                max_pending_init: config.max_ws_pending_init,
            },
            pending_init: Default::default(),
            ws_tasks: ws_tasks.clone(),
            shutdown: shutdown.clone(),
            cut: cut.clone(),
            metrics,
            max_body_bytes: config.max_body_bytes,
            max_batch: config.max_batch.max(1),
            max_complexity: config.max_complexity,
            gate: Arc::new(api::prepare::Gate::new(
                persisted(&config).await?,
                config.max_query_bytes,
                config.open_introspection,
                config.max_complexity,
            )),
            stream_heartbeat: config
                .stream_heartbeat
                .max(std::time::Duration::from_millis(10)),
            cors: http::cors::Origins::parse(&config.cors_origin).map_err(StartError::Config)?,
            graphiql: match &config.graphiql_assets {
                Some(dir) => Some(Arc::new(
                    http::graphiql::LocalAssets::read(dir).map_err(StartError::Config)?,
                )),
                None => None,
            },
            map: http::dashboard::BaseMap::new(
                config.map_tiles.as_deref(),
                config.map_attribution.as_deref(),
            )
            .map_err(StartError::Config)?,
            shared: Arc::new(http::ws::shared::SharedSubscriptions::new(
                config.fleet_interval,
            )),
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
            overflow: http::overflow_router(state),
            serve_limits,
            shutdown,
            cut,
            ws_tasks,
        })
    }

    /// The address the service listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The most connections this instance serves at once (see
    /// [`http::serve::connection_cap`]).
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
        let served = http::serve::serve(
            self.listener,
            http::serve::Served {
                router: self.router,
                overflow: self.overflow,
                limits: self.serve_limits,
                closing: self.shutdown.clone(),
                cut: self.cut.clone(),
                also_wait_for: self.ws_tasks,
            },
            shutdown,
        )
        .await;
        self.shutdown.cancel();
        self.dispatcher.shutdown().await;
        served
    }
}

/// The dispatcher's settings from the configuration, checked.
/// Persisted documents: the operator's file, and automatic persisted
/// queries (shared through Redis when the fleet is there).
async fn persisted(config: &Config) -> Result<api::prepare::persisted::Persisted, StartError> {
    use api::prepare::persisted::{read_trusted, Persisted, SharedDocuments};
    let shared: Option<Arc<dyn SharedDocuments>> = match open::connector(config)? {
        Some(connector) => Some(Arc::new(
            store::redis::documents::RedisDocuments::connect(
                &connector,
                &config.redis_prefix,
                config.apq_ttl,
                config.apq_max_entries,
            )
            .await?,
        )),
        None => None,
    };
    let mut persisted = Persisted::automatic(shared);
    if let Some(path) = &config.persisted_documents {
        let documents = read_trusted(path)
            .map_err(|e| StartError::Config(format!("--persisted-documents {e}")))?;
        persisted = persisted.with_trusted(documents, config.only_persisted);
        info!(
            documents = persisted.trusted(),
            only = config.only_persisted,
            "persisted documents loaded"
        );
    }
    Ok(persisted)
}

fn settings(config: &Config) -> Result<Settings, StartError> {
    let settings = Settings {
        match_radius: RadiusKm::parse(config.match_radius_km)
            .map_err(|e| StartError::Config(format!("--match-radius-km: {e}")))?,
        request_timeout: config.request_timeout,
        search_interval: config.search_interval,
        max_update_rate: config.max_update_rate,
        max_speed_kmh: config.max_speed_kmh,
        max_active_rides_per_rider: config.max_active_rides_per_rider,
        offers: Offers {
            timeout: config.offer_timeout,
            ignore_limit: config.offer_ignore_limit,
        },
        fleet_interval: config.fleet_interval,
    };
    use domain::rules::{OFFER_TIMEOUT, REQUEST_TIMEOUT, SEARCH_INTERVAL};
    for (flag, value, bounds) in [
        (
            "--search-interval",
            settings.search_interval,
            SEARCH_INTERVAL,
        ),
        (
            "--request-timeout",
            settings.request_timeout,
            REQUEST_TIMEOUT,
        ),
        ("--offer-timeout", settings.offers.timeout, OFFER_TIMEOUT),
    ] {
        bounds
            .check(value)
            .map_err(|e| StartError::Config(format!("{flag} {e}")))?;
    }
    if !config.max_speed_kmh.is_finite() || config.max_speed_kmh < 0.0 {
        return Err(StartError::Config(
            "--max-speed-kmh must be 0 (off) or more".into(),
        ));
    }
    Ok(settings)
}

/// The token verifier; without one, the service only serves loopback
/// (unless told otherwise).
async fn verifier(config: &Config, endpoint: &Endpoint) -> Result<Option<Verifier>, StartError> {
    let verifier = Verifier::from_config(auth::AuthConfig {
        secret: config.jwt_secret.as_deref(),
        public_key: config.jwt_public_key.as_deref(),
        jwks_url: config.jwt_jwks_url.as_deref(),
        jwks_ca: config.jwt_jwks_ca.as_deref(),
        issuer: config.jwt_issuer.as_deref(),
        audience: config.jwt_audience.as_deref(),
        leeway: Some(config.jwt_leeway.as_secs()),
    })
    .await
    .map_err(StartError::Config)?;
    if verifier.is_none() {
        let addr = endpoint.local_addr().map_err(|source| StartError::Listen {
            addr: config.listen,
            source,
        })?;
        if !addr.ip().is_loopback() && !config.insecure_no_auth {
            return Err(StartError::Config(format!(
                "no --jwt-secret, --jwt-public-key or --jwt-jwks-url: refusing to serve {addr} without \
                 authentication (give a key, listen on loopback, or pass --insecure-no-auth)"
            )));
        }
        warn!("NO AUTHENTICATION: no JWT key configured, anyone who reaches this service may do anything");
    }
    Ok(verifier)
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
