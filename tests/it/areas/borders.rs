//! Borders: a driver moves between areas with its reports, is listed in
//! exactly one however its reports race across a border, a point on the
//! border belongs to the area listed first, and a driver freed across the
//! border belongs to the area it is in.

use serde_json::{json, Value};

use super::setup::{counts, listed, with_areas, ACROSS, BORDER, EAST_EDGE, ON_BORDER, WEST_EDGE};
use crate::common::{
    areas::{areas_file, two_cities},
    error_code_of, id_of, StoreKind, TestApp,
};

pub(super) async fn a_driver_moves_between_areas_with_its_reports(store: StoreKind) {
    let app = TestApp::spawn(store, |c| {
        c.areas = Some(areas_file(&format!("moves-{store:?}"), &two_cities()));
        c.max_speed_kmh = 300.0;
    })
    .await;
    app.update_location("mover", BORDER).await;
    assert_eq!(
        counts(&app).await,
        [("scl".into(), 1, 0), ("east".into(), 0, 0)]
    );
    app.update_location("mover", ACROSS).await;
    assert_eq!(
        counts(&app).await,
        [("scl".into(), 0, 0), ("east".into(), 1, 0)]
    );
    // A jump too fast for its last report is refused, across the border too.
    let far_west = (-33.44, -70.79);
    let refused = app
        .gql(
            "mutation($lat: Float!, $lng: Float!) { updateLocation(driverId: \"mover\", lat: $lat, lng: $lng) { id } }",
            json!({"lat": far_west.0, "lng": far_west.1}),
        )
        .await;
    assert_eq!(error_code_of(&refused), "BAD_USER_INPUT", "{refused}");
    assert_eq!(app.driver("mover").await["location"]["lng"], ACROSS.1);
    // Assigned in the east, it stays with its ride there when it crosses.
    let ride = id_of(
        &app.request_driver("ana", (ACROSS.0, ACROSS.1 + 0.002))
            .await,
    );
    app.ride_reaches(&ride, "DRIVER_FOUND").await;
    app.update_location("mover", BORDER).await;
    let driver = app.driver("mover").await;
    assert_eq!(
        (
            driver["status"].as_str(),
            driver["location"]["lng"].as_f64()
        ),
        (Some("ASSIGNED"), Some(BORDER.1))
    );
    assert!(id_of(&app.request_driver("bob", BORDER).await).starts_with("scl:"));
    let done = app.complete(&ride).await;
    assert_eq!(
        done["data"]["completeRide"]["status"], "COMPLETED",
        "{done}"
    );
    // Free again, its next report puts it in the west, where a ride waits.
    app.update_location("mover", (BORDER.0 + 0.001, BORDER.1))
        .await;
    // The wake-up's search runs after the report returns: awaited.
    crate::common::eventually("the west ride to take it", || async {
        let waiting = app.data("{ areas { id searchingRides } }", json!({})).await;
        (waiting["areas"][0]["searchingRides"] == 0).then_some(())
    })
    .await;
    assert_eq!(app.driver("mover").await["status"], "ASSIGNED");
}

