//! Shared test setup: a real server on 127.0.0.1:0, real HTTP and WebSocket
//! clients, and (for the Redis store) a real `redis-server` of the test's own.

#![allow(dead_code)]

pub mod process;
pub mod raw_ws;
pub mod redis_server;
pub mod streams;
pub mod ws;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use serde_json::{json, Value};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tracking::{store::Store, Application, Config};

pub use process::ServiceProcess;
pub use redis_server::RedisServer;
pub use test_support::RedisCluster;
pub use ws::{Protocol, Subscription};

pub use test_support::{eventually, free_port, within, PATIENCE};

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
                let memory = Arc::new(
                    tracking::store::memory::MemoryStore::new(config.driver_ttl).with_retention(
                        tracking::store::Retention {
                            rides: config.ride_retention,
                            drivers: config.driver_retention,
                        },
                    ),
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
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let app = Application::build_on(config, listener)
            .await
            .expect("build the service on the cluster");
        let mut app = Self::run(app, None);
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
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let app = Application::build_on(config, listener)
            .await
            .expect("build the service");
        Self::run(app, redis)
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

/// Talks to a service over HTTP and WebSocket, with a bearer token or
/// none: `tracking-client`, with the answers as JSON for the assertions.
#[derive(Clone)]
pub struct Client {
    pub addr: SocketAddr,
    pub token: Option<String>,
    pub api: tracking_client::Client,
}

impl Client {
    pub fn new(addr: SocketAddr, token: Option<String>) -> Self {
        let api = tracking_client::Client::new(format!("http://{addr}")).expect("an HTTP client");
        let api = match &token {
            Some(token) => api.with_token(token.clone()),
            None => api,
        };
        Self { addr, token, api }
    }

    pub fn url(&self, path: &str) -> String {
        self.api.url(path)
    }

    /// The HTTP client underneath.
    pub fn http(&self) -> &reqwest::Client {
        self.api.http()
    }

    /// Posts a GraphQL request; returns the whole response body.
    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        let (status, body) = within(
            PATIENCE,
            "a GraphQL response",
            self.api.execute(query, variables),
        )
        .await
        .expect("POST /graphql");
        assert_eq!(status, 200, "POST /graphql status: {body}");
        body
    }

    /// Posts a GraphQL request with a bearer token (or none); returns the
    /// HTTP status and the body.
    pub async fn gql_as(&self, token: Option<&str>, query: &str, variables: Value) -> (u16, Value) {
        let api = tracking_client::Client::with_http(self.api.base(), self.http().clone());
        let api = match token {
            Some(token) => api.with_token(token),
            None => api,
        };
        within(
            PATIENCE,
            "a GraphQL response",
            api.execute(query, variables),
        )
        .await
        .expect("POST /graphql")
    }

    /// Posts a GraphQL request that must succeed; returns its `data`.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let body = self.gql(query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }

    /// Posts a GraphQL request that must fail; returns its first error's code.
    pub async fn error_code(&self, query: &str, variables: Value) -> String {
        let body = self.gql(query, variables).await;
        error_code_of(&body)
    }

    /// Posts raw text to a path (with this client's token); returns status
    /// and body (JSON when it parses).
    pub async fn post_raw(&self, path: &str, body: &str) -> (u16, Value) {
        let (status, bytes) = within(
            PATIENCE,
            "an HTTP response",
            self.api.post_raw(path, body.to_owned()),
        )
        .await
        .expect("POST");
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    /// `GET` a path; status and body text.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = within(
            PATIENCE,
            "an HTTP response",
            self.http().get(self.url(path)).send(),
        )
        .await
        .expect("GET");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }

    /// The `connection_init` payload carrying this client's token.
    pub fn init_payload(&self) -> Value {
        match &self.token {
            Some(token) => json!({"authorization": format!("Bearer {token}")}),
            None => json!({}),
        }
    }

    /// Opens a WebSocket on `/ws` and starts one subscription.
    pub async fn subscribe(
        &self,
        protocol: Protocol,
        query: &str,
        variables: Value,
    ) -> Subscription {
        Subscription::start_with_init(self.addr, protocol, self.init_payload(), query, variables)
            .await
    }

    /// Subscribes to `rideStatus` for one ride.
    pub async fn watch_ride(&self, protocol: Protocol, id: &str) -> Subscription {
        self.subscribe(protocol, RIDE_STATUS, json!({"id": id}))
            .await
    }

    // The operations the scenarios use, spelled once.

    pub async fn update_location(&self, driver: &str, (lat, lng): (f64, f64)) -> Value {
        self.data(
            "mutation($d: ID!, $lat: Float!, $lng: Float!) { updateLocation(driverId: $d, lat: $lat, lng: $lng) { id status location { lat lng } updatedAt } }",
            json!({"d": driver, "lat": lat, "lng": lng}),
        )
        .await["updateLocation"]
            .clone()
    }

    pub async fn request_driver(&self, rider: &str, (lat, lng): (f64, f64)) -> Value {
        self.data(
            &format!("mutation($r: ID!, $lat: Float!, $lng: Float!) {{ requestDriver(riderId: $r, lat: $lat, lng: $lng) {{ {RIDE_FIELDS} }} }}"),
            json!({"r": rider, "lat": lat, "lng": lng}),
        )
        .await["requestDriver"]
            .clone()
    }

    pub async fn ride(&self, id: &str) -> Value {
        self.data(
            &format!("query($id: ID!) {{ ride(id: $id) {{ {RIDE_FIELDS} }} }}"),
            json!({"id": id}),
        )
        .await["ride"]
            .clone()
    }

    pub async fn driver(&self, id: &str) -> Value {
        self.data(
            "query($id: ID!) { driver(id: $id) { id status location { lat lng } updatedAt rideId } }",
            json!({"id": id}),
        )
        .await["driver"]
            .clone()
    }

    /// `cancelRequest`; returns the whole response (it may be an error).
    pub async fn cancel(&self, ride: &str) -> Value {
        self.gql(
            &format!("mutation($id: ID!) {{ cancelRequest(rideId: $id) {{ {RIDE_FIELDS} }} }}"),
            json!({"id": ride}),
        )
        .await
    }

    /// `completeRide`; returns the whole response (it may be an error).
    pub async fn complete(&self, ride: &str) -> Value {
        self.gql(
            &format!("mutation($id: ID!) {{ completeRide(rideId: $id) {{ {RIDE_FIELDS} }} }}"),
            json!({"id": ride}),
        )
        .await
    }

    /// `goOffline`; returns the whole response (it may be an error).
    pub async fn go_offline(&self, driver: &str) -> Value {
        self.gql(
            "mutation($id: ID!) { goOffline(driverId: $id) { id status } }",
            json!({"id": driver}),
        )
        .await
    }

    /// `nearbyDrivers`: the ids found, nearest first, with distances.
    pub async fn nearby(
        &self,
        (lat, lng): (f64, f64),
        radius_km: f64,
        limit: i64,
    ) -> Vec<(String, f64)> {
        let data = self
            .data(
                "query($lat: Float!, $lng: Float!, $r: Float, $n: Int) { nearbyDrivers(lat: $lat, lng: $lng, radiusKm: $r, limit: $n) { distanceKm driver { id status } } }",
                json!({"lat": lat, "lng": lng, "r": radius_km, "n": limit}),
            )
            .await;
        data["nearbyDrivers"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|n| {
                assert_eq!(n["driver"]["status"], "AVAILABLE", "listed: {n}");
                (
                    n["driver"]["id"].as_str().expect("id").to_owned(),
                    n["distanceKm"].as_f64().expect("distance"),
                )
            })
            .collect()
    }

    /// Waits until a ride has the given status, following it over
    /// `rideStatus` (the snapshot comes first, so a status reached before
    /// the call counts too); returns the ride as it was then.
    pub async fn ride_reaches(&self, id: &str, status: &str) -> Value {
        let mut sub = self.watch_ride(Protocol::TransportWs, id).await;
        within(PATIENCE, &format!("ride {id} to become {status}"), async {
            loop {
                match sub.next_event().await {
                    ws::Event::Next(payload) => {
                        assert!(payload.get("errors").is_none(), "ride {id}: {payload}");
                        let ride = payload["data"]["rideStatus"].clone();
                        if ride["status"] == status {
                            return ride;
                        }
                    }
                    other => panic!("ride {id} ended without becoming {status}: {other:?}"),
                }
            }
        })
        .await
    }

    /// Waits until a ride has one of `statuses`; returns it then.
    pub async fn ride_reaches_any(&self, id: &str, statuses: &[&str]) -> Value {
        let mut sub = self.watch_ride(Protocol::TransportWs, id).await;
        loop {
            match sub.next_event().await {
                ws::Event::Next(payload) => {
                    let ride = payload["data"]["rideStatus"].clone();
                    if statuses.iter().any(|s| ride["status"] == *s) {
                        return ride;
                    }
                }
                other => panic!("ride {id} ended without reaching {statuses:?}: {other:?}"),
            }
        }
    }

    /// Waits until the ride's search task has searched at least once (a
    /// search that finds nobody changes no status, so nothing is pushed:
    /// this polls), and returns the ride then. Checks that a ride is *not*
    /// matched must come after this, or a wrong match landing after the
    /// check would pass unseen.
    pub async fn searched(&self, id: &str) -> Value {
        eventually(&format!("ride {id} to have searched"), || async {
            let ride = self.ride(id).await;
            (ride["searches"].as_i64().unwrap_or(0) >= 1).then_some(ride)
        })
        .await
    }

    /// `/metrics` as text.
    pub async fn metrics(&self) -> String {
        let (status, text) = self.get("/metrics").await;
        assert_eq!(status, 200, "GET /metrics");
        text
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The first error's `extensions.code` of a GraphQL response.
pub fn error_code_of(body: &Value) -> String {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error with a code, got {body}"))
        .to_owned()
}

/// A ride's id as a string.
pub fn id_of(value: &Value) -> String {
    value["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {value}"))
        .to_owned()
}

/// The ride fields every test asks for.
pub const RIDE_FIELDS: &str =
    "id riderId status searches distanceKm createdAt expiresAt pickup { lat lng } driver { id status }";

/// The subscription every test uses.
pub const RIDE_STATUS: &str = "subscription($id: ID!) { rideStatus(rideId: $id) { id riderId status searches distanceKm createdAt expiresAt pickup { lat lng } driver { id status } } }";

/// The seed's rider and driver positions (Santiago), 0.19 km apart.
pub const RIDER: (f64, f64) = (-33.44262, -70.63054);
pub const DRIVER: (f64, f64) = (-33.44091, -70.6301);

/// A point `km` north of `from` (1° of latitude is about 111.2 km).
pub fn north_of(from: (f64, f64), km: f64) -> (f64, f64) {
    (from.0 + km / 111.2, from.1)
}

/// Percent-encodes `text` for a query string (every byte but the
/// unreserved ones).
pub fn urlencode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}
