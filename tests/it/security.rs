//! Who may do what, and the limits that keep one client from hurting others.

use std::{sync::Arc, time::Duration};

use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{protocol::frame::coding::CloseCode, Message};
use tracking::{
    auth::{mint, Claims, Role},
    domain::{Driver, Ride},
    store::memory::MemoryStore,
};

use crate::common::{
    error_code_of, id_of, north_of, raw_ws::RawSocket, within, ws::Event, Client, Protocol,
    StoreKind, Subscription, TestApp, DRIVER, PATIENCE, RIDER, RIDE_STATUS,
};

const SECRET: &str = "test-secret-of-at-least-16-bytes";

fn token(sub: &str, role: Role) -> String {
    mint(SECRET, sub, role, Duration::from_secs(600)).expect("mint")
}

/// A token for "role:sub" ("none" for no token).
fn token_for(who: &str) -> Option<String> {
    match who.split_once(':') {
        Some(("driver", sub)) => Some(token(sub, Role::Driver)),
        Some(("rider", sub)) => Some(token(sub, Role::Rider)),
        Some(("dispatcher", sub)) => Some(token(sub, Role::Dispatcher)),
        _ => None,
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// A token with a chosen `exp`.
fn token_expiring_at(exp: u64) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &Claims {
            sub: "ops".into(),
            role: Some(Role::Dispatcher),
            exp,
            ..Claims::default()
        },
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("encode")
}

/// A service that verifies tokens, around a memory store the test can read.
async fn secured(tweak: impl FnOnce(&mut tracking::Config)) -> (TestApp, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::new(Duration::from_secs(60)));
    let app = TestApp::spawn_on(store.clone(), |c| {
        c.jwt_secret = Some(SECRET.into());
        tweak(c);
    })
    .await;
    (app, store)
}

/// Everything the store holds: every driver and every ride.
fn world(store: &MemoryStore) -> (Vec<Driver>, Vec<Arc<Ride>>) {
    store.contents(chrono::Utc::now())
}

/// A fleet where rider r1's ride is matched to driver d1, d2 and d3 are free.
async fn fleet(app: &TestApp) -> String {
    let ops = app.as_user(&token("ops", Role::Dispatcher));
    for (d, at) in [
        ("d1", DRIVER),
        ("d2", north_of(RIDER, 20.0)),
        ("d3", north_of(RIDER, 30.0)),
    ] {
        ops.update_location(d, at).await;
    }
    let id = id_of(&ops.request_driver("r1", RIDER).await);
    // Await the match: the search runs in the background.
    let found = ops.ride_reaches(&id, "DRIVER_FOUND").await;
    assert_eq!(found["driver"]["id"], "d1");
    id
}

