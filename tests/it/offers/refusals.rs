//! Refused offer answers: a ride that does not exist, another driver's
//! offer, a rider, no token, a second answer. The answer reads no ride
//! first (the store's atomic step decides), and each refusal keeps the code
//! it had when it did, and changes nothing.

use std::time::Duration;

use serde_json::{json, Value};
use tracking::auth::Role;

use crate::common::{
    eventually, id_of, north_of,
    tokens::{token, token_for, SECRET},
    StoreKind, TestApp, DRIVER, RIDER,
};

async fn answer(app: &TestApp, who: &str, op: &str, ride: &str) -> String {
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

async fn ride_as_ops(app: &TestApp, ride: &str) -> Value {
    let ops = app.as_user(&token("ops", Role::Dispatcher));
    ops.data(
        "query($id: ID!) { ride(id: $id) { id status driverId lastOfferEnd offer { driver { id } expiresAt } } }",
        json!({"id": ride}),
    )
    .await["ride"]
        .clone()
}

pub async fn every_refused_answer_keeps_its_code_and_changes_nothing(store: StoreKind) {
    let app = TestApp::spawn(store, |c| {
        c.jwt_secret = Some(SECRET.into());
        c.offer_timeout = Duration::from_secs(30);
    })
    .await;
    // Rides that do not exist, in several shapes.
    let long = "9".repeat(200);
    let _ = &long;
    for ride in ["0.404", "nope", "default.1", "a:b:c", "0.1x", "zz.1"] {
        for op in ["acceptOffer", "declineOffer"] {
            for (who, expected) in [
                ("driver:d9", "NOT_FOUND"),
                ("dispatcher:ops", "NOT_FOUND"),
                ("rider:r1", "FORBIDDEN"),
                ("none", "UNAUTHENTICATED"),
            ] {
                let got = answer(&app, who, op, ride).await;
                assert_eq!(got, expected, "{who} {op} {ride:?} on {store:?}");
            }
        }
    }
    // A ride offered to d1: anybody else's answer is refused and changes nothing.
    let ops = app.as_user(&token("ops", Role::Dispatcher));
    ops.update_location("d1", DRIVER).await;
    ops.update_location("d2", north_of(RIDER, 20.0)).await;
    let ride = id_of(&ops.request_driver("r1", RIDER).await);
    eventually("the offer to d1", || {
        let app = &app;
        let ride = &ride;
        async move {
            let seen = ride_as_ops(app, ride).await;
            (seen["offer"]["driver"]["id"] == "d1").then_some(())
        }
    })
    .await;
    let before = ride_as_ops(&app, &ride).await;
    for op in ["acceptOffer", "declineOffer"] {
        for (who, expected) in [
            ("driver:d2", "CONFLICT"),
            ("rider:r1", "FORBIDDEN"),
            ("none", "UNAUTHENTICATED"),
        ] {
            let got = answer(&app, who, op, &ride).await;
            assert_eq!(got, expected, "{who} {op} on {store:?}");
            assert_eq!(
                ride_as_ops(&app, &ride).await,
                before,
                "{who} {op} changed the ride"
            );
        }
    }
    // Answering twice: the second is a CONFLICT and changes nothing.
    assert_eq!(answer(&app, "driver:d1", "acceptOffer", &ride).await, "ok");
    let after = ride_as_ops(&app, &ride).await;
    assert_eq!(after["status"], "DRIVER_FOUND");
    for op in ["acceptOffer", "declineOffer"] {
        assert_eq!(
            answer(&app, "driver:d1", op, &ride).await,
            "CONFLICT",
            "{op} again"
        );
        assert_eq!(ride_as_ops(&app, &ride).await, after);
    }
}