/// A new driver's reports, eight at once, alternating sides of a border
/// (through two instances where the store is shared): after each round the
/// driver is listed in exactly one area. Then one ride on each side, at
/// once, for a lone driver hammered the same way: one ride gets it, the
/// other keeps searching. No driver is ever assigned to two rides.
pub(super) async fn concurrent_reports_across_a_border_list_a_driver_in_one_area(store: StoreKind) {
    let path = areas_file(&format!("race-{store:?}"), &two_cities());
    let tweak = |c: &mut tracking::Config| c.areas = Some(path.clone());
    let first = TestApp::spawn(store, tweak).await;
    let second = match store {
        StoreKind::Memory => None,
        StoreKind::Redis => Some(TestApp::spawn_with(first.redis.clone(), tweak).await),
        StoreKind::Cluster => {
            let cluster = first.cluster.clone().expect("a cluster");
            Some(TestApp::spawn_on_cluster(cluster, tweak).await)
        }
    };
    let instances: Vec<&TestApp> = std::iter::once(&first).chain(second.as_ref()).collect();
    let hammer = |driver: String| {
        let instances = instances.clone();
        async move {
            let reports = (0..8).map(|n| {
                let at = if n % 2 == 0 { WEST_EDGE } else { EAST_EDGE };
                let app = instances[n % instances.len()];
                let driver = driver.clone();
                async move {
                    app.gql(
                        "mutation($d: ID!, $lat: Float!, $lng: Float!) { updateLocation(driverId: $d, lat: $lat, lng: $lng) { id } }",
                        json!({"d": driver, "lat": at.0, "lng": at.1}),
                    )
                    .await
                }
            });
            let answers = futures_util::future::join_all(reports).await;
            // Under contention a report may be told to try again
            // (UNAVAILABLE, the lease on the driver busy); none fails
            // otherwise, and at least one goes through.
            for answer in &answers {
                if answer.get("errors").is_some() {
                    assert_eq!(error_code_of(answer), "UNAVAILABLE", "{answer}");
                }
            }
            assert!(
                answers.iter().any(|a| a.get("errors").is_none()),
                "every report refused: {answers:?}"
            );
        }
    };
    for round in 0..20 {
        hammer(format!("racer-{round}")).await;
        assert_eq!(
            listed(&first).await,
            round + 1,
            "after round {round}, each driver is listed in one area: {:?}",
            counts(&first).await
        );
    }
    // Every racer off the market, then a lone driver and two rides.
    for round in 0..20 {
        first.go_offline(&format!("racer-{round}")).await;
    }
    hammer("lone".into()).await;
    let (west, east) = futures_util::join!(
        first.request_driver("ana", WEST_EDGE),
        instances[instances.len() - 1].request_driver("bob", EAST_EDGE)
    );
    let (west, east) = (id_of(&west), id_of(&east));
    let west = first.searched(&west).await;
    let east = first.searched(&east).await;
    let found: Vec<&Value> = [&west, &east]
        .into_iter()
        .filter(|r| r["status"] == "DRIVER_FOUND")
        .collect();
    assert_eq!(
        found.len(),
        1,
        "the lone driver matched exactly one of the two rides: {west} {east}"
    );
}

pub(super) async fn a_point_on_the_border_belongs_to_the_area_listed_first(store: StoreKind) {
    let app = with_areas(store, "border").await;
    app.update_location("liner", ON_BORDER).await;
    assert_eq!(
        counts(&app).await,
        [("scl".into(), 1, 0), ("east".into(), 0, 0)],
        "a driver on the border is listed in scl, the first area"
    );
    let ride = id_of(&app.request_driver("ana", ON_BORDER).await);
    assert!(ride.starts_with("scl:"), "{ride}");
    let found = app.ride_reaches(&ride, "DRIVER_FOUND").await;
    assert_eq!(found["driver"]["id"], "liner");
    // A corner the two share, likewise.
    let corner = (-33.6, -70.5);
    app.update_location("cornered", corner).await;
    let other = id_of(&app.request_driver("bob", corner).await);
    assert!(other.starts_with("scl:"), "{other}");
    assert_eq!(
        app.ride_reaches(&other, "DRIVER_FOUND").await["driver"]["id"],
        "cornered"
    );
}

/// A driver assigned in the west that drives its ride into the east stays
/// with the ride's area while it runs; once the ride ends it belongs to
/// the east at once, before any new report: listed there, not in the
/// west, and a ride waiting in the east gets it.
pub(super) async fn a_driver_freed_across_the_border_belongs_to_the_area_it_is_in(
    store: StoreKind,
) {
    let app = with_areas(store, &format!("freed-{store:?}")).await;
    app.update_location("freed", BORDER).await;
    let ride = id_of(&app.request_driver("ana", BORDER).await);
    app.ride_reaches(&ride, "DRIVER_FOUND").await;
    app.update_location("freed", ACROSS).await;
    let waiting = id_of(
        &app.request_driver("bob", (ACROSS.0, ACROSS.1 + 0.001))
            .await,
    );
    assert_eq!(app.searched(&waiting).await["status"], "SEARCHING");
    let done = app.complete(&ride).await;
    assert_eq!(
        done["data"]["completeRide"]["status"], "COMPLETED",
        "{done}"
    );
    let found = app.ride_reaches(&waiting, "DRIVER_FOUND").await;
    assert_eq!(found["driver"]["id"], "freed");
    assert_eq!(
        counts(&app).await,
        [("scl".into(), 0, 0), ("east".into(), 0, 0)],
        "assigned in the east, listed nowhere as available"
    );
}
