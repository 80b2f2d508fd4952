//! Shared test setup: a real server on 127.0.0.1:0, real HTTP and WebSocket
//! clients, and (for the Redis store) a real `redis-server` of the test's own.

#![allow(dead_code)]

pub mod app;
pub mod areas;
pub mod client;
pub mod dispatch;
pub mod instances;
pub mod keys;
pub mod process;
pub mod raw_ws;
pub mod redis_server;
pub mod setup;
pub mod streams;
pub mod tokens;
pub mod values;
pub mod ws;

pub use app::TestApp;
pub use client::Client;
pub use process::ServiceProcess;
pub use redis_server::RedisServer;
pub use setup::{test_config, StoreKind};
pub use test_support::RedisCluster;
pub use test_support::{eventually, free_port, within, PATIENCE};
pub use values::{
    error_code_of, header, id_of, metric, north_of, outcome, urlencode, DRIVER, RIDER, RIDE_STATUS,
};
pub use ws::{Protocol, Subscription};

/// Makes one test per store from each scenario (`async fn(StoreKind)`),
/// so the in-memory and the Redis store are held to the same behaviour.
macro_rules! for_each_store {
    ($($scenario:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(crate::common::StoreKind::Memory).await
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(crate::common::StoreKind::Redis).await
                }
            )*
        }
        mod cluster {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(crate::common::StoreKind::Cluster).await
                }
            )*
        }
    };
}
pub(crate) use for_each_store;
