//! The simulator drives a real service through its public API.

use std::time::Duration;

use tracking::{domain::Coordinates, simulate::SimulateArgs};

use crate::common::{StoreKind, TestApp, RIDER};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_fills_the_city() {
    let app = TestApp::spawn(StoreKind::Memory, |c| c.max_speed_kmh = 300.0).await;
    let args = SimulateArgs {
        url: app.url(""),
        token: None,
        drivers: 12,
        rides_per_minute: 600.0,
        center: Coordinates::parse(RIDER.0, RIDER.1).expect("centre"),
        radius_km: 3.0,
        report_every: Duration::from_millis(200),
        trip: Duration::from_millis(200),
        speed_kmh: 40.0,
        duration: Some(Duration::from_secs(3)),
    };
    tracking::simulate::run(args)
        .await
        .expect("the simulation runs");
    for i in 0..12 {
        let driver = app.driver(&format!("sim-{i}")).await;
        assert!(
            driver["location"]["lat"].is_number(),
            "sim-{i} reported: {driver}"
        );
    }
    let first = app.ride("1").await;
    assert!(first.is_object(), "the simulator requested rides");
    assert_ne!(
        first["status"], "EXPIRED",
        "with drivers near, rides are matched: {first}"
    );
}
