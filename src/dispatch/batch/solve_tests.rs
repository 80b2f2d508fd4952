//! The batch solver's tests: where greedy is wrong, most rides first,
//! starved rides first, components, the cap, determinism, junk, and a
//! brute-force cross-check on many small random windows.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::solve::cost_ms;
use super::{solve, BatchRide, BatchSettings, Solved};
use crate::domain::{DriverId, Eta, EtaSource, RideId};

pub(super) fn rid(n: u64) -> RideId {
    RideId::new("t", n)
}

pub(super) fn did(n: u64) -> DriverId {
    DriverId::parse(&format!("d{n}")).expect("a driver id")
}

pub(super) fn eta(seconds: u32) -> Eta {
    Eta {
        seconds,
        road_km: f64::from(seconds) / 120.0,
        source: EtaSource::StraightLine,
    }
}

/// Ride `n`, waited `waited` s, through `batches` windows, candidates
/// (driver number, pickup seconds).
fn ride(n: u64, waited: f64, batches: u32, cands: &[(u64, u32)]) -> BatchRide {
    BatchRide {
        ride: rid(n),
        waited_secs: waited,
        batches,
        candidates: cands.iter().map(|&(d, s)| (did(d), eta(s))).collect(),
    }
}

fn settings(w: f64) -> BatchSettings {
    BatchSettings {
        wait_weight: w,
        max_batch_size: 1_000,
        max_batches: 3,
    }
}

/// Today's matching: in request order (the longest-waiting first), each ride
/// takes its fastest still-free candidate.
pub(super) fn greedy(rides: &[BatchRide]) -> Vec<(RideId, DriverId, u32)> {
    let mut order: Vec<&BatchRide> = rides.iter().collect();
    order.sort_by(|a, b| b.waited_secs.total_cmp(&a.waited_secs));
    let mut taken: Vec<&DriverId> = Vec::new();
    let mut out = Vec::new();
    for r in order {
        let best = r
            .candidates
            .iter()
            .filter(|(d, _)| !taken.contains(&d))
            .min_by_key(|(d, e)| (e.seconds, d.clone()));
        if let Some((d, e)) = best {
            taken.push(d);
            out.push((r.ride.clone(), d.clone(), e.seconds));
        }
    }
    out
}

pub(super) fn total_secs(s: &Solved) -> u64 {
    s.pairs.iter().map(|p| u64::from(p.eta.seconds)).sum()
}

/// Each ride and driver at most once, each pair one of the ride's
/// candidates with its ETA, the counts adding up.
pub(super) fn check_valid(rides: &[BatchRide], s: &Solved) {
    let mut seen_rides: Vec<&RideId> = s.pairs.iter().map(|p| &p.ride).collect();
    let mut seen_drivers: Vec<&DriverId> = s.pairs.iter().map(|p| &p.driver).collect();
    seen_rides.sort();
    seen_rides.dedup();
    seen_drivers.sort();
    seen_drivers.dedup();
    assert_eq!(seen_rides.len(), s.pairs.len(), "a ride twice: {s:?}");
    assert_eq!(seen_drivers.len(), s.pairs.len(), "a driver twice: {s:?}");
    for p in &s.pairs {
        let ok = rides.iter().any(|r| {
            r.ride == p.ride
                && r.candidates
                    .iter()
                    .any(|(d, e)| *d == p.driver && e.seconds == p.eta.seconds)
        });
        assert!(ok, "not a candidate pair: {p:?}");
    }
    let mut distinct: Vec<&RideId> = rides.iter().map(|r| &r.ride).collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(s.pairs.len() + s.unmatched, distinct.len(), "{s:?}");
}

#[test]
fn two_riders_two_drivers_where_greedy_is_wrong() {
    // On a line: D1 · A · D2 B. A (requested first) is about as near both
    // drivers (D2 a little nearer); B is near D2 only.
    let rides = vec![
        ride(1, 10.0, 0, &[(1, 300), (2, 240)]),
        ride(2, 8.0, 0, &[(2, 120), (1, 720)]),
    ];
    let g = greedy(&rides);
    let greedy_total: u32 = g.iter().map(|p| p.2).sum();
    assert_eq!(greedy_total, 240 + 720, "greedy: A takes D2, B is left D1");
    let s = solve(&rides, &settings(0.0));
    check_valid(&rides, &s);
    assert_eq!(s.pairs.len(), 2);
    assert_eq!(total_secs(&s), 300 + 120, "the optimum: A-D1, B-D2: {s:?}");
    assert_eq!(
        (s.components, s.largest, s.unmatched, s.overflow),
        (1, 2, 0, 0)
    );
    // Claimed the longest-waiting first.
    assert_eq!(s.pairs[0].ride, rid(1));
    assert_eq!(s.pairs[0].driver, did(1));
}

