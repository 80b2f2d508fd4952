//! Each area's log is its market, through the whole service on every
//! store: a driver crossing a border while AVAILABLE is DRIVER_OFFLINE in
//! the area it leaves and DRIVER_AVAILABLE in the one it enters; reports
//! within one area log nothing.

use serde_json::json;

use crate::common::{areas::areas_file, areas::two_cities, StoreKind, TestApp};

async fn kinds(app: &TestApp, area: &str) -> Vec<String> {
    let data = app
        .data(
            "query($a: ID!) { events(area: $a) { events { type driverId } } }",
            json!({"a": area}),
        )
        .await;
    data["events"]["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["driverId"] == "x")
        .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
        .collect()
}

pub async fn a_driver_crossing_a_border_leaves_one_areas_market_for_the_other(store: StoreKind) {
    let file = areas_file("event-log-borders", &two_cities());
    let app = TestApp::spawn(store, |c| {
        c.areas = Some(file.clone());
        c.events.event_log = tracking::startup::events_config::EventLogMode::On;
    })
    .await;
    for lng in [-70.6, -70.61, -70.4, -70.41, -70.6] {
        app.update_location("x", (-33.44, lng)).await;
    }
    assert_eq!(
        kinds(&app, "scl").await,
        ["DRIVER_AVAILABLE", "DRIVER_OFFLINE", "DRIVER_AVAILABLE"]
    );
    assert_eq!(
        kinds(&app, "east").await,
        ["DRIVER_AVAILABLE", "DRIVER_OFFLINE"]
    );
}