/// What a response came to: "ok", or the first error's code.
fn outcome(body: &Value) -> String {
    match body.get("errors") {
        None => "ok".into(),
        Some(_) => error_code_of(body),
    }
}

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
            let got = match sub.next_event().await {
                Event::Next(payload) if payload.get("errors").is_none() => "ok".to_owned(),
                Event::Next(payload) => error_code_of(&payload),
                Event::Error(errors) => {
                    let first = if errors.is_array() {
                        errors[0].clone()
                    } else {
                        errors
                    };
                    first["extensions"]["code"]
                        .as_str()
                        .unwrap_or("no code")
                        .to_owned()
                }
                other => panic!("{who} driverFeed: {other:?}"),
            };
            assert_eq!(got, expected, "{who} following d1's feed over {protocol:?}");
        }
    }
}

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
            let got = match sub.next_event().await {
                Event::Next(payload) if payload.get("errors").is_none() => {
                    assert!(payload["data"][field].is_object(), "{payload}");
                    "ok".to_owned()
                }
                Event::Next(payload) => error_code_of(&payload),
                Event::Error(errors) => {
                    let first = if errors.is_array() {
                        errors[0].clone()
                    } else {
                        errors
                    };
                    first["extensions"]["code"]
                        .as_str()
                        .unwrap_or("no code")
                        .to_owned()
                }
                other => panic!("{who} {field}: {other:?}"),
            };
            assert_eq!(got, expected, "{who} following {field} over {protocol:?}");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_expired_and_missing_tokens_are_refused_over_http_and_websocket() {
    let (app, _) = secured(|_| {}).await;
    let ride_id = fleet(&app).await;
    let forged = mint(
        "another-secret-of-16-bytes",
        "ops",
        Role::Dispatcher,
        Duration::from_secs(600),
    )
    .expect("mint");
    let expired = token_expiring_at(now_secs() - 120);
    for bad in [forged.as_str(), expired.as_str(), "not-a-jwt"] {
        let (status, body) = app
            .gql_as(Some(bad), "{ ride(id: \"1\") { id } }", json!({}))
            .await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(error_code_of(&body), "UNAUTHENTICATED");
    }

    // WebSocket: a bad token in connection_init closes the connection:
    // 4403 with graphql-transport-ws, connection_error with the legacy one.
    use futures_util::{SinkExt, StreamExt};
    for bad in [&forged, &expired] {
        let mut socket = Subscription::connect(app.addr, Protocol::TransportWs).await;
        let init = json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {bad}")}});
        socket
            .send(Message::text(init.to_string()))
            .await
            .expect("send");
        match within(PATIENCE, "the refusal", socket.next()).await {
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(frame.code, CloseCode::Library(4403))
            }
            other => panic!("expected close 4403, got {other:?}"),
        }
        let mut legacy = Subscription::connect(app.addr, Protocol::LegacyWs).await;
        let init = json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {bad}")}});
        legacy
            .send(Message::text(init.to_string()))
            .await
            .expect("send");
        match within(PATIENCE, "the refusal", legacy.next()).await {
            Some(Ok(Message::Text(text))) => {
                let message: Value = serde_json::from_str(&text).expect("JSON");
                assert_eq!(message["type"], "connection_error", "{message}");
            }
            other => panic!("expected connection_error, got {other:?}"),
        }
    }

    // No token: connected, but the subscription is refused.
    let mut anonymous = app.watch_ride(Protocol::TransportWs, &ride_id).await;
    assert_eq!(anonymous.expect_error_code().await, "UNAUTHENTICATED");
    // The right tokens, in each accepted place.
    for init in [
        json!({"authorization": format!("Bearer {}", token("r1", Role::Rider))}),
        json!({"Authorization": format!("Bearer {}", token("r1", Role::Rider))}),
        json!({"headers": {"Authorization": format!("Bearer {}", token("d1", Role::Driver))}}),
    ] {
        let mut sub = Subscription::start_with_init(
            app.addr,
            Protocol::TransportWs,
            init,
            RIDE_STATUS,
            json!({"id": ride_id}),
        )
        .await;
        sub.expect_status("DRIVER_FOUND").await;
    }
}

/// `exp` is enforced with 30 s of leeway, no more.
#[tokio::test]
async fn expiry_allows_thirty_seconds_of_clock_skew() {
    let (app, _) = secured(|_| {}).await;
    let query = "{ driver(id: \"nobody\") { id } }";
    let recent = token_expiring_at(now_secs() - 10);
    let (status, body) = app.gql_as(Some(&recent), query, json!({})).await;
    assert_eq!((status, outcome(&body)), (200, "ok".into()), "{body}");
    let stale = token_expiring_at(now_secs() - 45);
    let (status, body) = app.gql_as(Some(&stale), query, json!({})).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(error_code_of(&body), "UNAUTHENTICATED");
}

