//! What each role may follow: `rideStatus` and `driverLocation` for the
//! ride's rider, its driver and dispatchers, `fleet` for dispatchers; and
//! a past ride no longer follows its driver.

use serde_json::json;
use tracking::auth::Role;

use super::setup::{fleet, secured};
use crate::common::{
    id_of, north_of, outcome,
    tokens::{token, token_for},
    Client, Protocol, DRIVER, RIDE_STATUS,
};

/// Once a ride has ended, its rider (and its driver) see who drove it, not
/// where that driver goes next, nor its next ride; dispatchers see all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_past_ride_no_longer_follows_its_driver() {
    let (app, _) = secured(|_| {}).await;
    let ride_id = fleet(&app).await;
    let ops = app.as_user(&token("ops", Role::Dispatcher));
    let query = "query($id: ID!) { ride(id: $id) { status driverId driver { id status rideId location { lat } } } }";
    let seen_by = |who: &str| {
        let client = Client::new(app.addr, token_for(who));
        let id = ride_id.clone();
        async move { client.data(query, json!({"id": id})).await["ride"].clone() }
    };
    // While it runs, the rider follows the driver.
    assert_eq!(seen_by("rider:r1").await["driver"]["id"], "d1");
    let done = app
        .as_user(&token("d1", Role::Driver))
        .complete(&ride_id)
        .await;
    assert_eq!(
        done["data"]["completeRide"]["status"], "COMPLETED",
        "{done}"
    );
    // The driver moves on to another rider.
    ops.update_location("d1", north_of(DRIVER, 0.05)).await;
    let next = id_of(&ops.request_driver("r2", north_of(DRIVER, 0.05)).await);
    ops.ride_reaches(&next, "DRIVER_FOUND").await;
    for who in ["rider:r1", "driver:d1"] {
        let ride = seen_by(who).await;
        assert_eq!(ride["status"], "COMPLETED");
        assert_eq!(ride["driverId"], "d1", "{who} still learns who drove");
        assert!(
            ride["driver"].is_null(),
            "{who} follows the driver after the ride: {ride}"
        );
    }
    let ride = seen_by("dispatcher:ops").await;
    assert_eq!(
        ride["driver"]["rideId"],
        next.as_str(),
        "dispatchers see all"
    );
    // And the rider cannot look the driver up either.
    let (_, body) = app
        .gql_as(
            token_for("rider:r1").as_deref(),
            "{ driver(id: \"d1\") { location { lat } } }",
            json!({}),
        )
        .await;
    assert_eq!(outcome(&body), "FORBIDDEN");
}

/// The subscriptions follow the same table: `rideStatus` and
/// `driverLocation` for the ride's rider, its driver and dispatchers;
/// `fleet` for dispatchers only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_may_follow_only_what_it_may_see() {
    let (app, _) = secured(|_| {}).await;
    let ride_id = fleet(&app).await;
    let driver_location =
        "subscription($id: ID!) { driverLocation(rideId: $id) { id location { lat } } }";
    let fleet_map =
        "subscription { fleet(lat: -33.44262, lng: -70.63054, radiusKm: 10) { kind drivers { id } } }";
    let table: Vec<(&str, &str, &str, &str)> = vec![
        (RIDE_STATUS, "rideStatus", "rider:r1", "ok"),
        (RIDE_STATUS, "rideStatus", "driver:d1", "ok"),
        (RIDE_STATUS, "rideStatus", "dispatcher:ops", "ok"),
        (RIDE_STATUS, "rideStatus", "rider:r2", "FORBIDDEN"),
        (RIDE_STATUS, "rideStatus", "driver:d2", "FORBIDDEN"),
        (RIDE_STATUS, "rideStatus", "none", "UNAUTHENTICATED"),
        (driver_location, "driverLocation", "rider:r1", "ok"),
        (driver_location, "driverLocation", "driver:d1", "ok"),
        (driver_location, "driverLocation", "dispatcher:ops", "ok"),
        (driver_location, "driverLocation", "rider:r2", "FORBIDDEN"),
        (driver_location, "driverLocation", "driver:d2", "FORBIDDEN"),
        (driver_location, "driverLocation", "none", "UNAUTHENTICATED"),
        (fleet_map, "fleet", "dispatcher:ops", "ok"),
        (fleet_map, "fleet", "rider:r1", "FORBIDDEN"),
        (fleet_map, "fleet", "driver:d1", "FORBIDDEN"),
        (fleet_map, "fleet", "none", "UNAUTHENTICATED"),
    ];
    for (query, field, who, expected) in table {
        let client = Client::new(app.addr, token_for(who));
        for protocol in Protocol::ALL {
            let mut sub = client
                .subscribe(protocol, query, json!({"id": ride_id}))
                .await;
            let got = match sub.outcome().await {
                Ok(payload) => {
                    assert!(payload["data"][field].is_object(), "{payload}");
                    "ok".to_owned()
                }
                Err(code) => code,
            };
            assert_eq!(got, expected, "{who} following {field} over {protocol:?}");
        }
    }
}
