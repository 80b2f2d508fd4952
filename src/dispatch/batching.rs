//! Batched matching: with a match window W > 0 an area's rides are not
//! matched one by one; every W, the instance holding the area's batch
//! lease reads the area's searching rides and available drivers, finds
//! each ride's candidates (its `--eta-candidates` nearest drivers within
//! the radius, not offered it before, timed to the pickup and within
//! `maxPickupEta`), solves the window ([`super::batch::solve`]: most rides
//! matched, then least pickup time, long-waiting rides first), and claims
//! the pairs in one store call, each pair atomically (a ride or driver
//! taken meanwhile is skipped; its ride waits for the next window). Rides'
//! own search tasks keep their expiry and offer timeouts, and claim
//! nothing while their area batches.

use std::{collections::HashSet, sync::Arc, time::Instant};

use rstar::{primitives::GeomWithData, RTree};
use tracing::{debug, info_span, warn, Instrument};

use super::{
    batch::{solve, BatchRide, BatchSettings},
    ranking::rank_with_reach,
    search::Searches,
    settings::Settings,
};
use crate::{
    domain::error::Result,
    domain::{chord_for_km, AreaId, Driver, DriverStatus, NearbyDriver, RideId, RideStatus},
    roads::Roads,
    store::{BatchPair, Window, WindowLimits, MAX_WINDOW_DRIVERS, MAX_WINDOW_RIDES},
};

type Indexed = GeomWithData<[f64; 3], usize>;

/// Starts one batching task per area whose window is not zero.
pub(super) fn start(searches: &Arc<Searches>) {
    for area in searches.settings().areas().all() {
        let window = searches.settings().for_area(&area.id).match_window;
        if window.is_zero() {
            continue;
        }
        searches.spawn_until_shutdown(run(searches.clone(), area.id.clone()));
    }
}

/// The area's windows, one every W while this instance holds its lease.
async fn run(searches: Arc<Searches>, area: AreaId) {
    let settings = searches.settings().for_area(&area);
    let mut tick = tokio::time::interval(settings.match_window);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tick.tick().await;
        let store = searches.store();
        let outcome = async {
            if !store.batch_lease(&area, settings.batch.lease).await? {
                return Ok(());
            }
            window(&searches, &area, &settings).await
        }
        .instrument(info_span!("dispatch.batch", area = %area))
        .await;
        match outcome {
            Ok(()) if std::mem::take(&mut failing) => {
                tracing::info!(area = %area, "batches work again")
            }
            Ok(()) => {}
            Err(error) => {
                if !std::mem::replace(&mut failing, true) {
                    warn!(area = %area, %error, "a batch failed; retrying every window");
                }
            }
        }
    }
}