#[tokio::test]
async fn graphql_limits_refuse_deep_complex_and_huge_requests() {
    let app = TestApp::spawn(StoreKind::Memory, |c| {
        c.max_depth = 5;
        c.max_complexity = 40;
        c.max_query_bytes = 2048;
        c.max_body_bytes = 8192;
    })
    .await;
    let fine = "{ ride(id: \"1\") { driver { location { lat } } } }";
    assert_eq!(
        outcome(&app.gql(fine, json!({})).await),
        "ok",
        "depth 4 is within 5"
    );
    // A valid query nested 20 deep (deep enough for the limit, shallow
    // enough for the parser, whose own recursion limit is another error).
    let abyss = format!(
        "{{ __type(name: \"Ride\") {{ fields {{ type {{ {}name{} }} }} }} }}",
        "ofType { ".repeat(20),
        " }".repeat(20)
    );
    let deep_app = TestApp::spawn(StoreKind::Memory, |c| c.max_depth = 5).await;
    let body = deep_app.gql(&abyss, json!({})).await;
    assert_eq!(outcome(&body), "BAD_USER_INPUT", "depth limit: {body}");
    assert_eq!(body["errors"][0]["message"], "Query is nested too deep.");

    // Complexity: many aliased lists in one request.
    let wide = format!(
        "{{ {} }}",
        (0..20)
            .map(|i| format!(
                "n{i}: nearbyDrivers(lat: 0, lng: 0) {{ distanceKm driver {{ id }} }}"
            ))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let body = app.gql(&wide, json!({})).await;
    assert_eq!(outcome(&body), "BAD_USER_INPUT", "complexity limit");
    assert_eq!(body["errors"][0]["message"], "Query is too complex.");

    let long = format!("{{ __typename {} }}", " ".repeat(3000));
    let body = app.gql(&long, json!({})).await;
    assert_eq!(outcome(&body), "BAD_USER_INPUT", "query text limit");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("longer than 2048 bytes")),
        "{body}"
    );
    let huge = format!(
        "{{\"query\": \"{{ __typename }}\", \"x\": \"{}\"}}",
        "a".repeat(10_000)
    );
    let (status, _) = app.post_raw("/graphql", &huge).await;
    assert_eq!(status, 413, "body limit");

    // Introspection off: the introspection fields answer null, nothing else.
    let closed = TestApp::spawn(StoreKind::Memory, |c| c.no_introspection = true).await;
    let body = closed
        .gql("{ __schema { types { name } } }", json!({}))
        .await;
    assert_eq!(
        body,
        json!({"data": {"__schema": null}}),
        "introspection off"
    );
    let body = closed
        .gql("{ __type(name: \"Ride\") { name } }", json!({}))
        .await;
    assert_eq!(body, json!({"data": {"__type": null}}), "introspection off");
    let open = app
        .gql("{ __schema { queryType { name } } }", json!({}))
        .await;
    assert_eq!(open["data"]["__schema"]["queryType"]["name"], "Query");
}

#[tokio::test]
async fn the_connection_cap_refuses_with_503() {
    let app = TestApp::spawn(StoreKind::Memory, |c| c.max_connections = Some(2)).await;
    let _first = Subscription::connect(app.addr, Protocol::TransportWs).await;
    let _second = Subscription::connect(app.addr, Protocol::TransportWs).await;
    match RawSocket::connect(app.addr, "graphql-transport-ws", &[]).await {
        Err(head) => assert!(head.starts_with("HTTP/1.1 503"), "{head}"),
        Ok(_) => panic!("a third connection was accepted over a cap of 2"),
    }
}

#[tokio::test]
async fn a_socket_without_connection_init_is_closed_with_4408() {
    let app = TestApp::spawn(StoreKind::Memory, |c| {
        c.connection_init_timeout = Duration::from_millis(300)
    })
    .await;
    for protocol in ["graphql-transport-ws", "graphql-ws"] {
        let mut idle = RawSocket::connect(app.addr, protocol, &[])
            .await
            .expect("upgrade");
        assert_eq!(idle.closed().await, Ok(Some(4408)), "{protocol}");
    }
}

