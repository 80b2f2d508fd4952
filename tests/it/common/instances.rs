//! Several instances of the service on one store: two in this process
//! sharing a Redis or a Cluster, or a deployment of processes on a Redis of
//! the test's own (processes, so that a test can SIGKILL one).

use tracking::Config;

use super::{RedisServer, ServiceProcess, StoreKind, TestApp};

/// Two instances in this process on one `store` of their own (Redis or
/// Cluster), each with the test settings changed by `tweak`.
pub async fn two_instances(
    store: StoreKind,
    tweak: impl Fn(&mut Config) + Copy,
) -> (TestApp, TestApp) {
    let first = TestApp::spawn(store, tweak).await;
    let second = first
        .another_instance(tweak)
        .await
        .unwrap_or_else(|| panic!("instances cannot share a {store:?} store"));
    (first, second)
}

/// A Redis of the test's own, and the flags every instance on it starts
/// with (after `--redis-url`).
pub struct Deployment {
    pub redis: RedisServer,
    flags: Vec<String>,
}

impl Deployment {
    /// Starts the Redis; instances start with [`Deployment::instance`].
    pub async fn start(flags: &[&str]) -> Self {
        let redis = RedisServer::start().await;
        let mut all = vec!["--redis-url".to_owned(), redis.url()];
        all.extend(flags.iter().map(|f| (*f).to_owned()));
        Self { redis, flags: all }
    }

    /// The command line every instance runs with.
    pub fn flags(&self) -> Vec<&str> {
        self.flags.iter().map(String::as_str).collect()
    }

    /// Starts one more instance, as a process, and a client of it.
    pub fn instance(&self) -> (ServiceProcess, TestApp) {
        let process = ServiceProcess::start(&self.flags());
        let client = TestApp::attach(process.addr);
        (process, client)
    }
}
