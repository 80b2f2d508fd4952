//! Configuration: one struct, read from flags and `TRACKING_*` variables.
//!
//! Defaults suit a laptop: listen on the seed's port on loopback, keep
//! everything in memory. Durations take human units (`500ms`, `2s`, `4m`).

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::Parser;

/// Real-time driver tracking and dispatch over GraphQL.
#[derive(Debug, Clone, Parser)]
#[command(name = "tracking", version, about)]
pub struct Config {
    /// Address to listen on: `host:port`, the host an IP address or a name
    /// (`localhost:8001`), the port 0 for any free one.
    #[arg(long, env = "TRACKING_LISTEN", default_value = "127.0.0.1:8000", value_parser = parse_listen)]
    pub listen: SocketAddr,

    /// Keep the fleet in Redis (e.g. redis://127.0.0.1:6379) so that several
    /// instances share it; without it everything lives in this process.
    #[arg(long, env = "TRACKING_REDIS_URL")]
    pub redis_url: Option<String>,

    /// Prefix of every Redis key; keys are `{PREFIX}:…` so that one Redis
    /// Cluster node owns a whole fleet.
    #[arg(long, env = "TRACKING_REDIS_PREFIX", default_value = "tracking")]
    pub redis_prefix: String,

    /// On Redis, single position reports of one area that arrive while a
    /// report call of that area is in flight go together in the next
    /// call, at most this many (group commit; 1: every report alone).
    #[arg(long, env = "TRACKING_MAX_REPORT_BATCH", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=1_000))]
    pub max_report_batch: u64,