#[tokio::test]
async fn a_second_subscription_on_one_connection_is_refused() {
    let app = TestApp::spawn(StoreKind::Memory, |c| c.max_subscriptions = 1).await;
    let first = id_of(&app.request_driver("r1", RIDER).await);
    let second = id_of(&app.request_driver("r2", RIDER).await);
    let mut socket = Subscription::connect(app.addr, Protocol::TransportWs).await;
    use futures_util::{SinkExt, StreamExt};
    let send = |v: Value| Message::text(v.to_string());
    socket
        .send(send(json!({"type": "connection_init"})))
        .await
        .expect("init");
    socket.send(send(json!({"id": "a", "type": "subscribe", "payload": {"query": RIDE_STATUS, "variables": {"id": first}}}))).await.expect("a");
    socket.send(send(json!({"id": "b", "type": "subscribe", "payload": {"query": RIDE_STATUS, "variables": {"id": second}}}))).await.expect("b");
    let mut refused = false;
    let mut got_a = false;
    while !(refused && got_a) {
        let Some(Ok(Message::Text(text))) = within(PATIENCE, "messages", socket.next()).await
        else {
            panic!("socket closed")
        };
        let v: Value = serde_json::from_str(&text).expect("json");
        match (v["type"].as_str(), v["id"].as_str()) {
            (Some("error"), Some("b")) => {
                assert_eq!(v["payload"][0]["extensions"]["code"], "TOO_MANY_REQUESTS");
                refused = true;
            }
            (Some("next"), Some("a")) => got_a = true,
            (Some("connection_ack"), _) | (Some("ping"), _) => {}
            _ => panic!("unexpected {v}"),
        }
    }
}

/// A client that stops answering pings is closed (1001) after two
/// keep-alive intervals. The raw client never answers a ping: silence is
/// the scenario, not a sleep.
#[tokio::test]
async fn a_silent_peer_is_closed_by_the_keepalive() {
    let app = TestApp::spawn(StoreKind::Memory, |c| {
        c.keepalive = Duration::from_millis(200)
    })
    .await;
    let mut socket = RawSocket::connect(app.addr, "graphql-transport-ws", &[])
        .await
        .expect("upgrade");
    socket
        .send_text(&json!({"type": "connection_init"}).to_string())
        .await
        .expect("init");
    let started = std::time::Instant::now();
    let mut pings = 0;
    let code = within(PATIENCE, "the keep-alive close", async {
        loop {
            match socket.next_frame().await {
                Some(frame) if frame.opcode == crate::common::raw_ws::PING => pings += 1,
                Some(frame) if frame.opcode == crate::common::raw_ws::CLOSE => {
                    return frame.close_code()
                }
                Some(_) => {}
                None => return None,
            }
        }
    })
    .await;
    assert_eq!(code, Some(1001), "closed with 1001 after {pings} pings");
    assert!(pings >= 1, "pinged before giving up");
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "not before two intervals: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn shutdown_closes_websockets_with_a_close_frame() {
    let app = TestApp::spawn(StoreKind::Memory, |_| {}).await;
    let ride = id_of(&app.request_driver("r", RIDER).await);
    let mut sub = app.watch_ride(Protocol::TransportWs, &ride).await;
    sub.expect_status("SEARCHING").await;
    let mut legacy = app.watch_ride(Protocol::LegacyWs, &ride).await;
    legacy.expect_status("SEARCHING").await;
    let stopping = tokio::spawn(app.stop());
    assert_eq!(sub.next_event().await, Event::Closed(Some(1001)));
    assert_eq!(legacy.next_event().await, Event::Closed(Some(1001)));
    stopping.await.expect("stopped");
}

#[tokio::test]
async fn impossible_jumps_are_refused_and_change_nothing() {
    let app = TestApp::spawn(StoreKind::Memory, |c| {
        c.max_update_rate = 0.0;
        c.max_speed_kmh = 300.0;
    })
    .await;
    app.update_location("fast", DRIVER).await;
    // 50 km in a moment: faster than 300 km/h.
    let far = north_of(DRIVER, 50.0);
    let body = app
        .gql(
            "mutation($lat: Float!, $lng: Float!) { updateLocation(driverId: \"fast\", lat: $lat, lng: $lng) { id } }",
            json!({"lat": far.0, "lng": far.1}),
        )
        .await;
    assert_eq!(outcome(&body), "BAD_USER_INPUT", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("implausible jump")),
        "{body}"
    );
    assert_eq!(
        app.driver("fast").await["location"]["lat"],
        DRIVER.0,
        "the jump changed nothing"
    );
    // A plausible move is fine.
    app.update_location("fast", north_of(DRIVER, 0.1)).await;
}

