//! What road times cost a request: `--max-complexity` is meant to bound the
//! work one request makes the service do, and every driver timed by road
//! is a query on the contraction hierarchy that holds one of the ranking's
//! few permits (the ones searches rank with).

use serde_json::json;

use super::{city::river, ranking::app};
use crate::common::{outcome, StoreKind};

/// `nearbyDrivers(orderBy: ETA, limit: 1)` times the nearest 16 drivers
/// whatever its `limit`, yet costs what a list of one does: aliased, a
/// request within the limit times 16 times the drivers it is charged for.
/// Listing by time must cost at least the drivers it times, as a list of
/// 16 by distance does (which the same limit refuses).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nearby_drivers_by_eta_is_charged_for_every_driver_it_times() {
    let app = app(StoreKind::Memory, true, |c| c.max_complexity = 100).await;
    for i in 0..20 {
        let at = (river::PICKUP.0, river::PICKUP.1 + 0.0005 * f64::from(i));
        app.update_location(&format!("d{i}"), at).await;
    }
    let storm = |args: &str| {
        let fields: Vec<String> = (0..40)
            .map(|i| {
                format!(
                    "n{i}: nearbyDrivers(lat: {}, lng: {}, {args}) {{ distanceKm }}",
                    river::PICKUP.0,
                    river::PICKUP.1
                )
            })
            .collect();
        format!("{{ {} }}", fields.join(" "))
    };
    // The same work by distance (40 lists of 16 drivers): too complex.
    let by_distance = app.gql(&storm("limit: 16"), json!({})).await;
    assert_eq!(outcome(&by_distance), "BAD_USER_INPUT", "{by_distance}");
    // By time, limit 1: 640 drivers timed by road, charged as 40.
    let by_eta = app.gql(&storm("orderBy: ETA, limit: 1"), json!({})).await;
    assert_eq!(
        outcome(&by_eta),
        "BAD_USER_INPUT",
        "40 × 16 drivers timed by road within --max-complexity 100: {}",
        by_eta.to_string().chars().take(300).collect::<String>()
    );
}
