//! A rider's rides, in one area and across areas and instances: the cap on
//! rides that have not ended (three by default, `0` for none) and
//! idempotency keys hold per rider, whichever area the pickup lies in and
//! whichever instance takes the request.

use serde_json::{json, Value};

use crate::common::{
    areas::{areas_file, two_cities},
    error_code_of, id_of, north_of, StoreKind, TestApp, RIDER,
};

const KEYED_REQUEST: &str = "mutation($r: ID!, $k: String) { requestDriver(riderId: $r, lat: 10, lng: 10, idempotencyKey: $k) { id } }";

/// A retry with the same idempotency key returns the ride the first request
/// made, whatever became of its reply; other keys and other riders get
/// rides of their own.
pub(super) async fn a_retry_with_the_same_idempotency_key_gets_the_same_ride(store: StoreKind) {
    let app = TestApp::spawn(store, |_| {}).await;
    let request = |rider: &str, key: &str| {
        let vars = json!({"r": rider, "k": key});
        let app = &app;
        async move { id_of(&app.data(KEYED_REQUEST, vars).await["requestDriver"]) }
    };
    let first = request("ana", "tap-1").await;
    assert_eq!(request("ana", "tap-1").await, first, "the retry");
    assert_ne!(request("ana", "tap-2").await, first, "another key");
    assert_ne!(request("bob", "tap-1").await, first, "another rider");
    assert_eq!(app.stored_rides().await, 3);
    for bad in ["a b", &"k".repeat(65), ""] {
        let body = app.gql(KEYED_REQUEST, json!({"r": "ana", "k": bad})).await;
        assert_eq!(error_code_of(&body), "BAD_USER_INPUT", "{bad:?}: {body}");
    }
    assert_eq!(app.stored_rides().await, 3, "refused keys created nothing");
}

