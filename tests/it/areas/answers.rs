//! Answering offers across areas: ids of no ride in any area, and another
//! area's driver, get the codes they had before the answer stopped reading
//! the ride first, and change nothing.

use std::time::Duration;

use serde_json::json;
use tracking::auth::Role;

use super::setup::ACROSS;
use crate::common::{
    areas::{areas_file, two_cities},
    eventually, id_of,
    tokens::{token, token_for, SECRET},
    StoreKind, TestApp, DRIVER, RIDER,
};

async fn code(app: &TestApp, who: &str, op: &str, ride: &str) -> String {
    let (_, body) = app
        .gql_as(
            token_for(who).as_deref(),
            &format!("mutation($id: ID!) {{ {op}(rideId: $id) {{ id status }} }}"),
            json!({"id": ride}),
        )
        .await;
    match body.get("errors") {
        Some(e) => e[0]["extensions"]["code"]
            .as_str()
            .unwrap_or("NO_CODE")
            .to_owned(),
        None => "ok".into(),
    }
}

pub async fn an_answer_across_areas_is_refused_and_changes_nothing(store: StoreKind) {
    let path = areas_file(&format!("answers-{store:?}"), &two_cities());
    let app = TestApp::spawn(store, |c| {
        c.areas = Some(path);
        c.jwt_secret = Some(SECRET.into());
        c.offer_timeout = Duration::from_secs(30);
    })
    .await;
    let ops = app.as_user(&token("ops", Role::Dispatcher));
    for ride in [
        "scl:404",
        "east:404",
        "mars:1",
        "0.404",
        "scl:0.1",
        "east:scl:1",
    ] {
        let probe = code(&app, "dispatcher:ops", "acceptOffer", ride).await;
        eprintln!("probe {ride}: {probe}");
        if probe == "BAD_USER_INPUT" {
            continue;
        }
        for op in ["acceptOffer", "declineOffer"] {
            for (who, expected) in [
                ("driver:e1", "NOT_FOUND"),
                ("dispatcher:ops", "NOT_FOUND"),
                ("rider:r1", "FORBIDDEN"),
                ("none", "UNAUTHENTICATED"),
            ] {
                assert_eq!(
                    code(&app, who, op, ride).await,
                    expected,
                    "{who} {op} {ride} {store:?}"
                );
            }
        }
    }
    ops.update_location("d1", DRIVER).await;
    ops.update_location("e1", ACROSS).await;
    let ride = id_of(&ops.request_driver("r1", RIDER).await);
    let read = |ride: String| {
        let ops = ops.clone();
        async move {
            ops.data(
                "query($id: ID!) { ride(id: $id) { id status driverId lastOfferEnd offer { driver { id } expiresAt } } }",
                json!({"id": ride}),
            )
            .await["ride"]
                .clone()
        }
    };
    eventually("the offer to d1", || {
        let r = read(ride.clone());
        async move { (r.await["offer"]["driver"]["id"] == "d1").then_some(()) }
    })
    .await;
    let before = read(ride.clone()).await;
    for op in ["acceptOffer", "declineOffer"] {
        assert_eq!(code(&app, "driver:e1", op, &ride).await, "CONFLICT", "{op}");
        assert_eq!(
            read(ride.clone()).await,
            before,
            "e1's {op} changed the ride"
        );
    }
    assert_eq!(code(&app, "driver:d1", "acceptOffer", &ride).await, "ok");
    let counts = ops
        .data(
            "{ areas { id availableDrivers searchingRides } }",
            json!({}),
        )
        .await;
    assert!(counts.get("areas").is_some(), "{counts}");
}
