//! The ingest beside others and through outages: two instances on one
//! Redis split the shared subscription (each message applied once), and a
//! broker killed and restarted on its port is reconnected to.

use super::helpers::{
    broker, counted, credentials, location, now, publish, service, stands_at, subscribed,
    StoreGuard, TempDir,
};
use crate::common::{eventually, north_of, StoreKind, DRIVER};

/// Messages for drivers published to the shared subscription of two
/// instances on one Redis: each is accepted by exactly one of them, both
/// take some, and every driver is where its message put it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_the_subscription_each_message_once() {
    const DRIVERS: usize = 40;
    let store = StoreGuard::start(StoreKind::Redis).await;
    let broker = broker().await;
    let dir = TempDir::new("shared");
    let names: Vec<(String, String)> = (0..DRIVERS)
        .map(|n| (format!("user{n}"), format!("d-{n}")))
        .collect();
    let devices: Vec<(&str, &str, &str)> = names
        .iter()
        .map(|(user, driver)| (user.as_str(), "phone", driver.as_str()))
        .collect();
    let file = credentials(&dir, &devices);
    let (_first, a) = service(&store, &broker.url(), &file, &[]).await;
    let (_second, b) = service(&store, &broker.url(), &file, &[]).await;

    let t = now() - 5;
    for (n, (user, _)) in names.iter().enumerate() {
        let at = north_of(DRIVER, 0.01 * n as f64);
        publish(
            broker.port(),
            &format!("owntracks/{user}/phone"),
            &location(at, t),
        )
        .await;
    }
    let (from_a, from_b) = eventually("every message accepted by one instance", || async {
        let (x, y) = (counted(&a, "accepted").await, counted(&b, "accepted").await);
        (x + y >= DRIVERS as f64).then_some((x, y))
    })
    .await;
    assert_eq!(from_a + from_b, DRIVERS as f64, "each message applied once");
    assert!(
        from_a > 0.0 && from_b > 0.0,
        "both took some: {from_a} + {from_b}"
    );
    for (n, (_, driver)) in names.iter().enumerate() {
        stands_at(&a, driver, north_of(DRIVER, 0.01 * n as f64)).await;
    }
    for instance in [&a, &b] {
        assert_eq!(
            counted(instance, "stale").await,
            0.0,
            "nothing delivered twice"
        );
    }
}

/// The broker killed (no goodbye) and started again on the same port,
/// without the sessions it had: the ingest sees it gone, reconnects with
/// its backoff, subscribes again, and the next message applies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ingest_reconnects_after_the_broker_restarts() {
    let store = StoreGuard::start(StoreKind::Memory).await;
    let broker = broker().await;
    let dir = TempDir::new("restart");
    let file = credentials(&dir, &[("dave", "phone", "d-4")]);
    let (process, app) = service(&store, &broker.url(), &file, &[]).await;
    let t = now() - 10;
    publish(broker.port(), "owntracks/dave/phone", &location(DRIVER, t)).await;
    stands_at(&app, "d-4", DRIVER).await;

    broker.stop();
    subscribed(&app, false).await;
    broker.start_again().await;
    subscribed(&app, true).await;
    let there = north_of(DRIVER, 0.5);
    publish(
        broker.port(),
        "owntracks/dave/phone",
        &location(there, t + 5),
    )
    .await;
    stands_at(&app, "d-4", there).await;
    let log = process.log.lock().unwrap().text();
    assert!(
        log.contains("MQTT connection lost"),
        "the outage is logged: {log}"
    );
}