/// With a limit of one ride per rider, a second request while the first has
/// not ended is a CONFLICT naming the first; once it ends, a new one is fine.
pub(super) async fn a_rider_at_the_limit_is_refused_with_its_active_ride(store: StoreKind) {
    let app = TestApp::spawn(store, |c| c.max_active_rides_per_rider = 1).await;
    let first = id_of(&app.request_driver("ana", north_of(RIDER, 50.0)).await);
    let body = app
        .gql(
            "mutation { requestDriver(riderId: \"ana\", lat: 1, lng: 1) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code_of(&body), "CONFLICT", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["rideId"], first.as_str());
    assert_eq!(app.stored_rides().await, 1, "nothing created");
    // Another rider is not limited by ana's ride.
    app.request_driver("bob", north_of(RIDER, 50.0)).await;
    app.cancel(&first).await;
    let second = id_of(&app.request_driver("ana", north_of(RIDER, 50.0)).await);
    assert_ne!(second, first);
}

/// In `scl`, and in `east` (the two areas of [`two_cities`]).
const IN_SCL: (f64, f64) = (-33.44, -70.65);

const IN_EAST: (f64, f64) = (-33.44, -70.35);

const REQUEST: &str = "mutation($r: ID!, $lat: Float!, $lng: Float!, $k: String) { requestDriver(riderId: $r, lat: $lat, lng: $lng, idempotencyKey: $k) { id } }";

async fn with_areas(store: StoreKind, name: &str, cap: Option<usize>) -> TestApp {
    let path = areas_file(&format!("riders-{name}-{store:?}"), &two_cities());
    TestApp::spawn(store, |c| {
        c.areas = Some(path);
        if let Some(cap) = cap {
            c.max_active_rides_per_rider = cap;
        }
    })
    .await
}

/// Another instance on the same Redis (or Cluster), with the same settings;
/// `None` in memory, where one process is all there is.
async fn second_instance(
    app: &TestApp,
    store: StoreKind,
    name: &str,
    cap: Option<usize>,
) -> Option<TestApp> {
    let path = areas_file(&format!("riders-{name}-{store:?}"), &two_cities());
    app.another_instance(|c| {
        c.areas = Some(path);
        if let Some(cap) = cap {
            c.max_active_rides_per_rider = cap;
        }
    })
    .await
}

/// A request's whole response (a ride, or an error).
async fn request(app: &TestApp, rider: &str, (lat, lng): (f64, f64), key: Option<&str>) -> Value {
    app.gql(
        REQUEST,
        json!({"r": rider, "lat": lat, "lng": lng, "k": key}),
    )
    .await
}

/// SEARCHING rides, every area together (rides here find no driver).
async fn searching(app: &TestApp) -> i64 {
    let areas = app.data("{ areas { searchingRides } }", json!({})).await;
    areas["areas"]
        .as_array()
        .expect("areas")
        .iter()
        .map(|a| a["searchingRides"].as_i64().expect("a count"))
        .sum()
}

fn ride_id(body: &Value) -> String {
    id_of(&body["data"]["requestDriver"])
}

/// With a cap of one, a rider's ride in `scl` refuses its second in
/// `east`, the same `CONFLICT` naming the first ride as within one area,
/// on this instance and on another; once the first is cancelled (on the
/// other instance), the rider may ask again anywhere.
pub(super) async fn a_rider_at_the_cap_is_refused_in_every_area_and_instance(store: StoreKind) {
    let app = with_areas(store, "cap", Some(1)).await;
    let other = second_instance(&app, store, "cap", Some(1)).await;
    let first = ride_id(&request(&app, "ana", IN_SCL, None).await);
    let mut takers = vec![&app];
    takers.extend(other.as_ref());
    for taker in &takers {
        for at in [IN_EAST, IN_SCL] {
            let body = request(taker, "ana", at, None).await;
            assert_eq!(error_code_of(&body), "CONFLICT", "{at:?}: {body}");
            assert_eq!(
                body["errors"][0]["extensions"]["rideId"],
                first.as_str(),
                "{body}"
            );
        }
    }
    assert_eq!(searching(&app).await, 1, "nothing created past the cap");
    // Another rider is not limited by ana's ride.
    ride_id(&request(&app, "bob", IN_EAST, None).await);
    let cancelled = takers[takers.len() - 1].cancel(&first).await;
    assert_eq!(
        cancelled["data"]["cancelRequest"]["status"], "CANCELLED",
        "{cancelled}"
    );
    let again = ride_id(&request(&app, "ana", IN_EAST, None).await);
    assert_ne!(again, first);
}

/// One idempotency key is one ride, whichever area the retry's pickup lies
/// in and whichever instance takes it; another key is another ride.
pub(super) async fn one_idempotency_key_makes_one_ride_across_areas_and_instances(
    store: StoreKind,
) {
    let app = with_areas(store, "idem", None).await;
    let other = second_instance(&app, store, "idem", None).await;
    let first = ride_id(&request(&app, "ana", IN_SCL, Some("tap-1")).await);
    let retry = ride_id(&request(&app, "ana", IN_EAST, Some("tap-1")).await);
    assert_eq!(retry, first, "the same key in the other area");
    if let Some(other) = &other {
        for at in [IN_EAST, IN_SCL] {
            let retry = ride_id(&request(other, "ana", at, Some("tap-1")).await);
            assert_eq!(retry, first, "the same key on another instance, {at:?}");
        }
    }
    assert_eq!(searching(&app).await, 1, "one ride for one key");
    let another = ride_id(&request(&app, "ana", IN_EAST, Some("tap-2")).await);
    assert_ne!(another, first, "another key");
    assert_eq!(searching(&app).await, 2);
}

/// Out of the box a rider may have three rides that have not ended, over
/// all areas together: the fourth is refused. `0` lifts the cap.
pub(super) async fn the_default_cap_is_three_rides_and_zero_turns_it_off(store: StoreKind) {
    let app = with_areas(store, "default", None).await;
    for at in [IN_SCL, IN_EAST, IN_SCL] {
        ride_id(&request(&app, "ana", at, None).await);
    }
    for at in [IN_SCL, IN_EAST] {
        let body = request(&app, "ana", at, None).await;
        assert_eq!(
            error_code_of(&body),
            "CONFLICT",
            "the fourth ride, {at:?}: {body}"
        );
    }
    assert_eq!(searching(&app).await, 3);
    app.stop().await;

    let app = with_areas(store, "uncapped", Some(0)).await;
    for n in 0..6u32 {
        let at = if n.is_multiple_of(2) { IN_SCL } else { IN_EAST };
        ride_id(&request(&app, "ana", at, None).await);
    }
    assert_eq!(searching(&app).await, 6, "no cap with 0");
}

/// Many requests of one rider at once, into both areas and through two
/// instances (on Redis): with a cap of two, two rides are made, never more.
pub(super) async fn concurrent_requests_in_both_areas_make_no_more_than_the_cap(store: StoreKind) {
    let app = with_areas(store, "race", Some(2)).await;
    let other = second_instance(&app, store, "race", Some(2)).await;
    let takers: Vec<&TestApp> = std::iter::once(&app).chain(other.as_ref()).collect();
    let requests = (0..12).map(|n| {
        let taker = takers[n % takers.len()];
        let at = if (n / takers.len()).is_multiple_of(2) {
            IN_SCL
        } else {
            IN_EAST
        };
        request(taker, "ana", at, None)
    });
    let answers = futures_util::future::join_all(requests).await;
    let made = answers
        .iter()
        .filter(|body| body["data"]["requestDriver"]["id"].is_string())
        .count();
    for body in &answers {
        if !body["data"]["requestDriver"]["id"].is_string() {
            assert_eq!(error_code_of(body), "CONFLICT", "{body}");
        }
    }
    assert_eq!(made, 2, "rides made: {answers:?}");
    assert_eq!(searching(&app).await, 2);
}

/// The seed's `/v2/search` names no rider: on a service without tokens its
/// requests share the rider `anonymous`, many people's, which the default
/// cap leaves alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_searches_of_the_seed_are_not_capped() {
    let app = TestApp::spawn(StoreKind::Memory, |_| {}).await;
    for n in 0..5 {
        let (status, body) = app
            .post_raw("/v2/search", r#"{"lat": -33.44262, "lng": -70.63054}"#)
            .await;
        assert_eq!(status, 200, "search {n}: {body}");
    }
    let body = request(&app, "ana", IN_SCL, None).await;
    ride_id(&body);
}

/// With tokens, `anonymous` is a rider like any other: a token whose `sub`
/// is `anonymous` gets the cap too (the exemption is only for the shared
/// rider of a service without tokens).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_tokens_a_rider_named_anonymous_is_capped() {
    const SECRET: &str = "test-secret-of-at-least-16-bytes";
    let app = TestApp::spawn(StoreKind::Memory, |c| c.jwt_secret = Some(SECRET.into())).await;
    let token = tracking::auth::mint(
        SECRET,
        "anonymous",
        tracking::auth::Role::Rider,
        std::time::Duration::from_secs(600),
    )
    .expect("mint");
    let as_anonymous = app.as_user(&token);
    let mut codes = Vec::new();
    for _ in 0..4 {
        let body = as_anonymous
            .gql(
                "mutation { requestDriver(riderId: \"anonymous\", lat: -33.44262, lng: -70.63054) { id } }",
                json!({}),
            )
            .await;
        codes.push(
            body["errors"][0]["extensions"]["code"]
                .as_str()
                .unwrap_or("ok")
                .to_owned(),
        );
    }
    assert_eq!(
        codes,
        ["ok", "ok", "ok", "CONFLICT"],
        "the default cap of 3"
    );
}