/// One window of the area: read, solve, claim, count.
async fn window(searches: &Searches, area: &AreaId, settings: &Settings) -> Result<()> {
    let store = searches.store();
    let now = store.now();
    let seen = store
        .batch_window(
            area,
            WindowLimits {
                max_rides: MAX_WINDOW_RIDES,
                max_drivers: MAX_WINDOW_DRIVERS,
                radius: settings.match_radius,
                per_ride: settings.eta_candidates,
            },
            now,
        )
        .await?;
    let label = area.to_string();
    metrics::histogram!(crate::telemetry::BATCH_SIZE, "area" => label.clone())
        .record(seen.rides.len() as f64);
    if seen.rides.is_empty() {
        return Ok(());
    }
    let window_rides = seen.rides.len();
    let roads = searches.ranking().roads_of_area(area).cloned();
    let rules = *settings;
    let started = Instant::now();
    let (pairs, unmatched, overflow) = searches
        .ranking()
        .blocking(move || {
            let rides = candidates(&seen, roads.as_deref(), &rules, now);
            let solved = solve(
                &rides,
                &BatchSettings {
                    wait_weight: rules.batch.wait_weight,
                    max_batch_size: rules.batch.max_batch_size,
                    max_batches: rules.batch.max_batches,
                },
            );
            let paired: HashSet<&RideId> = solved.pairs.iter().map(|p| &p.ride).collect();
            // A window counts against a ride (towards `maxBatches`) when it
            // lost its candidates to others, not when no driver was near.
            let unmatched: Vec<RideId> = rides
                .iter()
                .filter(|r| !paired.contains(&r.ride) && !r.candidates.is_empty())
                .map(|r| r.ride.clone())
                .collect();
            let pairs: Vec<BatchPair> = solved
                .pairs
                .into_iter()
                .map(|a| BatchPair {
                    ride: a.ride,
                    driver: a.driver,
                    eta: a.eta,
                })
                .collect();
            (pairs, unmatched, solved.overflow)
        })
        .await?;
    metrics::histogram!(crate::telemetry::BATCH_SOLVE, "area" => label.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!(crate::telemetry::BATCH_OVERFLOW, "area" => label.clone())
        .increment(overflow as u64);
    let given = store
        .claim_batch(
            area,
            &pairs,
            &unmatched,
            window_rides,
            settings.match_radius,
            settings.offers,
            store.now(),
        )
        .await?;
    metrics::histogram!(crate::telemetry::BATCH_UNMATCHED, "area" => label)
        .record((window_rides - given.len().min(window_rides)) as f64);
    for ride in given.iter().filter(|r| r.status == RideStatus::DriverFound) {
        crate::telemetry::ride_matched(ride);
    }
    debug!(rides = window_rides, given = given.len(), overflow, "batch");
    Ok(())
}

/// Each ride of the window with its candidates: its nearest drivers within
/// the radius not offered it before, timed to the pickup (by `roads`, or in
/// a straight line), those within `maxPickupEta`.
fn candidates(
    seen: &Window,
    roads: Option<&Roads>,
    settings: &Settings,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<BatchRide> {
    let tree = RTree::bulk_load(
        seen.drivers
            .iter()
            .enumerate()
            .map(|(i, (_, at))| Indexed::new(at.unit_vector(), i))
            .collect(),
    );
    let radius = settings.match_radius.km();
    let chord = chord_for_km(radius);
    let max = settings.max_pickup_eta.map(|d| d.as_secs());
    seen.rides
        .iter()
        .map(|ride| {
            let declined: HashSet<_> = ride.declined.iter().collect();
            let found: Vec<NearbyDriver> = tree
                .nearest_neighbor_iter_with_distance_2(&ride.pickup.unit_vector())
                .take_while(|(_, d2)| *d2 <= chord * chord)
                .filter_map(|(entry, _)| seen.drivers.get(entry.data))
                .filter(|(id, _)| !declined.contains(id))
                .map(|(id, at)| NearbyDriver {
                    driver: Driver {
                        id: id.clone(),
                        status: DriverStatus::Available,
                        location: Some(*at),
                        updated_at: None,
                        ride_id: None,
                    },
                    distance_km: ride.pickup.distance_km(at),
                    eta: None,
                })
                .filter(|n| n.distance_km <= radius)
                .take(settings.eta_candidates)
                .collect();
            let mut ranked =
                rank_with_reach(roads, &found, ride.pickup, &settings.straight_line, max);
            // A driver no road joins to the pickup is a candidate only when
            // no driver that can drive there is (as a search ranks it last).
            if ranked.iter().any(|(_, cut)| !cut) {
                ranked.retain(|(_, cut)| !cut);
            }
            BatchRide {
                ride: ride.id.clone(),
                waited_secs: (now - ride.created_at).num_milliseconds().max(0) as f64 / 1000.0,
                batches: ride.batches,
                candidates: ranked.into_iter().map(|(c, _)| (c.driver, c.eta)).collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use chrono::Utc;

    use super::*;
    use crate::{
        dispatch::settings::BatchRules,
        domain::{Coordinates, DriverId, StraightLine},
        store::{Offers, WindowRide},
    };

    fn settings() -> Settings {
        Settings {
            match_radius: crate::domain::RadiusKm::parse(5.0).unwrap_or_else(|e| panic!("{e}")),
            request_timeout: std::time::Duration::from_secs(240),
            search_interval: std::time::Duration::from_secs(2),
            max_update_rate: 0.0,
            max_speed_kmh: 0.0,
            max_active_rides_per_rider: 0,
            offers: Offers::default(),
            fleet_interval: std::time::Duration::ZERO,
            eta_candidates: 16,
            straight_line: StraightLine::default(),
            max_pickup_eta: None,
            match_window: std::time::Duration::from_secs(2),
            batch: BatchRules::default(),
        }
    }

    /// A point of a 20 km square, the same for the same `i`.
    fn spot(i: u64, salt: u64) -> Coordinates {
        let f = |k: u64| ((i * 7919 + k * 104_729 + salt * 31) % 10_000) as f64 / 10_000.0;
        Coordinates::parse(-33.5 + f(1) * 0.18, -70.7 + f(2) * 0.21)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// 5,000 rides and 5,000 drivers in one window: every ride gets at most
    /// `--eta-candidates` candidates, within the radius, none it declined;
    /// the solve gives each driver at most once, solves no group beyond
    /// `--max-batch-size` by assignment (the rest is counted as overflow),
    /// and three windows in a row give the same answer (nothing carried).
    #[test]
    fn a_window_of_five_thousand_is_bounded_and_carries_nothing() {
        let now = Utc::now();
        let window = Window {
            rides: (0..5000)
                .map(|i| WindowRide {
                    id: crate::domain::RideId::parse(&format!("w.{i}"))
                        .unwrap_or_else(|e| panic!("{e}")),
                    pickup: spot(i, 1),
                    created_at: now - chrono::Duration::seconds((i % 240) as i64),
                    batches: (i % 5) as u32,
                    declined: vec![
                        DriverId::parse(&format!("d{i}")).unwrap_or_else(|e| panic!("{e}"))
                    ],
                })
                .collect(),
            drivers: (0..5000)
                .map(|i| {
                    let id = DriverId::parse(&format!("d{i}")).unwrap_or_else(|e| panic!("{e}"));
                    (id, spot(i, 2))
                })
                .collect(),
        };
        let settings = settings();
        let mut answers = Vec::new();
        for _ in 0..3 {
            let rides = candidates(&window, None, &settings, now);
            for (ride, seen) in rides.iter().zip(&window.rides) {
                assert!(ride.candidates.len() <= settings.eta_candidates);
                assert!(ride
                    .candidates
                    .iter()
                    .all(|(d, _)| !seen.declined.contains(d)));
            }
            let solved = solve(
                &rides,
                &BatchSettings {
                    wait_weight: settings.batch.wait_weight,
                    max_batch_size: settings.batch.max_batch_size,
                    max_batches: settings.batch.max_batches,
                },
            );
            let drivers: HashSet<_> = solved.pairs.iter().map(|p| &p.driver).collect();
            assert_eq!(drivers.len(), solved.pairs.len(), "a driver given twice");
            assert!(solved.largest <= 5000);
            // A group over the cap is solved up to it, the rest greedily, counted.
            if solved.largest > settings.batch.max_batch_size {
                assert!(
                    solved.overflow > 0,
                    "{} rides in a group, none counted",
                    solved.largest
                );
            }
            assert!(solved.pairs.len() + solved.unmatched == 5000);
            answers.push(
                solved
                    .pairs
                    .iter()
                    .map(|p| (p.ride.clone(), p.driver.clone()))
                    .collect::<Vec<_>>(),
            );
        }
        assert!(answers.windows(2).all(|w| w[0] == w[1]), "windows differ");
    }
}
