//! What every test starts from: the store it runs on and the settings that
//! keep the suite fast.

use std::{net::SocketAddr, time::Duration};

use tracking::Config;

/// Which store a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Memory,
    Redis,
    /// A Redis Cluster of the test's own (three primaries).
    Cluster,
}

/// Settings that keep the suite fast and make polling invisible: a search
/// interval of a minute means any match a test sees within seconds came from
/// the immediate first search or a wake-up.
pub fn test_config() -> Config {
    let mut config = Config::defaults();
    config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    config.search_interval = Duration::from_secs(60);
    config.request_timeout = Duration::from_secs(60);
    // Scenarios move drivers instantly; the speed rule has its own test.
    config.max_speed_kmh = 0.0;
    // Most live-map tests follow single changes (DRIVER and RIDE events);
    // the gathered CHANGES events, the default, have tests of their own.
    config.fleet_interval = Duration::ZERO;
    config
}
