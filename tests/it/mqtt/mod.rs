//! OwnTracks over MQTT against a real `mosquitto` of each test's own, the
//! messages published with `mosquitto_pub` (QoS 1, as the app does): the
//! driver appears; a late message is STALE; unknown devices, garbage and
//! oversized payloads are counted and dropped while the next good message
//! applies (on every store); two instances share the subscription (each
//! message applied once); a broker restarted on its port is reconnected
//! to; `mqtts://` with `--mqtt-ca`; the flags that stop the start.

mod helpers;
mod instances;
mod start;

use helpers::{
    broker, counted, counted_reaches, credentials, location, now, position, publish, service,
    stands_at, StoreGuard, TempDir,
};

use crate::common::{for_each_store, north_of, StoreKind, DRIVER};

for_each_store!(
    a_published_location_moves_its_driver,
    a_late_message_is_stale_and_moves_nothing_back,
    what_is_not_a_location_is_counted_and_dropped,
);

/// A location published on `owntracks/<user>/<device>` reports the
/// driver the credentials file maps that device to, at the phone's time;
/// the URL's password never reaches the log.
async fn a_published_location_moves_its_driver(store: StoreKind) {
    let store = StoreGuard::start(store).await;
    let broker = broker().await;
    let dir = TempDir::new("moves");
    let file = credentials(&dir, &[("alice", "phone", "d-17")]);
    let url = format!("mqtt://ingest:s3cret-pw@127.0.0.1:{}", broker.port());
    let (process, app) = service(&store, &url, &file, &[]).await;

    let tst = now() - 5;
    publish(
        broker.port(),
        "owntracks/alice/phone",
        &location(DRIVER, tst),
    )
    .await;
    stands_at(&app, "d-17", DRIVER).await;
    let driver = app.driver("d-17").await;
    assert_eq!(driver["status"], "AVAILABLE");
    let updated = chrono::DateTime::parse_from_rfc3339(driver["updatedAt"].as_str().unwrap())
        .expect("updatedAt");
    assert_eq!(
        updated.timestamp(),
        tst,
        "dated by the phone, not by arrival"
    );
    assert_eq!(counted(&app, "accepted").await, 1.0);

    let log = process.log.lock().unwrap().text();
    assert!(
        log.contains("mqtt://127.0.0.1:"),
        "the broker is named: {log}"
    );
    assert!(!log.contains("s3cret-pw"), "the password was logged: {log}");
}

/// A message dated before the driver's last report (a phone's backlog
/// arriving late) is STALE: the driver stays where the newer one put it.
async fn a_late_message_is_stale_and_moves_nothing_back(store: StoreKind) {
    let store = StoreGuard::start(store).await;
    let broker = broker().await;
    let dir = TempDir::new("stale");
    let file = credentials(&dir, &[("bob", "tablet", "d-2")]);
    let (_process, app) = service(&store, &broker.url(), &file, &[]).await;

    let t = now() - 5;
    publish(broker.port(), "owntracks/bob/tablet", &location(DRIVER, t)).await;
    stands_at(&app, "d-2", DRIVER).await;
    let behind = north_of(DRIVER, 1.0);
    publish(
        broker.port(),
        "owntracks/bob/tablet",
        &location(behind, t - 30),
    )
    .await;
    counted_reaches(&app, "stale", 1.0).await;
    assert_eq!(position(&app, "d-2").await, Some(DRIVER), "not moved back");
    assert_eq!(counted(&app, "accepted").await, 1.0);
}

/// An unknown device, a payload that is not JSON, one over the size
/// cap, one without a position and a non-location `_type` are each
/// counted under their outcome and dropped; one over the packet size the
/// broker was given never arrives; the service stays connected and the
/// next good message applies.
async fn what_is_not_a_location_is_counted_and_dropped(store: StoreKind) {
    let store = StoreGuard::start(store).await;
    let broker = broker().await;
    let dir = TempDir::new("garbage");
    let file = credentials(&dir, &[("carol", "phone", "d-3")]);
    let (process, app) = service(&store, &broker.url(), &file, &[]).await;
    let port = broker.port();
    let t = now() - 5;

    publish(port, "owntracks/mallory/phone", &location(DRIVER, t)).await;
    publish(port, "owntracks/carol/laptop", &location(DRIVER, t)).await;
    publish(port, "owntracks/carol/phone", "{not json").await;
    publish(
        port,
        "owntracks/carol/phone",
        r#"{"_type":"location","tst":1}"#,
    )
    .await;
    let huge = format!(
        r#"{{"_type":"location","pad":"{}"}}"#,
        "x".repeat(20 * 1024)
    );
    publish(port, "owntracks/carol/phone", &huge).await;
    // Past the packet size the service gives the broker: the broker drops
    // it, and the connection stays up.
    let huger = format!(
        r#"{{"_type":"location","pad":"{}"}}"#,
        "x".repeat(80 * 1024)
    );
    publish(port, "owntracks/carol/phone", &huger).await;
    let transition = r#"{"_type":"transition","event":"enter","tst":1700000000,"lat":1,"lon":1,"acc":5,"wtst":1,"tid":"ph"}"#;
    publish(port, "owntracks/carol/phone", transition).await;
    counted_reaches(&app, "unknown_device", 2.0).await;
    counted_reaches(&app, "malformed", 2.0).await;
    counted_reaches(&app, "too_large", 1.0).await;
    counted_reaches(&app, "ignored", 1.0).await;
    assert_eq!(
        app.driver("d-3").await,
        serde_json::Value::Null,
        "nothing stored"
    );

    let here = north_of(DRIVER, 0.2);
    publish(port, "owntracks/carol/phone", &location(here, t)).await;
    stands_at(&app, "d-3", here).await;
    let metrics = app.metrics().await;
    assert!(
        !metrics.contains("mallory"),
        "a topic became a label: {metrics}"
    );
    let log = process.log.lock().unwrap().text();
    assert!(
        !log.contains("MQTT connection lost"),
        "a message cut the connection: {log}"
    );
}