#[test]
fn most_rides_first_then_least_cost() {
    // Cheapest alone: R1-D1 (10 s), R2 unmatched. Two rides: R1-D2, R2-D1.
    let rides = vec![
        ride(1, 0.0, 0, &[(1, 10), (2, 3_000)]),
        ride(2, 0.0, 0, &[(1, 2_000)]),
    ];
    let s = solve(&rides, &settings(0.0));
    check_valid(&rides, &s);
    assert_eq!(s.pairs.len(), 2, "{s:?}");
    assert_eq!(s.unmatched, 0);
    assert_eq!(total_secs(&s), 5_000);
    // Still so at the clamped extremes of the cost (about ±11.6 days).
    let far = vec![
        ride(1, 0.0, 0, &[(1, 10), (2, u32::MAX)]),
        ride(2, 1e9, 0, &[(1, u32::MAX), (3, 0)]),
        ride(3, 0.0, 0, &[(3, u32::MAX)]),
    ];
    for w in [0.0, 1e6] {
        let s = solve(&far, &settings(w));
        check_valid(&far, &s);
        assert_eq!(s.pairs.len(), 3, "w = {w}: {s:?}");
    }
}

#[test]
fn the_wait_weight_breaks_near_ties_for_the_longer_waiting() {
    // One driver: R1 waited 600 s, 120 s away; R2 new, 100 s away.
    let rides = vec![ride(1, 600.0, 0, &[(1, 120)]), ride(2, 0.0, 0, &[(1, 100)])];
    let near = solve(&rides, &settings(0.0));
    assert_eq!(near.pairs.len(), 1);
    assert_eq!(near.pairs[0].ride, rid(2), "w = 0: the nearer");
    // 120 − 0.1 × 600 = 60 < 100.
    let fair = solve(&rides, &settings(0.1));
    assert_eq!(fair.pairs[0].ride, rid(1), "w = 0.1: the one waiting");
    assert_eq!(fair.unmatched, 1);
}

#[test]
fn starved_rides_are_matched_greedily_first() {
    let rides = vec![
        ride(1, 5.0, 0, &[(1, 10), (2, 20)]),
        // Starved, the longest-waiting: takes D1, its fastest.
        ride(2, 90.0, 3, &[(1, 300), (3, 400)]),
        // Starved, waited less: D1 is gone, takes D3.
        ride(3, 60.0, 4, &[(1, 50), (3, 60)]),
    ];
    let s = solve(&rides, &settings(0.0));
    check_valid(&rides, &s);
    let got: Vec<(RideId, DriverId)> = s
        .pairs
        .iter()
        .map(|p| (p.ride.clone(), p.driver.clone()))
        .collect();
    assert_eq!(
        got,
        vec![(rid(2), did(1)), (rid(3), did(3)), (rid(1), did(2))],
        "starved first, the longest-waiting first; the rest after"
    );
    assert_eq!(s.components, 1, "only ride 1 is left to solve");
}

#[test]
fn far_groups_are_solved_as_separate_components() {
    let rides = vec![
        ride(1, 1.0, 0, &[(1, 300), (2, 240)]),
        ride(2, 1.0, 0, &[(2, 120), (1, 720)]),
        ride(3, 1.0, 0, &[(11, 300), (12, 240)]),
        ride(4, 1.0, 0, &[(12, 120), (11, 720)]),
        ride(5, 1.0, 0, &[(13, 60)]),
        ride(6, 1.0, 0, &[]),
    ];
    let s = solve(&rides, &settings(0.0));
    check_valid(&rides, &s);
    assert_eq!(s.components, 3, "two pairs of rides and one alone: {s:?}");
    assert_eq!(s.largest, 2);
    assert_eq!(s.pairs.len(), 5);
    assert_eq!(s.unmatched, 1, "ride 6 has no candidate");
    assert_eq!(total_secs(&s), 2 * (300 + 120) + 60);
}

#[test]
fn over_the_cap_the_longest_waiting_are_solved_the_rest_greedily() {
    // Five rides over the same three drivers: one component.
    let rides: Vec<BatchRide> = (1..=5)
        .map(|n| ride(n, n as f64, 0, &[(1, 100 + n as u32), (2, 200), (3, 300)]))
        .collect();
    let capped = BatchSettings {
        max_batch_size: 2,
        ..settings(0.0)
    };
    let s = solve(&rides, &capped);
    check_valid(&rides, &s);
    assert_eq!((s.components, s.largest), (1, 5));
    assert_eq!(s.overflow, 3, "{s:?}");
    assert_eq!(s.pairs.len(), 3);
    assert_eq!(s.unmatched, 2);
    let mut solved: Vec<&RideId> = s.pairs.iter().take(2).map(|p| &p.ride).collect();
    solved.sort();
    assert_eq!(solved, vec![&rid(4), &rid(5)], "the two longest-waiting");
    // A cap of 0: everything greedy, nothing lost.
    let none = solve(
        &rides,
        &BatchSettings {
            max_batch_size: 0,
            ..capped
        },
    );
    check_valid(&rides, &none);
    assert_eq!((none.overflow, none.pairs.len()), (5, 3));
}

