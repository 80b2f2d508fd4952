//! Offers where several instances share one Redis: made on one, answered
//! through another, outliving the instance that made them, and a crowd of
//! riders against a few drivers who answer at random.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures_util::future::join_all;
use rand::Rng;

use crate::common::{
    dispatch::{expect_feed, feed, on_ride},
    id_of,
    instances::{two_instances, Deployment},
    north_of, within,
    ws::Event,
    Client, Protocol, StoreKind, DRIVER, RIDER,
};

/// The instance that searches makes the offer; the driver's feed and its
/// answers go through the other; a decline there reaches the searching
/// instance at once (its search interval is a minute).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offers_made_on_one_instance_are_answered_through_another() {
    let tweak = |c: &mut tracking::Config| c.offer_timeout = Duration::from_secs(30);
    let (a, b) = two_instances(StoreKind::Redis, tweak).await;
    b.update_location("first", north_of(RIDER, 0.5)).await;
    b.update_location("second", north_of(RIDER, 1.0)).await;
    let (mut first, _) = feed(&b, "first").await;
    let (mut second, _) = feed(&a, "second").await;
    let ride = id_of(&a.request_driver("ana", RIDER).await);
    let mut rider = a.watch_ride(Protocol::TransportWs, &ride).await;
    rider.expect_status("SEARCHING").await;

    expect_feed(&mut first, "OFFER").await;
    let declined = on_ride(&b, "declineOffer", &ride).await;
    assert_eq!(
        declined["data"]["declineOffer"]["status"], "SEARCHING",
        "{declined}"
    );
    assert_eq!(
        expect_feed(&mut first, "OFFER_ENDED").await["reason"],
        "DECLINED"
    );
    expect_feed(&mut second, "OFFER").await;
    let accepted = on_ride(&b, "acceptOffer", &ride).await;
    assert_eq!(
        accepted["data"]["acceptOffer"]["driverId"], "second",
        "{accepted}"
    );
    assert_eq!(
        rider.expect_status("DRIVER_FOUND").await["driver"]["id"],
        "second"
    );
    assert_eq!(
        expect_feed(&mut second, "OFFER_ENDED").await["reason"],
        "ACCEPTED"
    );
    assert_eq!(
        expect_feed(&mut second, "RIDE").await["ride"]["status"],
        "DRIVER_FOUND"
    );
}

/// An instance SIGKILLed while its ride's offer waits: the instance that
/// adopts the ride times the offer out at its deadline (kept in Redis) and
/// offers the ride to the next driver.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instances_offer_times_out_on_its_successor() {
    let deployment = Deployment::start(&[
        "--instance-lease",
        "1s",
        "--search-interval",
        "60s",
        "--offer-timeout",
        "2s",
    ])
    .await;
    let (doomed, on_doomed) = deployment.instance();
    let (_survivor, on_survivor) = deployment.instance();
    on_survivor
        .update_location("silent", north_of(RIDER, 0.5))
        .await;
    on_survivor
        .update_location("next", north_of(RIDER, 1.0))
        .await;
    let (mut silent, _) = feed(&on_survivor, "silent").await;
    let (mut next_driver, _) = feed(&on_survivor, "next").await;
    let ride = id_of(&on_doomed.request_driver("ana", RIDER).await);
    let offer = expect_feed(&mut silent, "OFFER").await;
    let deadline: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(offer["offer"]["expiresAt"].clone()).expect("a time");
    doomed.kill();

    let ended = within(
        Duration::from_secs(5),
        "the successor to time the offer out",
        expect_feed(&mut silent, "OFFER_ENDED"),
    )
    .await;
    assert_eq!(ended["reason"], "TIMED_OUT");
    assert!(chrono::Utc::now() >= deadline - chrono::Duration::milliseconds(100));
    let offered = within(
        Duration::from_secs(2),
        "the next driver's offer",
        expect_feed(&mut next_driver, "OFFER"),
    )
    .await;
    assert_eq!(offered["ride"]["id"], ride.as_str());
    assert_eq!(on_survivor.driver("silent").await["status"], "AVAILABLE");
}

/// What one driver saw on its feed: it never holds two offers, nor two rides.
#[derive(Default)]
struct Held {
    offers: HashSet<String>,
    rides: HashSet<String>,
    worst: (usize, usize),
}