#[tokio::test]
async fn updates_faster_than_the_rate_are_refused() {
    // One update per 100 s: the bucket cannot refill during the test.
    let app = TestApp::spawn(StoreKind::Memory, |c| c.max_update_rate = 0.01).await;
    app.update_location("eager", DRIVER).await;
    let body = app
        .gql(
            "mutation { updateLocation(driverId: \"eager\", lat: 1, lng: 1) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(outcome(&body), "TOO_MANY_REQUESTS", "{body}");
    assert_eq!(app.driver("eager").await["location"]["lat"], DRIVER.0);
    // Other drivers have buckets of their own.
    app.update_location("patient", DRIVER).await;
}

/// Every metric the README lists is exported, with the labels it names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_listed_metric_is_exported_with_its_labels() {
    let app = TestApp::spawn(StoreKind::Redis, |c| {
        c.request_timeout = Duration::from_millis(500)
    })
    .await;
    app.update_location("m1", DRIVER).await;
    let matched = id_of(&app.request_driver("r", RIDER).await);
    app.ride_reaches(&matched, "DRIVER_FOUND").await;
    app.complete(&matched).await;
    let cancelled = id_of(&app.request_driver("r", north_of(RIDER, 50.0)).await);
    app.cancel(&cancelled).await;
    let expired = id_of(&app.request_driver("r", north_of(RIDER, 50.0)).await);
    let _open = app.watch_ride(Protocol::TransportWs, &expired).await;
    app.ride_reaches(&expired, "EXPIRED").await;
    app.gql("{ nope }", json!({})).await;
    // A store error: Redis goes away for one request.
    app.redis.as_ref().expect("redis").stop();
    app.gql(
        "mutation { updateLocation(driverId: \"m2\", lat: 0, lng: 0) { id } }",
        json!({}),
    )
    .await;
    let text = app.metrics().await;
    let series = |name: &str| -> Vec<&str> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter(|l| l.starts_with(&format!("{name} ")) || l.starts_with(&format!("{name}{{")))
            .collect()
    };
    let expect = |name: &str, labels: &[&str]| {
        let found = series(name);
        assert!(!found.is_empty(), "{name} missing from /metrics:\n{text}");
        for label in labels {
            assert!(
                found.iter().any(|l| l.contains(&format!("{label}=\""))),
                "{name} without the label {label}: {found:?}"
            );
        }
    };
    expect(
        "tracking_http_requests_total",
        &["method", "route", "status"],
    );
    expect(
        "tracking_http_request_duration_seconds_bucket",
        &["method", "route", "le"],
    );
    expect(
        "tracking_http_request_duration_seconds_count",
        &["method", "route"],
    );
    expect(
        "tracking_graphql_operations_total",
        &["operation", "outcome"],
    );
    for name in [
        "tracking_websocket_connections",
        "tracking_subscriptions",
        "tracking_rides_searching",
        "tracking_rides_requested_total",
        "tracking_matches_total",
        "tracking_expiries_total",
        "tracking_cancels_total",
        "tracking_completions_total",
        "tracking_time_to_match_seconds_count",
        "tracking_store_errors_total",
    ] {
        expect(name, &[]);
    }
    assert!(
        series("tracking_http_requests_total")
            .iter()
            .any(|l| l.contains("route=\"/graphql\"") && l.contains("method=\"POST\"")),
        "requests counted by route"
    );
}

#[tokio::test]
async fn without_a_key_the_service_stays_on_loopback() {
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0")
        .await
        .expect("bind");
    let mut config = crate::common::test_config();
    config.listen = listener.local_addr().expect("addr");
    match tracking::Application::build_on(config.clone(), listener).await {
        Err(tracking::StartError::Config(message)) => assert!(
            message.contains("refusing to serve") && message.contains("--insecure-no-auth"),
            "{message}"
        ),
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("an open service on a public address must be refused"),
    }
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0")
        .await
        .expect("bind");
    config.insecure_no_auth = true;
    assert!(tracking::Application::build_on(config, listener)
        .await
        .is_ok());
}

