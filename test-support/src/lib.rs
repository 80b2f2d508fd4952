//! Dev-only helpers shared by `tests/` and `bench/`: a `redis-server` (or
//! a Redis Cluster), a `nats-server -js` and a `mosquitto` of the caller's own, free
//! ports, child processes that inherit no `TRACKING_*` variable, and
//! bounded waits; generated cities as `.osm` XML ([`city`]).

pub mod city;
mod mosquitto;
mod nats_server;
mod redis_cluster;
mod redis_server;

use std::{future::Future, process::Command, time::Duration};

pub use mosquitto::{MosquittoServer, TlsFiles};
pub use nats_server::NatsServer;
pub use redis_cluster::RedisCluster;
pub use redis_server::{Listen, RedisServer};

/// How long any single awaited event may take before a test fails.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Awaits `fut`, panicking with `what` if it takes longer than `limit`.
pub async fn within<T>(limit: Duration, what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit, fut).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {limit:?} waiting for {what}"),
    }
}

/// Polls `check` every 20 ms until it returns `Some`, for at most
/// [`PATIENCE`]. Only for conditions nothing pushes (time passing, state no
/// subscription reports).
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    within(PATIENCE, what, async {
        loop {
            if let Some(value) = check().await {
                return value;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

/// A port nobody listens on at this moment (for servers that cannot bind
/// port 0 and say which they got, such as `redis-server` on TCP; check the
/// process after starting it, another may have taken the port meanwhile).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// Removes every `TRACKING_*` variable from a child's environment, so a
/// developer who exported `TRACKING_REDIS_URL` or `TRACKING_JWT_SECRET` runs
/// what CI runs.
pub fn without_tracking_env(command: &mut Command) -> &mut Command {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("TRACKING_") {
            command.env_remove(name);
        }
    }
    command
}
