//! A service running in the test's own process, on the store the test
//! chose, stopped when the test drops it.

use std::{net::SocketAddr, sync::Arc};

use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tracking::{store::Store, Application, Config};

use super::{
    client::Client,
    setup::{test_config, StoreKind},
    within, RedisCluster, RedisServer, PATIENCE,
};

/// A running service.
pub struct TestApp {
    /// The client every helper goes through (no token).
    client: Client,
    /// Keeps the Redis server alive as long as the app (when it has one).
    pub redis: Option<Arc<RedisServer>>,
    /// The in-memory store, when the app runs on one the test made.
    pub memory: Option<Arc<tracking::store::memory::MemoryStore>>,
    /// Keeps the Redis Cluster alive as long as the app (when it has one).
    pub cluster: Option<Arc<RedisCluster>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl std::ops::Deref for TestApp {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl TestApp {
    /// Starts a service on `store` with the test settings changed by `tweak`.
    pub async fn spawn(store: StoreKind, tweak: impl FnOnce(&mut Config)) -> Self {
        match store {
            StoreKind::Memory => {
                let mut config = test_config();
                tweak(&mut config);
                if config.areas.is_some() {
                    // A store per area, made by the service itself.
                    return Self::spawn_with(None, |c| *c = config).await;
                }
                let events = &config.events;
                let log = tracking::store::LogSettings {
                    enabled: events.log_on(&tracking::domain::ServiceAreas::everywhere()),
                    approach_meters: events.approach_meters,
                    max_dead_letters: usize::try_from(events.max_dead_letters)
                        .unwrap_or(usize::MAX),
                };
                let memory = Arc::new(
                    tracking::store::memory::MemoryStore::new(config.driver_ttl)
                        .with_retention(tracking::store::Retention {
                            rides: config.ride_retention,
                            drivers: config.driver_retention,
                        })
                        .with_log(log),
                );
                let mut app = Self::spawn_on(memory.clone(), |c| *c = config).await;
                app.memory = Some(memory);
                app
            }
            StoreKind::Redis => {
                Self::spawn_with(Some(Arc::new(RedisServer::start().await)), tweak).await
            }
            StoreKind::Cluster => {
                let cluster = Arc::new(RedisCluster::start(3, 0).await);
                Self::spawn_on_cluster(cluster, tweak).await
            }
        }
    }

    /// Starts a service on an existing Redis Cluster.
    pub async fn spawn_on_cluster(
        cluster: Arc<RedisCluster>,
        tweak: impl FnOnce(&mut Config),
    ) -> Self {
        let mut config = test_config();
        config.redis_cluster = cluster.urls();
        tweak(&mut config);
        let mut app = Self::run(build(config).await, None);
        app.cluster = Some(cluster);
        app
    }

    /// How many rides the store holds, whatever their ids.
    pub async fn stored_rides(&self) -> usize {
        match (&self.memory, &self.redis, &self.cluster) {
            (Some(memory), _, _) => memory.counts().1,
            (_, Some(redis), _) => {
                let keys: Vec<String> = redis.cmd(&["KEYS", "*:ride:*"]).await;
                keys.len()
            }
            (_, _, Some(cluster)) => {
                // Every primary holds its own slots' keys (no replicas here).
                let mut total = 0;
                for url in cluster.urls() {
                    let client = redis::Client::open(url).expect("a node's URL");
                    let mut conn = client
                        .get_multiplexed_async_connection()
                        .await
                        .expect("a node answers");
                    let keys: Vec<String> = redis::cmd("KEYS")
                        .arg("*:ride:*")
                        .query_async(&mut conn)
                        .await
                        .expect("KEYS");
                    total += keys.len();
                }
                total
            }
            _ => panic!("stored_rides needs a store the test can see"),
        }
    }

    /// Another instance on the store this one runs on (its Redis or its
    /// Cluster) with the test settings changed by `tweak`; `None` in memory,
    /// where one process is all there is.
    pub async fn another_instance(&self, tweak: impl FnOnce(&mut Config)) -> Option<Self> {
        match (&self.redis, &self.cluster) {
            (Some(redis), _) => Some(Self::spawn_with(Some(redis.clone()), tweak).await),
            (_, Some(cluster)) => Some(Self::spawn_on_cluster(cluster.clone(), tweak).await),
            _ => None,
        }
    }

    /// A client for a service running elsewhere (e.g. a child process).
    pub fn attach(addr: SocketAddr) -> Self {
        Self {
            client: Client::new(addr, None),
            redis: None,
            memory: None,
            cluster: None,
            stop: None,
            task: None,
        }
    }

    /// Starts a service on an existing Redis (or in memory for `None`).
    pub async fn spawn_with(
        redis: Option<Arc<RedisServer>>,
        tweak: impl FnOnce(&mut Config),
    ) -> Self {
        let mut config = test_config();
        config.redis_url = redis.as_ref().map(|r| r.url());
        tweak(&mut config);
        Self::run(build(config).await, redis)
    }

    /// Starts a service around a store the test made (and can look into).
    pub async fn spawn_on(store: Arc<dyn Store>, tweak: impl FnOnce(&mut Config)) -> Self {
        let mut config = test_config();
        tweak(&mut config);
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let app = Application::build_with_store(config, listener, store)
            .await
            .expect("build the service");
        Self::run(app, None)
    }

    fn run(app: Application, redis: Option<Arc<RedisServer>>) -> Self {
        let addr = app.local_addr().expect("local address");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        Self {
            client: Client::new(addr, None),
            redis,
            memory: None,
            cluster: None,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// The same service, as the holder of `token`.
    pub fn as_user(&self, token: &str) -> Client {
        Client::new(self.addr, Some(token.to_owned()))
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            within(PATIENCE, "the server to stop", task)
                .await
                .expect("server task")
                .expect("server result");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Builds the service `config` describes, on a port of its own.
async fn build(config: Config) -> Application {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    Application::build_on(config, listener)
        .await
        .expect("build the service")
}