/// ES256 and RS256 tokens verify against a public key file. The keys are made
/// with `openssl`, which every machine this suite runs on has (Debian's
/// `openssl`; the test says so when it is missing).
#[tokio::test]
async fn public_key_tokens_verify() {
    let dir = std::env::temp_dir().join(format!("tracking-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let openssl = |args: &[&str]| {
        let status = std::process::Command::new("openssl")
            .args(args)
            .current_dir(&dir)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl on PATH (Debian: apt-get install openssl)");
        assert!(status.success(), "openssl {args:?}");
    };
    openssl(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        "ec.pem",
    ]);
    openssl(&[
        "pkcs8", "-topk8", "-nocrypt", "-in", "ec.pem", "-out", "ec8.pem",
    ]);
    openssl(&["ec", "-in", "ec.pem", "-pubout", "-out", "ec.pub"]);
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        "rsa.pem",
    ]);
    openssl(&["rsa", "-in", "rsa.pem", "-pubout", "-out", "rsa.pub"]);
    let claims = Claims {
        sub: "ops".into(),
        role: Some(Role::Dispatcher),
        exp: now_secs() + 600,
        ..Claims::default()
    };
    for (public, private, algorithm) in [
        ("ec.pub", "ec8.pem", jsonwebtoken::Algorithm::ES256),
        ("rsa.pub", "rsa.pem", jsonwebtoken::Algorithm::RS256),
    ] {
        let pem = std::fs::read(dir.join(private)).expect("private key");
        let key = match algorithm {
            jsonwebtoken::Algorithm::ES256 => jsonwebtoken::EncodingKey::from_ec_pem(&pem),
            _ => jsonwebtoken::EncodingKey::from_rsa_pem(&pem),
        }
        .expect("encoding key");
        let token = jsonwebtoken::encode(&jsonwebtoken::Header::new(algorithm), &claims, &key)
            .expect("sign");
        let path = dir.join(public);
        let app = TestApp::spawn(StoreKind::Memory, |c| c.jwt_public_key = Some(path)).await;
        let (status, body) = app
            .gql_as(Some(&token), "{ ride(id: \"1\") { id } }", json!({}))
            .await;
        assert_eq!(
            (status, outcome(&body)),
            (200, "ok".to_owned()),
            "{algorithm:?}: {body}"
        );
        let hs = self::token("ops", Role::Dispatcher);
        let (status, _) = app
            .gql_as(Some(&hs), "{ ride(id: \"1\") { id } }", json!({}))
            .await;
        assert_eq!(status, 401, "{algorithm:?}: an HS256 token is not accepted");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_token_helper_mints_a_token_the_service_accepts() {
    let output = crate::common::process::tracking_command()
        .args([
            "token",
            "--role",
            "rider",
            "--sub",
            "ana",
            "--jwt-secret",
            SECRET,
        ])
        .output()
        .expect("run tracking token");
    assert!(output.status.success());
    let token = String::from_utf8(output.stdout).expect("utf-8");
    let verifier = tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(tracking::auth::Verifier::from_config(
            tracking::auth::AuthConfig {
                secret: Some(SECRET),
                ..Default::default()
            },
        ))
        .expect("config")
        .expect("verifier");
    let session = tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(verifier.verify(token.trim()))
        .expect("valid");
    assert_eq!(
        session.caller,
        tracking::auth::Caller::Token {
            sub: "ana".into(),
            role: Role::Rider
        }
    );
    let missing = crate::common::process::tracking_command()
        .args(["token", "--role", "rider", "--sub", "ana"])
        .output()
        .expect("run");
    assert!(!missing.status.success(), "no secret, no token");
    // A secret the service would refuse makes no token either, and says why.
    let weak = crate::common::process::tracking_command()
        .args([
            "token",
            "--role",
            "rider",
            "--sub",
            "ana",
            "--jwt-secret",
            "short",
        ])
        .output()
        .expect("run");
    assert!(!weak.status.success(), "a weak secret, no token");
    assert!(weak.stdout.is_empty());
    let said = String::from_utf8_lossy(&weak.stderr);
    assert!(said.contains("at least 16 bytes"), "{said}");
}
