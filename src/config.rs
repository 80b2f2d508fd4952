//! Configuration: one struct, read from flags and `TRACKING_*` variables.
//!
//! Defaults suit a laptop: listen on the seed's port on loopback, keep
//! everything in memory. Durations take human units (`500ms`, `2s`, `4m`).

use std::{net::SocketAddr, time::Duration};

use clap::Parser;

/// Real-time driver tracking and dispatch over GraphQL.
#[derive(Debug, Clone, Parser)]
#[command(name = "tracking", version, about)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "TRACKING_LISTEN", default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,

    /// Keep the fleet in Redis (e.g. redis://127.0.0.1:6379) so that several
    /// instances share it; without it everything lives in this process.
    #[arg(long, env = "TRACKING_REDIS_URL")]
    pub redis_url: Option<String>,

    /// Prefix of every Redis key; keys are `{PREFIX}:…` so that one Redis
    /// Cluster node owns a whole fleet.
    #[arg(long, env = "TRACKING_REDIS_PREFIX", default_value = "tracking")]
    pub redis_prefix: String,

    /// A driver silent for this long is OFFLINE: never listed, never matched.
    #[arg(long, env = "TRACKING_DRIVER_TTL", default_value = "60s", value_parser = humantime::parse_duration)]
    pub driver_ttl: Duration,

    /// How long a ride request searches before it EXPIREs.
    #[arg(long, env = "TRACKING_REQUEST_TIMEOUT", default_value = "240s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,

    /// How often a searching ride searches again when nothing wakes it sooner.
    #[arg(long, env = "TRACKING_SEARCH_INTERVAL", default_value = "2s", value_parser = humantime::parse_duration)]
    pub search_interval: Duration,

    /// How far from the pickup a driver may be to be matched, in km.
    #[arg(long, env = "TRACKING_MATCH_RADIUS_KM", default_value_t = 5.0)]
    pub match_radius_km: f64,

    /// With Redis: how long an instance keeps its searching rides without
    /// renewing its lease; a killed instance's rides are adopted by another
    /// within about this long.
    #[arg(long, env = "TRACKING_INSTANCE_LEASE", default_value = "5s", value_parser = humantime::parse_duration)]
    pub instance_lease: Duration,

    /// Log format: `text` for people, `json` for log pipelines.
    #[arg(long, env = "TRACKING_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Config {
    /// The defaults, as `tracking` with no flags and no environment would use.
    pub fn defaults() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8000)),
            redis_url: None,
            redis_prefix: "tracking".into(),
            driver_ttl: Duration::from_secs(60),
            request_timeout: Duration::from_secs(240),
            search_interval: Duration::from_secs(2),
            match_radius_km: 5.0,
            instance_lease: Duration::from_secs(5),
            log_format: LogFormat::Text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_flags() {
        let parsed = Config::try_parse_from(["tracking"]).unwrap_or_else(|e| panic!("{e}"));
        let d = Config::defaults();
        assert_eq!(parsed.listen, d.listen);
        assert_eq!(parsed.driver_ttl, d.driver_ttl);
        assert_eq!(parsed.request_timeout, d.request_timeout);
        assert_eq!(parsed.search_interval, d.search_interval);
        assert_eq!(parsed.match_radius_km, d.match_radius_km);
        assert_eq!(parsed.redis_prefix, d.redis_prefix);
    }
}
