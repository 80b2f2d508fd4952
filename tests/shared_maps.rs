//! Live maps shared between dashboards, in a test binary of its own: it
//! reads a process-wide gauge (`tracking_shared_subscriptions`), which no
//! other test may move meanwhile.

// A test that meets the unexpected should fail loudly, right there.
#![allow(clippy::unwrap_used, clippy::expect_used)]

// Shared with the integration suite; this binary uses a few of its helpers.
#[allow(unused_imports, unused_macros)]
#[path = "it/common/mod.rs"]
mod common;

use std::time::Duration;

use serde_json::json;
use tracking::auth::Role;

use crate::common::{ws::Event, Protocol, StoreKind, TestApp, RIDER};

const FLEET: &str = "subscription { fleet(lat: -33.44262, lng: -70.63054, radiusKm: 20) { kind resync drivers { id } rides { id } } }";

/// Dashboards watching the same area with the same document share one
/// execution (`tracking_shared_subscriptions`): each gets a snapshot of its
/// own (one joining late sees what is there when it joins), then the same
/// changes, word for word; a caller who may not watch the fleet is refused
/// even while dispatchers share it; when the last one leaves, the shared
/// execution ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboards_on_the_same_area_share_one_execution() {
    const SECRET: &str = "test-secret-of-at-least-16-bytes";
    let token = |sub: &str, role| {
        tracking::auth::mint(SECRET, sub, role, Duration::from_secs(600)).expect("mint")
    };
    let app = TestApp::spawn(StoreKind::Memory, |c| {
        c.jwt_secret = Some(SECRET.into());
        c.fleet_interval = Duration::from_millis(100);
    })
    .await;
    let ops = app.as_user(&token("ops", Role::Dispatcher));
    let shared = || async {
        let text = app.metrics().await;
        text.lines()
            .find_map(|l| l.strip_prefix("tracking_shared_subscriptions "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };

    let mut first = ops.subscribe(Protocol::TransportWs, FLEET, json!({})).await;
    assert_eq!(first.next_fleet().await["kind"], "SNAPSHOT");
    ops.update_location("a", RIDER).await;
    let change = first.next_fleet().await;
    assert_eq!(
        (change["kind"].as_str(), change["drivers"][0]["id"].as_str()),
        (Some("CHANGES"), Some("a"))
    );

    // A late dashboard: its own snapshot holds the driver already there.
    let mut late = ops.subscribe(Protocol::LegacyWs, FLEET, json!({})).await;
    let snapshot = late.next_fleet().await;
    assert_eq!(snapshot["kind"], "SNAPSHOT");
    assert_eq!(snapshot["drivers"][0]["id"], "a", "{snapshot}");
    assert_eq!(shared().await, 1.0, "one execution for both");

    // Both see the same next change.
    ops.update_location("b", (RIDER.0 + 0.01, RIDER.1)).await;
    let (one, two) = (first.next_fleet().await, late.next_fleet().await);
    assert_eq!(one, two);
    assert_eq!(one["drivers"][0]["id"], "b", "{one}");

    // A rider may not watch the fleet, shared or not.
    let rider = app.as_user(&token("ana", Role::Rider));
    let mut refused = rider
        .subscribe(Protocol::TransportWs, FLEET, json!({}))
        .await;
    match refused.next_event().await {
        Event::Next(payload) => {
            assert_eq!(
                payload["errors"][0]["extensions"]["code"], "FORBIDDEN",
                "{payload}"
            )
        }
        Event::Error(payload) => assert!(payload.to_string().contains("FORBIDDEN"), "{payload}"),
        other => panic!("expected a refusal, got {other:?}"),
    }

    // The last dashboard leaves: the shared execution ends.
    drop((first, late));
    crate::common::eventually("the shared execution to end", || async {
        ops.update_location("a", (RIDER.0 + 0.001, RIDER.1)).await;
        (shared().await == 0.0).then_some(())
    })
    .await;
}
