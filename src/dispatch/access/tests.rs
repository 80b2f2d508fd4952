//! The access rules, checked caller by caller and rule by rule.

use chrono::Utc;

use super::*;
use crate::domain::{Coordinates, RideId, RideStatus};

fn token(role: Role, sub: &str) -> Caller {
    Caller::Token {
        sub: sub.into(),
        role,
    }
}

fn ride(status: RideStatus) -> Ride {
    let now = Utc::now();
    Ride {
        id: RideId::new("test", 1),
        rider_id: RiderId::parse("ana").unwrap_or_else(|e| panic!("{e}")),
        pickup: Coordinates::parse(0.0, 0.0).unwrap_or_else(|e| panic!("{e}")),
        dropoff: None,
        status,
        driver_id: Some(DriverId::parse("dan").unwrap_or_else(|e| panic!("{e}"))),
        distance_km: Some(1.0),
        offer: None,
        offer_end: None,
        searches: 1,
        created_at: now,
        expires_at: now,
        matched_at: None,
        pickup_eta: None,
        arrived_at: None,
        started_at: None,
        ended_at: None,
        revision: 2,
    }
}

/// A searching ride offered to `driver`.
fn offered_to(driver: &str) -> Ride {
    let mut ride = ride(RideStatus::Searching);
    ride.driver_id = None;
    ride.offer = Some(crate::domain::Offer {
        driver: DriverId::parse(driver).unwrap_or_else(|e| panic!("{e}")),
        distance_km: 1.0,
        made_at: ride.created_at,
        expires_at: ride.created_at,
        revision: 2,
        eta: None,
    });
    ride
}

/// (rule, caller, allowed): each row of the table above, for the caller
/// it allows and the ones it does not.
#[test]
fn the_rule_table_holds() {
    let found = ride(RideStatus::DriverFound);
    let ended = ride(RideStatus::Completed);
    let offered = offered_to("dan");
    let dan = DriverId::parse("dan").unwrap_or_else(|e| panic!("{e}"));
    let ana = RiderId::parse("ana").unwrap_or_else(|e| panic!("{e}"));
    let callers = [
        ("open", Caller::Open),
        ("anonymous", Caller::Anonymous),
        ("ops", token(Role::Dispatcher, "ops")),
        ("ana", token(Role::Rider, "ana")),
        ("bob", token(Role::Rider, "bob")),
        ("dan", token(Role::Driver, "dan")),
        ("eve", token(Role::Driver, "eve")),
    ];
    // Each rule, and who besides a dispatcher (and the open service,
    // which has a dispatcher's rights) it allows.
    type Rule<'a> = (&'a str, Box<dyn Fn(&Caller) -> bool + 'a>, Vec<&'a str>);
    let rules: Vec<Rule> = vec![
        (
            "act as dan",
            Box::new(|c| may_act_as_driver(c, &dan, "x").is_ok()),
            vec!["dan"],
        ),
        (
            "request as ana",
            Box::new(|c| may_request_as(c, &ana).is_ok()),
            vec!["ana"],
        ),
        (
            "see ana's ride",
            Box::new(|c| may_see_ride(c, &found, "x").is_ok()),
            vec!["ana", "dan"],
        ),
        (
            "cancel ana's ride",
            Box::new(|c| may_cancel(c, &found).is_ok()),
            vec!["ana"],
        ),
        (
            "move dan's ride through its trip",
            Box::new(|c| may_drive(c, &found, "x").is_ok()),
            vec!["dan"],
        ),
        (
            "see the ride offered to dan",
            Box::new(|c| may_see_ride(c, &offered, "x").is_ok()),
            vec!["ana", "dan"],
        ),
        (
            "see who was offered it",
            Box::new(|c| may_see_offer(c, &dan)),
            vec!["dan"],
        ),
        (
            "answer offers",
            Box::new(|c| may_answer_offers(c, "x").is_ok()),
            vec!["dan", "eve"],
        ),
        (
            "follow dan's feed",
            Box::new(|c| may_follow_feed(c, &dan).is_ok()),
            vec!["dan"],
        ),
        (
            "see dan while only offered ana's ride",
            Box::new(|c| may_see_driver(c, &dan, Some(&offered)).is_ok()),
            vec!["dan"],
        ),
        (
            "watch the fleet",
            Box::new(|c| may_watch_fleet(c).is_ok()),
            vec![],
        ),
        (
            "read an area's event log",
            Box::new(|c| may_read_events(c, "events").is_ok()),
            vec![],
        ),
        (
            "see dan",
            Box::new(|c| may_see_driver(c, &dan, Some(&found)).is_ok()),
            vec!["ana", "dan"],
        ),
        (
            "follow an ended ride's driver",
            Box::new(|c| may_follow_driver_of(c, &ended)),
            vec![],
        ),
    ];
    for (rule, check, allowed) in &rules {
        for (name, caller) in &callers {
            let expected = matches!(*name, "open" | "ops") || allowed.contains(name);
            assert_eq!(check(caller), expected, "{name} may {rule}?");
        }
    }
    // While the ride runs, its rider and driver follow its driver.
    assert!(may_follow_driver_of(&token(Role::Rider, "ana"), &found));
    assert!(!may_follow_driver_of(&token(Role::Rider, "ana"), &ended));
    assert!(!may_follow_driver_of(&token(Role::Driver, "dan"), &ended));
    // A driver answers as itself; a dispatcher for whoever holds it.
    assert_eq!(
        may_answer_offers(&token(Role::Driver, "eve"), "x")
            .ok()
            .flatten()
            .map(|d| d.to_string()),
        Some("eve".to_owned())
    );
    assert_eq!(may_answer_offers(&Caller::Open, "x").ok(), Some(None));
}

#[test]
fn anonymous_callers_get_unauthenticated_and_others_forbidden() {
    let dan = DriverId::parse("dan").unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        may_act_as_driver(&Caller::Anonymous, &dan, "x"),
        Err(Error::Unauthenticated(_))
    ));
    assert!(matches!(
        may_act_as_driver(&token(Role::Rider, "dan"), &dan, "x"),
        Err(Error::Forbidden(_))
    ));
    assert!(matches!(
        may_look_up_rides(&Caller::Anonymous, "ride"),
        Err(Error::Unauthenticated(_))
    ));
}

#[test]
fn riders_see_nearby_drivers_without_ids() {
    assert_eq!(
        may_list_nearby(&token(Role::Rider, "ana")).ok(),
        Some(false)
    );
    assert_eq!(
        may_list_nearby(&token(Role::Dispatcher, "ops")).ok(),
        Some(true)
    );
    assert!(may_list_nearby(&token(Role::Driver, "dan")).is_err());
}

#[test]
fn the_rider_of_a_seed_request_comes_from_the_token() {
    let rider = |c: &Caller, named| rider_for(c, named).map(|r| r.to_string());
    assert_eq!(
        rider(&Caller::Open, None).ok().as_deref(),
        Some("anonymous")
    );
    assert_eq!(
        rider(&token(Role::Rider, "ana"), None).ok().as_deref(),
        Some("ana")
    );
    assert!(matches!(
        rider_for(&token(Role::Dispatcher, "ops"), None),
        Err(Error::BadInput(_))
    ));
    assert!(matches!(
        rider_for(&Caller::Anonymous, None),
        Err(Error::Unauthenticated(_))
    ));
}