/// Two instances, 20 drivers who accept, decline or ignore offers at
/// random (and complete what they accept), 200 riders requesting at once,
/// some cancelling: no driver ever holds two offers or two rides, and every
/// ride ends in exactly one terminal state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crowd_of_riders_and_fickle_drivers_never_double_book() {
    const DRIVERS: usize = 20;
    const RIDERS: usize = 200;
    let tweak = |c: &mut tracking::Config| {
        c.offer_timeout = Duration::from_millis(400);
        c.offer_ignore_limit = 0;
        c.request_timeout = Duration::from_secs(6);
    };
    let (a, b) = two_instances(StoreKind::Redis, tweak).await;
    let apps: [Client; 2] = [(*a).clone(), (*b).clone()];
    let held: Arc<Mutex<HashMap<String, Held>>> = Arc::default();

    let mut bots = Vec::new();
    for i in 0..DRIVERS {
        let app = apps[i % 2].clone();
        let other = apps[(i + 1) % 2].clone();
        let id = format!("d{i}");
        app.update_location(&id, north_of(RIDER, i as f64 * 0.05))
            .await;
        let (mut sub, _) = feed(&app, &id).await;
        let held = held.clone();
        bots.push(tokio::spawn(async move {
            loop {
                let event = match sub.next_event().await {
                    Event::Next(payload) => payload["data"]["driverFeed"].clone(),
                    _ => return,
                };
                let ride = event["ride"]["id"].as_str().unwrap_or_default().to_owned();
                {
                    let mut all = held.lock().expect("lock");
                    let mine = all.entry(id.clone()).or_default();
                    match event["kind"].as_str() {
                        Some("OFFER") => {
                            mine.offers.insert(ride.clone());
                        }
                        Some("OFFER_ENDED") => {
                            mine.offers.remove(&ride);
                        }
                        Some("RIDE") if event["ride"]["status"] == "DRIVER_FOUND" => {
                            mine.rides.insert(ride.clone());
                        }
                        Some("RIDE")
                            if matches!(
                                event["ride"]["status"].as_str(),
                                Some("COMPLETED" | "CANCELLED")
                            ) =>
                        {
                            mine.rides.remove(&ride);
                        }
                        _ => {}
                    }
                    mine.worst.0 = mine.worst.0.max(mine.offers.len());
                    mine.worst.1 = mine.worst.1.max(mine.rides.len());
                }
                let (delay, choice) = {
                    let mut rng = rand::rng();
                    (
                        Duration::from_millis(rng.random_range(0..300)),
                        rng.random_range(0..4),
                    )
                };
                let (app, other) = (app.clone(), other.clone());
                match event["kind"].as_str() {
                    Some("OFFER") => {
                        tokio::spawn(async move {
                            tokio::time::sleep(delay).await;
                            // Answers go through either instance.
                            let through = if choice % 2 == 0 { &app } else { &other };
                            match choice {
                                0 | 1 => drop(on_ride(through, "acceptOffer", &ride).await),
                                2 => drop(on_ride(through, "declineOffer", &ride).await),
                                _ => {} // ignored: it times out
                            }
                        });
                    }
                    Some("RIDE") if event["ride"]["status"] == "DRIVER_FOUND" => {
                        tokio::spawn(async move {
                            tokio::time::sleep(delay).await;
                            drop(on_ride(&app, "completeRide", &ride).await);
                        });
                    }
                    _ => {}
                }
            }
        }));
    }

    let started = Instant::now();
    let rides: Vec<String> = join_all((0..RIDERS).map(|i| {
        let app = apps[i % 2].clone();
        async move {
            let ride = id_of(
                &app.request_driver(&format!("r{i}"), north_of(DRIVER, (i % 10) as f64 * 0.1))
                    .await,
            );
            if i % 7 == 0 {
                let wait = Duration::from_millis(rand::rng().random_range(0..800));
                tokio::time::sleep(wait).await;
                app.cancel(&ride).await;
            }
            ride
        }
    }))
    .await;

    // Every ride ends: matched ones are completed by their bots, the rest
    // expire within the 6 s timeout.
    let mut ended: HashMap<String, usize> = HashMap::new();
    for ride in &rides {
        let body = within(
            Duration::from_secs(20),
            "every ride to end",
            a.ride_reaches_any(ride, &["COMPLETED", "CANCELLED", "EXPIRED"]),
        )
        .await;
        *ended
            .entry(body["status"].as_str().unwrap_or("?").to_owned())
            .or_default() += 1;
    }
    assert_eq!(ended.values().sum::<usize>(), RIDERS);
    assert!(
        ended.get("COMPLETED").copied().unwrap_or(0) > 0,
        "{ended:?}"
    );
    // A terminal ride never changes again: reading them all once more
    // finds each in the state it ended in.
    let again = join_all(rides.iter().map(|r| a.ride(r))).await;
    let mut recount: HashMap<String, usize> = HashMap::new();
    for ride in &again {
        *recount
            .entry(ride["status"].as_str().unwrap_or("?").to_owned())
            .or_default() += 1;
    }
    assert_eq!(recount, ended);
    for i in 0..DRIVERS {
        let driver = a.driver(&format!("d{i}")).await;
        assert!(
            matches!(driver["status"].as_str(), Some("AVAILABLE" | "OFFLINE")),
            "after the crowd: {driver}"
        );
    }
    for bot in bots {
        bot.abort();
    }
    let held = held.lock().expect("lock");
    assert_eq!(held.len(), DRIVERS, "every driver was offered something");
    for (driver, seen) in held.iter() {
        assert!(
            seen.worst.0 <= 1,
            "{driver} held {} offers at once",
            seen.worst.0
        );
        assert!(
            seen.worst.1 <= 1,
            "{driver} held {} rides at once",
            seen.worst.1
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}
