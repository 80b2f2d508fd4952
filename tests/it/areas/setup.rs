//! What the areas tests share: a service on the two cities, points on and
//! around their border, and the counts `areas` reports.

use serde_json::json;

use crate::common::{
    areas::{areas_file, two_cities},
    StoreKind, TestApp,
};

/// A point just east of the border between the two (in `east`).
pub(crate) const ACROSS: (f64, f64) = (-33.44, -70.499);

/// A point just west of it (in `scl`), 0.2 km from `ACROSS`.
pub(crate) const BORDER: (f64, f64) = (-33.44, -70.5012);

/// A point exactly on the border the two share (in `scl`, listed first).
pub(crate) const ON_BORDER: (f64, f64) = (-33.44, -70.5);

/// 22 m apart, one on each side of the border between `scl` and `east`.
pub(crate) const WEST_EDGE: (f64, f64) = (-33.44, -70.50012);

pub(crate) const EAST_EDGE: (f64, f64) = (-33.44, -70.49988);

pub(crate) async fn with_areas(store: StoreKind, name: &str) -> TestApp {
    let path = areas_file(&format!("{name}-{store:?}"), &two_cities());
    TestApp::spawn(store, |c| c.areas = Some(path)).await
}

pub(crate) async fn counts(app: &TestApp) -> Vec<(String, i64, i64)> {
    let data = app
        .data(
            "{ areas { id availableDrivers searchingRides } }",
            json!({}),
        )
        .await;
    data["areas"]
        .as_array()
        .expect("areas")
        .iter()
        .map(|a| {
            (
                a["id"].as_str().unwrap_or("?").to_owned(),
                a["availableDrivers"].as_i64().unwrap_or(-1),
                a["searchingRides"].as_i64().unwrap_or(-1),
            )
        })
        .collect()
}

/// Drivers listed per area, every area (and the outside) together.
pub(crate) async fn listed(app: &TestApp) -> i64 {
    counts(app)
        .await
        .iter()
        .map(|(_, available, _)| available)
        .sum()
}