    /// Keep the fleet in a Redis Cluster, reached through any of these
    /// nodes (`host:port` or URLs, comma-separated; `rediss://` for TLS).
    #[arg(
        long,
        env = "TRACKING_REDIS_CLUSTER",
        value_delimiter = ',',
        conflicts_with = "redis_url"
    )]
    pub redis_cluster: Vec<String>,

    /// Trust this PEM CA bundle for `rediss://` (a private CA) instead of
    /// the system's.
    #[arg(long, env = "TRACKING_REDIS_CA")]
    pub redis_ca: Option<PathBuf>,

    /// The Redis password, for URLs that carry none (never logged).
    #[arg(long, env = "TRACKING_REDIS_PASSWORD", hide_env_values = true)]
    pub redis_password: Option<String>,

    /// Service areas: a GeoJSON FeatureCollection of Polygons and
    /// MultiPolygons, each with an `id` and optional rules (see docs/configuration.md).
    /// Without it, one area covers the Earth.
    #[arg(long, env = "TRACKING_AREAS")]
    pub areas: Option<PathBuf>,

    /// A driver silent for this long is OFFLINE: never listed, never matched.
    #[arg(long, env = "TRACKING_DRIVER_TTL", default_value = "60s", value_parser = humantime::parse_duration)]
    pub driver_ttl: Duration,

    /// How long a ride request searches before it EXPIREs (1ms to 1 day).
    #[arg(long, env = "TRACKING_REQUEST_TIMEOUT", default_value = "240s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,

    /// How often a searching ride searches again when nothing wakes it sooner
    /// (50ms to 1 day).
    #[arg(long, env = "TRACKING_SEARCH_INTERVAL", default_value = "2s", value_parser = humantime::parse_duration)]
    pub search_interval: Duration,

    /// How far from the pickup a driver may be to be matched, in km.
    #[arg(long, env = "TRACKING_MATCH_RADIUS_KM", default_value_t = 5.0)]
    pub match_radius_km: f64,

    /// How long a driver has to accept or decline a ride offered to it
    /// before the next nearest driver is offered it; 0s: no offers, the
    /// nearest driver is assigned at once; otherwise from 100 ms to 1 day.
    #[arg(long, env = "TRACKING_OFFER_TIMEOUT", default_value = "0s", value_parser = humantime::parse_duration)]
    pub offer_timeout: Duration,

    /// A driver who lets this many offers in a row time out is set OFFLINE
    /// (its phone is gone); 0: never.
    #[arg(long, env = "TRACKING_OFFER_IGNORE_LIMIT", default_value_t = 3)]
    pub offer_ignore_limit: u32,

    /// With Redis: how long an instance keeps its searching rides without
    /// renewing its lease; a killed instance's rides are adopted by another
    /// within about this long.
    #[arg(long, env = "TRACKING_INSTANCE_LEASE", default_value = "5s", value_parser = humantime::parse_duration)]
    pub instance_lease: Duration,

    /// Verify HS256 tokens with this shared secret (at least 16 bytes).
    #[arg(long, env = "TRACKING_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// Verify RS256 or ES256 tokens with this PEM public key.
    #[arg(long, env = "TRACKING_JWT_PUBLIC_KEY")]
    pub jwt_public_key: Option<PathBuf>,

    /// Verify RS256 or ES256 tokens with the keys an identity provider
    /// publishes at this JWKS URL (chosen by the token's `kid`).
    #[arg(long, env = "TRACKING_JWT_JWKS_URL")]
    pub jwt_jwks_url: Option<String>,

    /// Trust this PEM CA bundle for an `https://` JWKS URL (a private CA),
    /// besides the system's roots.
    #[arg(long, env = "TRACKING_JWT_JWKS_CA", requires = "jwt_jwks_url")]
    pub jwt_jwks_ca: Option<PathBuf>,

    /// Accept only tokens whose `iss` is this.
    #[arg(long, env = "TRACKING_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,

    /// Accept only tokens whose `aud` is this.
    #[arg(long, env = "TRACKING_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,

    /// Clock skew tolerated on a token's `exp`, `nbf` and `iat`; a
    /// WebSocket closes when its token's `exp` plus this has passed.
    #[arg(long, env = "TRACKING_JWT_LEEWAY", default_value = "30s", value_parser = humantime::parse_duration)]
    pub jwt_leeway: Duration,

    /// Without a JWT key the service is open to everyone; it then refuses to
    /// listen beyond loopback unless this is given.
    #[arg(long, env = "TRACKING_INSECURE_NO_AUTH")]
    pub insecure_no_auth: bool,

    /// Deepest selection nesting a GraphQL request may use.
    #[arg(long, env = "TRACKING_MAX_DEPTH", default_value_t = 12)]
    pub max_depth: usize,

    /// Highest complexity (about one per field resolved) a request may have.
    #[arg(long, env = "TRACKING_MAX_COMPLEXITY", default_value_t = 2000)]
    pub max_complexity: usize,

    /// Longest GraphQL query text, in bytes.
    #[arg(long, env = "TRACKING_MAX_QUERY_BYTES", default_value_t = 16 * 1024)]
    pub max_query_bytes: usize,

    /// Largest HTTP request body, in bytes.
    #[arg(long, env = "TRACKING_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Do not answer introspection queries (GraphiQL then has no schema).
    #[arg(long, env = "TRACKING_NO_INTROSPECTION")]
    pub no_introspection: bool,

    /// Answer introspection (`__schema`, `__type`) to callers without a
    /// token. By default, when tokens are verified, introspection needs one
    /// (any role), like everything else; GraphiQL sends it as a header.
    #[arg(long, env = "TRACKING_OPEN_INTROSPECTION")]
    pub open_introspection: bool,

    /// Connections (HTTP, WebSocket and streams together) one instance keeps
    /// open at once. By default, and at most, the process's open-file limit
    /// less a reserve, computed at start and logged.
    #[arg(long, env = "TRACKING_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,

    /// A connection that has not sent a whole request header this long after
    /// it opened, or after its first byte, is closed.
    #[arg(long, env = "TRACKING_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub header_read_timeout: Duration,

    /// A keep-alive HTTP connection idle this long between requests is closed.
    #[arg(long, env = "TRACKING_IDLE_TIMEOUT", default_value = "60s", value_parser = humantime::parse_duration)]
    pub idle_timeout: Duration,

    /// On SIGTERM, how long in-flight requests and open sockets get to finish
    /// before the process exits anyway.
    #[arg(long, env = "TRACKING_SHUTDOWN_GRACE", default_value = "10s", value_parser = humantime::parse_duration)]
    pub shutdown_grace: Duration,

    /// Most operations in one JSON batch (`[{"query": …}, …]`).
    #[arg(long, env = "TRACKING_MAX_BATCH", default_value_t = 10)]
    pub max_batch: usize,

    /// Largest WebSocket message (or frame), in bytes; a bigger one closes
    /// the socket (1009) before it is read whole.
    #[arg(long, env = "TRACKING_MAX_WS_MESSAGE_BYTES", default_value_t = 1024 * 1024)]
    pub max_ws_message_bytes: usize,

    /// WebSockets that have not yet completed `connection_init`, at once;
    /// beyond, new upgrades are refused (503).
    #[arg(long, env = "TRACKING_MAX_WS_PENDING_INIT", default_value_t = 1000)]
    pub max_ws_pending_init: usize,

    /// Subscriptions one WebSocket connection may hold at once.
    #[arg(long, env = "TRACKING_MAX_SUBSCRIPTIONS", default_value_t = 100)]
    pub max_subscriptions: usize,

    /// A WebSocket that has not sent `connection_init` by then is closed.
    #[arg(long, env = "TRACKING_CONNECTION_INIT_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    pub connection_init_timeout: Duration,

    /// How often the server pings each WebSocket; one silent for two pings is closed.
    #[arg(long, env = "TRACKING_KEEPALIVE", default_value = "30s", value_parser = humantime::parse_duration)]
    pub keepalive: Duration,

    /// Location updates allowed per driver per second (0: no limit).
    #[arg(long, env = "TRACKING_MAX_UPDATE_RATE", default_value_t = 10.0)]
    pub max_update_rate: f64,

    /// Fastest plausible driver speed, km/h: a report implying a faster jump
    /// from the last one is refused (0: no check).
    #[arg(long, env = "TRACKING_MAX_SPEED_KMH", default_value_t = 300.0)]
    pub max_speed_kmh: f64,

    /// Most rides a rider may have that have not ended, over every area and
    /// instance together; another request is a CONFLICT naming one of them
    /// (0: no limit; 1 is what a rider app wants). Not applied to
    /// `anonymous`, the rider of `/v2/search` requests that name none.
    #[arg(long, env = "TRACKING_MAX_ACTIVE_RIDES_PER_RIDER", default_value_t = 3)]
    pub max_active_rides_per_rider: usize,

    /// How long an ended ride (cancelled, expired, completed) is kept before
    /// it is removed (`ride(id)` then answers null).
    #[arg(long, env = "TRACKING_RIDE_RETENTION", default_value = "24h", value_parser = humantime::parse_duration)]
    pub ride_retention: Duration,

    /// A driver silent this long is removed entirely (it comes back as new
    /// if it reports again).
    #[arg(long, env = "TRACKING_DRIVER_RETENTION", default_value = "24h", value_parser = humantime::parse_duration)]
    pub driver_retention: Duration,

    /// How often an idle HTTP subscription stream (multipart, Server-Sent
    /// Events) sends a heartbeat, so that proxies keep it open.
    #[arg(long, env = "TRACKING_STREAM_HEARTBEAT", default_value = "5s", value_parser = humantime::parse_duration)]
    pub stream_heartbeat: Duration,

    /// Documents known by id from the start (persisted queries): a JSON
    /// object of id → document, or an Apollo persisted query manifest.
    #[arg(long, env = "TRACKING_PERSISTED_DOCUMENTS")]
    pub persisted_documents: Option<PathBuf>,

    /// Run only the documents of --persisted-documents: any other is
    /// refused (FORBIDDEN), and clients may not register new ones. The
    /// service's own documents (the dashboard's, the simulator's) are no
    /// exception: merge what `tracking persisted-documents` prints into the
    /// file to keep them working.
    #[arg(
        long,
        env = "TRACKING_ONLY_PERSISTED",
        requires = "persisted_documents"
    )]
    pub only_persisted: bool,

    /// How long a persisted query registered by a client (APQ) is kept in
    /// Redis after its last registration.
    #[arg(long, env = "TRACKING_APQ_TTL", default_value = "24h", value_parser = humantime::parse_duration)]
    pub apq_ttl: Duration,

    /// Most persisted queries registered by clients (APQ) kept in Redis;
    /// past it the oldest go first. Anyone may register, so this times
    /// --max-query-bytes is what registrations may hold in Redis at worst
    /// (2,000 × 16 KiB: 32 MiB).
    #[arg(long, env = "TRACKING_APQ_MAX_ENTRIES", default_value_t = 2_000)]
    pub apq_max_entries: usize,

    /// How often a `fleet` subscription sends what changed, in one CHANGES
    /// event holding the latest state of each driver and ride that changed
    /// since the last (`0s`: one DRIVER or RIDE event per change).
    #[arg(long, env = "TRACKING_FLEET_INTERVAL", default_value = "250ms", value_parser = humantime::parse_duration)]
    pub fleet_interval: Duration,

    /// The dashboard's base map: a tile URL template with `{z}`, `{x}` and
    /// `{y}` (e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png; mind the
    /// tile server's usage policy). Without it the map draws a graticule.
    #[arg(long, env = "TRACKING_MAP_TILES")]
    pub map_tiles: Option<String>,

    /// The attribution the tile server requires, shown on the map (e.g.
    /// "© OpenStreetMap contributors").
    #[arg(long, env = "TRACKING_MAP_ATTRIBUTION")]
    pub map_attribution: Option<String>,

    /// Serve GraphiQL's scripts and styles from this directory instead of
    /// the CDN (fill it with scripts/graphiql-assets.sh), so GraphiQL works
    /// without internet.
    #[arg(long, env = "TRACKING_GRAPHIQL_ASSETS")]
    pub graphiql_assets: Option<PathBuf>,

    /// An origin whose pages may call the GraphQL API from a browser and
    /// open WebSockets (repeatable, or comma-separated; `*` for any, in
    /// development). By default none: only the service's own pages and
    /// non-browser clients; any other origin's WebSocket or REST request is
    /// refused (403).
    #[arg(long, env = "TRACKING_CORS_ORIGIN", value_delimiter = ',')]
    pub cors_origin: Vec<String>,

    /// Log format: `text` for people, `json` for log pipelines.
    #[arg(long, env = "TRACKING_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// Send traces over OTLP/HTTP to this collector (its base URL, e.g.
    /// `http://127.0.0.1:4318`; `/v1/traces` is appended). Without it, the
    /// standard `OTEL_EXPORTER_OTLP_ENDPOINT` decides; without either, no
    /// traces leave the process. `OTEL_SERVICE_NAME` and
    /// `OTEL_TRACES_SAMPLER`/`OTEL_TRACES_SAMPLER_ARG` apply.
    #[arg(long, env = "TRACKING_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,

    /// Batched matching (`--match-window`, …).
    #[command(flatten)]
    pub batch: crate::startup::batch_config::BatchConfig,

    /// The road network (`--roads`, `--road-snap`).
    #[command(flatten)]
    pub roads: crate::startup::roads_config::RoadsConfig,

    /// The event log and its sinks (`--event-log`, `--webhook`, …).
    #[command(flatten)]
    pub events: crate::startup::events_config::EventsConfig,

    /// The phone apps' credentials (`--device-credentials`).
    #[command(flatten)]
    pub devices: crate::startup::devices_config::DevicesConfig,

    /// OwnTracks over MQTT (`--mqtt-url`, `--mqtt-topic`, …).
    #[command(flatten)]
    pub mqtt: crate::startup::mqtt_config::MqttConfig,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Config {
    /// The defaults, as `tracking` with no flags would use them, whatever the
    /// environment holds: the clap attributes above are their only source.
    pub fn defaults() -> Self {
        Self::parse_ignoring_env(["tracking"])
            .unwrap_or_else(|e| unreachable!("the defaults parse: {e}"))
    }

    /// Parses flags alone, without reading any `TRACKING_*` variable (tests
    /// and tools that must not depend on the caller's environment).
    pub fn parse_ignoring_env<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::{CommandFactory, FromArgMatches};
        let command = Self::command().mut_args(|arg| arg.env(None));
        Self::from_arg_matches(&command.try_get_matches_from(args)?)
    }
}