/// A random window: `n` rides over `m` drivers, each pair a candidate with
/// probability `p`.
pub(super) fn random_window(rng: &mut StdRng, n: u64, m: u64, p: f64) -> Vec<BatchRide> {
    (0..n)
        .map(|r| {
            let mut cands: Vec<(u64, u32)> = Vec::new();
            for d in 0..m {
                if rng.random_bool(p) {
                    cands.push((d, rng.random_range(0..12) * 30));
                }
            }
            cands.sort_by_key(|c| c.1);
            ride(r, f64::from(rng.random_range(0..600)), 0, &cands)
        })
        .collect()
}

#[test]
fn the_same_window_in_any_order_gives_the_same_pairs() {
    let mut rng = StdRng::seed_from_u64(7);
    for _ in 0..50 {
        let rides = random_window(&mut rng, 30, 25, 0.15);
        let first = solve(&rides, &settings(0.05));
        assert_eq!(first, solve(&rides, &settings(0.05)));
        let mut shuffled = rides.clone();
        shuffled.reverse();
        for r in &mut shuffled {
            r.candidates.shuffle(&mut rng);
        }
        assert_eq!(first, solve(&shuffled, &settings(0.05)), "input order");
    }
}

#[test]
fn junk_never_panics() {
    let empty = solve(&[], &settings(0.0));
    assert_eq!(empty, Solved::default());
    let junk = vec![
        ride(1, f64::NAN, 0, &[(1, 10), (1, 5), (2, u32::MAX)]),
        ride(1, 3.0, 0, &[(3, 1)]), // the same ride again: its first entry counts
        ride(2, f64::INFINITY, 0, &[(1, 10), (2, 0)]),
        ride(3, f64::NEG_INFINITY, 9, &[(2, 0)]),
        ride(4, -5.0, 0, &[]),
        ride(5, 1e300, u32::MAX, &[(1, u32::MAX)]),
    ];
    for w in [0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e300] {
        for cap in [0, 1, 2, usize::MAX] {
            for max_batches in [0, 1, 3, u32::MAX] {
                let set = BatchSettings {
                    wait_weight: w,
                    max_batch_size: cap,
                    max_batches,
                };
                let s = solve(&junk, &set);
                assert!(s.pairs.len() <= 3, "three drivers: {s:?}");
                let mut drivers: Vec<&DriverId> = s.pairs.iter().map(|p| &p.driver).collect();
                drivers.sort();
                drivers.dedup();
                assert_eq!(drivers.len(), s.pairs.len(), "a driver twice: {s:?}");
                assert_eq!(s.pairs.len() + s.unmatched, 5, "{s:?}");
                assert!(s
                    .pairs
                    .iter()
                    .all(|p| p.ride != rid(1) || p.driver != did(3)));
            }
        }
    }
    // The repeated driver: its fastest entry is the one used.
    let s = solve(&junk[..1], &settings(0.0));
    assert_eq!(
        (s.pairs[0].driver.clone(), s.pairs[0].eta.seconds),
        (did(1), 5)
    );
}

/// The best (most pairs, then least Σ cost) over every matching.
fn brute_force(rides: &[BatchRide], w: f64) -> (usize, i64) {
    fn go(rides: &[BatchRide], w: f64, i: usize, used: &mut Vec<DriverId>) -> (usize, i64) {
        let Some(r) = rides.get(i) else {
            return (0, 0);
        };
        let mut best = go(rides, w, i + 1, used);
        for (d, e) in &r.candidates {
            if used.contains(d) {
                continue;
            }
            used.push(d.clone());
            let (n, c) = go(rides, w, i + 1, used);
            used.pop();
            let here = (n + 1, c + cost_ms(e.seconds, r.waited_secs, w));
            if here.0 > best.0 || (here.0 == best.0 && here.1 < best.1) {
                best = here;
            }
        }
        best
    }
    go(rides, w, 0, &mut Vec::new())
}

#[test]
fn matches_brute_force_on_small_random_windows() {
    let mut rng = StdRng::seed_from_u64(23);
    for round in 0..2_000 {
        let n = rng.random_range(1..=6);
        let m = rng.random_range(1..=6);
        let p = [0.2, 0.4, 0.7, 1.0][round % 4];
        let w = [0.0, 0.05, 0.5, 3.0][(round / 4) % 4];
        let rides = random_window(&mut rng, n, m, p);
        let s = solve(&rides, &settings(w));
        check_valid(&rides, &s);
        let cost: i64 = s
            .pairs
            .iter()
            .map(|a| {
                let r = rides.iter().find(|r| r.ride == a.ride).expect("its ride");
                cost_ms(a.eta.seconds, r.waited_secs, w)
            })
            .sum();
        let best = brute_force(&rides, w);
        assert_eq!(
            (s.pairs.len(), cost),
            best,
            "round {round}: {rides:?} → {s:?}"
        );
    }
}
