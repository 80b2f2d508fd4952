//! What the MQTT tests share: a broker of the test's own, a credentials
//! file, the service as a process on the store a test chose (its own
//! `/metrics`, so counts are its alone), and publishing as a phone does,
//! with `mosquitto_pub` at QoS 1.

use std::{
    path::{Path, PathBuf},
    sync::atomic::{AtomicU32, Ordering},
};

use serde_json::json;
use test_support::MosquittoServer;

use crate::common::{
    eventually, metric, within, RedisCluster, RedisServer, ServiceProcess, StoreKind, TestApp,
    PATIENCE,
};

/// A directory of the test's own, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(what: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("tracking-mqtt-{what}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes a credentials file mapping each (user, device) to a driver (no
/// password: these devices report over MQTT only).
pub fn credentials(dir: &TempDir, devices: &[(&str, &str, &str)]) -> PathBuf {
    let entries: Vec<_> = devices
        .iter()
        .map(|(user, device, driver)| json!({"user": user, "device": device, "driver": driver}))
        .collect();
    let file = dir.path("devices.json");
    std::fs::write(&file, json!({ "devices": entries }).to_string()).expect("write devices");
    file
}

/// The store a service process runs on, kept alive as long as it.
pub enum StoreGuard {
    Memory,
    Redis(RedisServer),
    Cluster(RedisCluster),
}

impl StoreGuard {
    pub async fn start(store: StoreKind) -> Self {
        match store {
            StoreKind::Memory => Self::Memory,
            StoreKind::Redis => Self::Redis(RedisServer::start().await),
            StoreKind::Cluster => Self::Cluster(RedisCluster::start(3, 0).await),
        }
    }

    /// The flags naming this store.
    pub fn flags(&self) -> Vec<String> {
        match self {
            Self::Memory => vec![],
            Self::Redis(redis) => vec!["--redis-url".into(), redis.url()],
            Self::Cluster(cluster) => vec!["--redis-cluster".into(), cluster.urls().join(",")],
        }
    }
}

/// Starts the service on `store` subscribed to `broker_url` with the
/// devices of `file`, plus `extra` flags; returns once it is subscribed.
pub async fn service(
    store: &StoreGuard,
    broker_url: &str,
    file: &Path,
    extra: &[&str],
) -> (ServiceProcess, TestApp) {
    let mut flags = store.flags();
    flags.extend([
        "--mqtt-url".into(),
        broker_url.into(),
        "--device-credentials".into(),
        file.display().to_string(),
        // The tests move drivers freely and publish quickly.
        "--max-speed-kmh".into(),
        "0".into(),
        "--max-update-rate".into(),
        "0".into(),
    ]);
    flags.extend(extra.iter().map(|f| (*f).to_owned()));
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let process = ServiceProcess::start(&flags);
    let app = TestApp::attach(process.addr);
    subscribed(&app, true).await;
    (process, app)
}

/// Waits until `tracking_mqtt_connected` is 1 (`true`: connected and
/// subscribed) or 0.
pub async fn subscribed(app: &TestApp, up: bool) {
    let want = if up { 1.0 } else { 0.0 };
    let what = if up {
        "the ingest to subscribe"
    } else {
        "the ingest to see the broker gone"
    };
    eventually(what, || async {
        let text = app.metrics().await;
        (metric(&text, "tracking_mqtt_connected") == Some(want)).then_some(())
    })
    .await;
}

/// How many messages the service counted with `outcome`.
pub async fn counted(app: &TestApp, outcome: &str) -> f64 {
    let text = app.metrics().await;
    let series = format!("tracking_mqtt_messages_total{{outcome=\"{outcome}\"}}");
    metric(&text, &series).unwrap_or(0.0)
}

/// Waits until the service has counted `n` messages with `outcome`.
pub async fn counted_reaches(app: &TestApp, outcome: &str, n: f64) {
    eventually(&format!("{n} message(s) counted {outcome}"), || async {
        (counted(app, outcome).await >= n).then_some(())
    })
    .await;
    assert_eq!(counted(app, outcome).await, n, "{outcome} counted");
}

/// Publishes `payload` on `topic` with `mosquitto_pub` at QoS 1 (a real
/// client, as a phone in MQTT mode is).
pub async fn publish(broker_port: u16, topic: &str, payload: &str) {
    publish_with(broker_port, topic, payload, &[]).await;
}

/// Like [`publish`], with extra `mosquitto_pub` arguments (TLS).
pub async fn publish_with(broker_port: u16, topic: &str, payload: &str, extra: &[&str]) {
    let port = broker_port.to_string();
    let status = within(
        PATIENCE,
        "mosquitto_pub",
        tokio::process::Command::new("mosquitto_pub")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-q",
                "1",
                "-t",
                topic,
                "-m",
                payload,
            ])
            .args(extra)
            .status(),
    )
    .await
    .expect("mosquitto_pub installed (scripts/test.sh installs mosquitto-clients)");
    assert!(status.success(), "mosquitto_pub to {topic}: {status}");
}

/// An OwnTracks location, as the app sends it (owntracks.org/booklet/tech/json/).
pub fn location((lat, lon): (f64, f64), tst: i64) -> String {
    json!({
        "_type": "location", "tid": "ph", "lat": lat, "lon": lon, "tst": tst,
        "acc": 12, "alt": 540, "batt": 87, "conn": "m", "vel": 23, "t": "u"
    })
    .to_string()
}

/// Now, in unix seconds.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The driver's position as the service reports it (`None`: not there).
pub async fn position(app: &TestApp, driver: &str) -> Option<(f64, f64)> {
    let found = app.driver(driver).await;
    let location = found.get("location")?;
    Some((location["lat"].as_f64()?, location["lng"].as_f64()?))
}

/// Waits until the driver stands at `at` (within a metre or so).
pub async fn stands_at(app: &TestApp, driver: &str, at: (f64, f64)) {
    eventually(&format!("driver {driver} at {at:?}"), || async {
        let here = position(app, driver).await?;
        ((here.0 - at.0).abs() < 1e-5 && (here.1 - at.1).abs() < 1e-5).then_some(())
    })
    .await;
}

/// A broker of the test's own.
pub async fn broker() -> MosquittoServer {
    MosquittoServer::start().await
}