/// `--listen`: an IP address and port, or a host name and port (resolved
/// now; the first address it resolves to, IPv4 first, as `localhost`
/// usually means 127.0.0.1).
fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let expected = "expected host:port, such as 127.0.0.1:8000, [::1]:8000 or localhost:8000";
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err(format!("{text:?} has no port ({expected})"));
    };
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(format!("{text:?} is not an address ({expected})"));
    }
    let addrs: Vec<SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(text)
        .map_err(|e| format!("cannot resolve {host:?}: {e} ({expected})"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| format!("{host:?} resolves to no address ({expected})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_ignore_the_environment() {
        // Only this test touches this variable.
        std::env::set_var("TRACKING_DRIVER_TTL", "1s");
        let defaults = Config::defaults();
        std::env::remove_var("TRACKING_DRIVER_TTL");
        assert_eq!(defaults.driver_ttl, Duration::from_secs(60));
        assert_eq!(defaults.listen, SocketAddr::from(([127, 0, 0, 1], 8000)));
        assert_eq!(defaults.max_active_rides_per_rider, 3, "a rider's cap");
    }

    #[test]
    fn flags_parse_without_the_environment() {
        let config = Config::parse_ignoring_env(["tracking", "--driver-ttl", "5s"])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.driver_ttl, Duration::from_secs(5));
    }

    #[test]
    fn listen_takes_host_names_and_says_what_it_expects() {
        let parse = |text: &str| {
            Config::parse_ignoring_env(["tracking", "--listen", text]).map(|c| c.listen)
        };
        assert_eq!(
            parse("localhost:8001").unwrap_or_else(|e| panic!("{e}")),
            SocketAddr::from(([127, 0, 0, 1], 8001))
        );
        assert_eq!(
            parse("[::1]:0").unwrap_or_else(|e| panic!("{e}")),
            "[::1]:0"
                .parse::<SocketAddr>()
                .unwrap_or_else(|e| panic!("{e}"))
        );
        for bad in [
            "localhost",
            "localhost:http",
            ":8000",
            "no-such-host.invalid:8000",
        ] {
            let error = parse(bad).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(error.contains("expected host:port"), "{bad}: {error}");
        }
    }
}
