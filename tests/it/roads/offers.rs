//! Offers ranked by road where two instances share one Redis: riders on
//! the river city's south street, drivers along it who accept, decline or
//! ignore offers at random. A driver never holds two offers or two rides,
//! and a driver who declined a ride, or let its offer time out, is never
//! offered that ride again (the ranking reads its candidates before the
//! store claims one; the claim must still leave it out).

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use futures_util::future::join_all;
use rand::Rng;

use super::city::{cities, river};
use crate::common::{
    dispatch::{feed, on_ride},
    id_of,
    instances::two_instances,
    within,
    ws::Event,
    Client, StoreKind,
};

/// What one driver saw on its feed.
#[derive(Default)]
struct Seen {
    offers: HashSet<String>,
    rides: HashSet<String>,
    /// Rides it declined or let time out.
    refused: HashSet<String>,
    worst: (usize, usize),
    /// Offers of a ride it had refused before.
    offered_again: Vec<String>,
}

pub(super) async fn ranked_offers_on_two_instances_never_double_book_nor_reoffer(store: StoreKind) {
    const DRIVERS: usize = 20;
    const RIDERS: usize = 120;
    let (a, b) = two_instances(store, |c| {
        c.roads.file = Some(cities());
        c.offer_timeout = Duration::from_millis(400);
        c.offer_ignore_limit = 0;
        c.request_timeout = Duration::from_secs(6);
    })
    .await;
    let apps: [Client; 2] = [(*a).clone(), (*b).clone()];
    let seen: Arc<Mutex<HashMap<String, Seen>>> = Arc::default();
    let mut bots = Vec::new();
    for i in 0..DRIVERS {
        let app = apps[i % 2].clone();
        let other = apps[(i + 1) % 2].clone();
        let id = format!("d{i}");
        let at = (river::PICKUP.0, 25.0 + i as f64 * 0.001);
        app.update_location(&id, at).await;
        let (mut sub, _) = feed(&app, &id).await;
        let seen = seen.clone();
        bots.push(tokio::spawn(async move {
            loop {
                let event = match sub.next_event().await {
                    Event::Next(payload) => payload["data"]["driverFeed"].clone(),
                    _ => return,
                };
                let ride = event["ride"]["id"].as_str().unwrap_or_default().to_owned();
                let kind = event["kind"].as_str().unwrap_or_default().to_owned();
                let status = event["ride"]["status"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                {
                    let mut all = seen.lock().expect("lock");
                    let mine = all.entry(id.clone()).or_default();
                    match kind.as_str() {
                        "OFFER" => {
                            if mine.refused.contains(&ride) {
                                mine.offered_again.push(ride.clone());
                            }
                            mine.offers.insert(ride.clone());
                        }
                        "OFFER_ENDED" => {
                            mine.offers.remove(&ride);
                            if matches!(event["reason"].as_str(), Some("DECLINED" | "TIMED_OUT")) {
                                mine.refused.insert(ride.clone());
                            }
                        }
                        "RIDE" if status == "DRIVER_FOUND" => {
                            mine.rides.insert(ride.clone());
                        }
                        "RIDE" if matches!(status.as_str(), "COMPLETED" | "CANCELLED") => {
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
                match kind.as_str() {
                    "OFFER" => {
                        tokio::spawn(async move {
                            tokio::time::sleep(delay).await;
                            let through = if choice % 2 == 0 { &app } else { &other };
                            match choice {
                                0 => drop(on_ride(through, "acceptOffer", &ride).await),
                                1 | 2 => drop(on_ride(through, "declineOffer", &ride).await),
                                _ => {} // ignored: it times out
                            }
                        });
                    }
                    "RIDE" if status == "DRIVER_FOUND" => {
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
    let rides: Vec<String> = join_all((0..RIDERS).map(|i| {
        let app = apps[i % 2].clone();
        async move {
            let pickup = (river::PICKUP.0, 25.005 + (i % 10) as f64 * 0.001);
            id_of(&app.request_driver(&format!("r{i}"), pickup).await)
        }
    }))
    .await;
    for ride in &rides {
        within(
            Duration::from_secs(30),
            "every ride to end",
            a.ride_reaches_any(ride, &["COMPLETED", "CANCELLED", "EXPIRED"]),
        )
        .await;
    }
    for bot in bots {
        bot.abort();
    }
    let seen = seen.lock().expect("lock");
    let refused: usize = seen.values().map(|s| s.refused.len()).sum();
    assert!(refused > 0, "some offers were declined or timed out");
    for (driver, seen) in seen.iter() {
        assert!(seen.worst.0 <= 1, "{driver} held {} offers", seen.worst.0);
        assert!(seen.worst.1 <= 1, "{driver} held {} rides", seen.worst.1);
        assert!(
            seen.offered_again.is_empty(),
            "{driver} was offered again rides it had refused: {:?}",
            seen.offered_again
        );
    }
}
