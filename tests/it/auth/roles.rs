//! The role table: each role may run only its own operations, answer and
//! move only its own rides, and call the REST routes it is allowed, with
//! its bearer token; a refusal changes nothing.

use std::time::Duration;

use serde_json::json;
use tracking::auth::Role;

use super::setup::{fleet, secured, world};
use crate::common::{
    id_of, north_of, outcome,
    tokens::{token, token_for},
    Client, Protocol, DRIVER, RIDER,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_may_do_only_its_own_operations() {
    let ride_op = |op: &str| format!("mutation($id: ID!) {{ {op}(rideId: $id) {{ id status }} }}");
    let cancel = ride_op("cancelRequest");
    let complete = ride_op("completeRide");
    // A position d1 is not at, so a refusal that wrote anyway would show.
    let update = format!(
        "mutation {{ updateLocation(driverId: \"d1\", lat: {}, lng: {}) {{ id }} }}",
        north_of(DRIVER, 0.05).0,
        DRIVER.1
    );
    let batch = format!(
        "mutation {{ updateLocations(updates: [{{driverId: \"d1\", lat: {}, lng: {}}}, {{driverId: \"d2\", lat: 1, lng: 1}}]) {{ accepted }} }}",
        north_of(DRIVER, 0.05).0,
        DRIVER.1
    );
    let offline = "mutation { goOffline(driverId: \"d3\") { id } }";
    let request = "mutation { requestDriver(riderId: \"r1\", lat: -33.4, lng: -70.6) { id } }";
    let ride = "query($id: ID!) { ride(id: $id) { id driver { id } } }";
    let driver = "query { driver(id: \"d1\") { id location { lat } } }";
    let nearby = "query { nearbyDrivers(lat: -33.44262, lng: -70.63054, radiusKm: 50) { distanceKm driver { id } } }";

    // (operation, who, expected)
    let table: Vec<(&str, &str, &str)> = vec![
        (&update, "driver:d1", "ok"),
        (&update, "driver:d2", "FORBIDDEN"),
        (&update, "rider:r1", "FORBIDDEN"),
        (&update, "dispatcher:ops", "ok"),
        (&update, "none", "UNAUTHENTICATED"),
        (&batch, "driver:d1", "FORBIDDEN"),
        (&batch, "driver:d2", "FORBIDDEN"),
        (&batch, "rider:r1", "FORBIDDEN"),
        (&batch, "dispatcher:ops", "ok"),
        (&batch, "none", "UNAUTHENTICATED"),
        (offline, "driver:d3", "ok"),
        (offline, "driver:d1", "FORBIDDEN"),
        (offline, "rider:r1", "FORBIDDEN"),
        (offline, "dispatcher:ops", "ok"),
        (offline, "none", "UNAUTHENTICATED"),
        (request, "rider:r1", "ok"),
        (request, "rider:r2", "FORBIDDEN"),
        (request, "driver:d1", "FORBIDDEN"),
        (request, "dispatcher:ops", "ok"),
        (request, "none", "UNAUTHENTICATED"),
        (ride, "rider:r1", "ok"),
        (ride, "rider:r2", "FORBIDDEN"),
        (ride, "driver:d1", "ok"),
        (ride, "driver:d2", "FORBIDDEN"),
        (ride, "dispatcher:ops", "ok"),
        (ride, "none", "UNAUTHENTICATED"),
        (&cancel, "rider:r1", "ok"),
        (&cancel, "rider:r2", "FORBIDDEN"),
        (&cancel, "driver:d1", "FORBIDDEN"),
        (&cancel, "dispatcher:ops", "ok"),
        (&cancel, "none", "UNAUTHENTICATED"),
        (&complete, "driver:d1", "ok"),
        (&complete, "driver:d2", "FORBIDDEN"),
        (&complete, "rider:r1", "FORBIDDEN"),
        (&complete, "dispatcher:ops", "ok"),
        (&complete, "none", "UNAUTHENTICATED"),
        (driver, "driver:d1", "ok"),
        (driver, "driver:d2", "FORBIDDEN"),
        (driver, "rider:r1", "ok"),
        (driver, "rider:r2", "FORBIDDEN"),
        (driver, "dispatcher:ops", "ok"),
        (driver, "none", "UNAUTHENTICATED"),
        (nearby, "rider:r1", "ok"),
        (nearby, "dispatcher:ops", "ok"),
        (nearby, "driver:d1", "FORBIDDEN"),
        (nearby, "none", "UNAUTHENTICATED"),
    ];
    for (query, who, expected) in table {
        let (app, store) = secured(|_| {}).await;
        let ride_id = fleet(&app).await;
        let before = world(&store);
        let (_, body) = app
            .gql_as(token_for(who).as_deref(), query, json!({"id": ride_id}))
            .await;
        assert_eq!(outcome(&body), expected, "{who} running {query}: {body}");
        if expected != "ok" {
            assert_eq!(
                world(&store),
                before,
                "a refusal changed something: {who} running {query}"
            );
        } else if query != ride && query != driver && query != nearby {
            assert_ne!(world(&store), before, "{who} running {query} did nothing");
        }
        if query == nearby && who == "rider:r1" {
            let ids: Vec<&str> = body["data"]["nearbyDrivers"]
                .as_array()
                .expect("list")
                .iter()
                .filter_map(|n| n["driver"]["id"].as_str())
                .collect();
            assert!(
                !ids.is_empty() && ids.iter().all(|id| id.starts_with("hidden-")),
                "riders do not see driver ids: {ids:?}"
            );
        }
    }
}

/// The driver's side follows the table too: a driver answers only its own
/// offers, moves only its own ride through its phases and follows only its
/// own feed; a rider never learns who was offered its ride.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_may_answer_and_move_only_its_own_rides() {
    let ride_op = |op: &str| format!("mutation($id: ID!) {{ {op}(rideId: $id) {{ id status }} }}");
    let (accept, decline) = (ride_op("acceptOffer"), ride_op("declineOffer"));
    let (arrived, start) = (ride_op("driverArrived"), ride_op("startTrip"));
    // (operation, who, expected, with offers on)
    let table: Vec<(&str, &str, &str, bool)> = vec![
        (&accept, "driver:d1", "ok", true),
        (&accept, "driver:d2", "CONFLICT", true),
        (&accept, "rider:r1", "FORBIDDEN", true),
        (&accept, "dispatcher:ops", "ok", true),
        (&accept, "none", "UNAUTHENTICATED", true),
        (&decline, "driver:d1", "ok", true),
        (&decline, "driver:d2", "CONFLICT", true),
        (&decline, "rider:r1", "FORBIDDEN", true),
        (&decline, "dispatcher:ops", "ok", true),
        (&decline, "none", "UNAUTHENTICATED", true),
        (&arrived, "driver:d1", "ok", false),
        (&arrived, "driver:d2", "FORBIDDEN", false),
        (&arrived, "rider:r1", "FORBIDDEN", false),
        (&arrived, "dispatcher:ops", "ok", false),
        (&arrived, "none", "UNAUTHENTICATED", false),
    ];
    for (query, who, expected, offers) in table {
        let (app, store) = secured(|c| {
            if offers {
                c.offer_timeout = Duration::from_secs(60);
            }
        })
        .await;
        let ops = app.as_user(&token("ops", Role::Dispatcher));
        ops.update_location("d1", DRIVER).await;
        ops.update_location("d2", north_of(RIDER, 20.0)).await;
        let ride_id = id_of(&ops.request_driver("r1", RIDER).await);
        if offers {
            ops.searched(&ride_id).await;
        } else {
            ops.ride_reaches(&ride_id, "DRIVER_FOUND").await;
        }
        let before = world(&store);
        let (_, body) = app
            .gql_as(token_for(who).as_deref(), query, json!({"id": ride_id}))
            .await;
        assert_eq!(outcome(&body), expected, "{who} running {query}: {body}");
        if expected == "ok" {
            assert_ne!(world(&store), before, "{who} running {query} did nothing");
        } else {
            assert_eq!(
                world(&store),
                before,
                "a refusal changed something: {who} running {query}"
            );
        }
    }

    // startTrip: only once arrived, by the same rule.
    let (app, _) = secured(|_| {}).await;
    let ride_id = fleet(&app).await;
    let as_d1 = app.as_user(&token("d1", Role::Driver));
    as_d1.gql(&arrived, json!({"id": ride_id})).await;
    for (who, expected) in [
        ("driver:d2", "FORBIDDEN"),
        ("rider:r1", "FORBIDDEN"),
        ("driver:d1", "ok"),
    ] {
        let (_, body) = app
            .gql_as(token_for(who).as_deref(), &start, json!({"id": ride_id}))
            .await;
        assert_eq!(outcome(&body), expected, "{who} starting the trip: {body}");
    }

    // Who was offered a ride: the rider never learns it, the driver offered
    // and dispatchers do; the driver offered may read the ride to decide.
    let (app, _) = secured(|c| c.offer_timeout = Duration::from_secs(60)).await;
    let ops = app.as_user(&token("ops", Role::Dispatcher));
    ops.update_location("d1", DRIVER).await;
    let ride_id = id_of(&ops.request_driver("r1", RIDER).await);
    ops.searched(&ride_id).await;
    let query = "query($id: ID!) { ride(id: $id) { status offer { driver { id } } } }";
    for (who, sees) in [
        ("rider:r1", false),
        ("driver:d1", true),
        ("dispatcher:ops", true),
    ] {
        let (_, body) = app
            .gql_as(token_for(who).as_deref(), query, json!({"id": ride_id}))
            .await;
        assert_eq!(outcome(&body), "ok", "{who}: {body}");
        let offer = &body["data"]["ride"]["offer"];
        assert_eq!(!offer.is_null(), sees, "{who} sees the offer? {body}");
    }
    let (_, body) = app
        .gql_as(
            token_for("rider:r1").as_deref(),
            "{ driver(id: \"d1\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(
        outcome(&body),
        "FORBIDDEN",
        "a rider cannot look up the driver offered"
    );
    ops.gql(&accept, json!({"id": ride_id})).await;
    let (_, body) = app
        .gql_as(
            token_for("rider:r1").as_deref(),
            "query($id: ID!) { ride(id: $id) { lastOfferEnd driver { id } } }",
            json!({"id": ride_id}),
        )
        .await;
    assert!(body["data"]["ride"]["lastOfferEnd"].is_null(), "{body}");
    assert_eq!(
        body["data"]["ride"]["driver"]["id"], "d1",
        "once assigned, the rider sees its driver"
    );

    // driverFeed: a driver's own, or a dispatcher's.
    let feed = "subscription($d: ID!) { driverFeed(driverId: $d) { kind } }";
    for (who, expected) in [
        ("driver:d1", "ok"),
        ("dispatcher:ops", "ok"),
        ("driver:d2", "FORBIDDEN"),
        ("rider:r1", "FORBIDDEN"),
        ("none", "UNAUTHENTICATED"),
    ] {
        let client = Client::new(app.addr, token_for(who));
        for protocol in Protocol::ALL {
            let mut sub = client.subscribe(protocol, feed, json!({"d": "d1"})).await;
            let got = match sub.outcome().await {
                Ok(_) => "ok".to_owned(),
                Err(code) => code,
            };
            assert_eq!(got, expected, "{who} following d1's feed over {protocol:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rest_route_takes_the_bearer_token() {
    let (app, store) = secured(|_| {}).await;
    let ride_id = fleet(&app).await;
    app.as_user(&token("ops", Role::Dispatcher))
        .update_location("d4", north_of(RIDER, 5.0))
        .await;
    let cancel_body = format!(r#"{{"request_id": "{ride_id}"}}"#);
    let tracking = r#"{"id": "d2", "lat": -33.3, "lng": -70.6}"#;
    let search = r#"{"lat": -33.44262, "lng": -70.63054, "limit": 5}"#;
    let search_v2 = r#"{"lat": -33.44262, "lng": -70.63054, "rider_id": "r5"}"#;
    let search_v2_unnamed = r#"{"lat": -33.44262, "lng": -70.63054}"#;
    // (route, body, who, expected status)
    let table: Vec<(&str, &str, &str, u16)> = vec![
        ("/tracking", tracking, "none", 401),
        ("/tracking", tracking, "garbage", 401),
        ("/tracking", tracking, "driver:d1", 403),
        ("/tracking", tracking, "rider:r1", 403),
        ("/tracking", tracking, "driver:d2", 200),
        ("/search", search, "none", 401),
        ("/search", search, "driver:d1", 403),
        ("/search", search, "rider:r1", 200),
        ("/search", search, "dispatcher:ops", 200),
        ("/v2/search", search_v2, "none", 401),
        ("/v2/search", search_v2, "driver:d1", 403),
        ("/v2/search", search_v2, "rider:r1", 403),
        ("/v2/search", search_v2, "rider:r5", 200),
        // Without rider_id: a rider's token speaks for itself; a dispatcher
        // must say whom for; nobody is "anonymous" under authentication.
        ("/v2/search", search_v2_unnamed, "rider:r6", 200),
        ("/v2/search", search_v2_unnamed, "dispatcher:ops", 400),
        ("/v2/search", search_v2_unnamed, "none", 401),
        ("/v2/search", search_v2_unnamed, "driver:d1", 403),
        ("/v2/cancel", &cancel_body, "none", 401),
        ("/v2/cancel", &cancel_body, "rider:r2", 403),
        ("/v2/cancel", &cancel_body, "driver:d1", 403),
        ("/v2/cancel", &cancel_body, "rider:r1", 200),
    ];
    for (route, body, who, expected) in table {
        let token = match who {
            "garbage" => Some("garbage".to_owned()),
            other => token_for(other),
        };
        let before = world(&store);
        let (status, answer) = Client::new(app.addr, token).post_raw(route, body).await;
        assert_eq!(status, expected, "{who} on {route}: {answer}");
        if route == "/v2/search" && status == 200 {
            // The ride's first search runs in the background: let it run
            // before the next row reads the world, or that row could see
            // it land and blame its own refusal.
            let id = answer["request_id"]
                .as_str()
                .expect("a string id")
                .to_owned();
            crate::common::eventually("the new ride's first search", || {
                let ride = store
                    .contents(chrono::Utc::now())
                    .1
                    .into_iter()
                    .find(|r| r.id.as_str() == id);
                async move { ride.filter(|r| r.searches >= 1).map(|_| ()) }
            })
            .await;
        }
        if status != 200 {
            assert!(
                answer["errors"][0]["extensions"]["code"].is_string(),
                "{answer}"
            );
            assert_eq!(world(&store), before, "a refused {route} changed something");
        }
        if route == "/v2/search" && who == "rider:r6" {
            let id = answer["request_id"].as_str().expect("a string id");
            let ride = store
                .contents(chrono::Utc::now())
                .1
                .into_iter()
                .find(|r| r.id.as_str() == id)
                .expect("the ride");
            assert_eq!(ride.rider_id.as_str(), "r6", "the rider is the token's");
        }
        if route == "/search" && who == "rider:r1" {
            let names: Vec<&str> = answer
                .as_array()
                .expect("a list")
                .iter()
                .filter_map(|d| d["Name"].as_str())
                .collect();
            assert!(
                !names.is_empty() && names.iter().all(|n| n.starts_with("hidden-")),
                "riders do not see driver ids on /search either: {names:?}"
            );
        }
    }
}
