//! The batch solver measured (ignored by default; run in release:
//! `cargo test --release --lib batch -- --ignored --nocapture`): solve time
//! of 1,000 × 1,000 windows with 16 candidates per ride, one 5,000 × 5,000
//! window at the default cap, the largest matrix and the peak memory.

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::graph::{self, Prepared};
use super::solve_tests::{check_valid, did, eta, greedy, rid, total_secs};
use super::{solve, BatchRide, BatchSettings};

/// Candidates per ride (`--eta-candidates`).
const K: usize = 16;

/// A window in a 10 × 10 km city: rides and drivers uniformly placed, each
/// ride's `K` nearest drivers its candidates (straight line × 1.3 at
/// 20 km/h), waits of up to 10 s (a few rides up to 60 s), none starved.
fn city_window(seed: u64, rides: u64, drivers: u64) -> Vec<BatchRide> {
    let mut rng = StdRng::seed_from_u64(seed);
    let place = |rng: &mut StdRng| (rng.random_range(0.0..10.0), rng.random_range(0.0..10.0));
    let at: Vec<(f64, f64)> = (0..drivers).map(|_| place(&mut rng)).collect();
    (0..rides)
        .map(|r| {
            let (x, y) = place(&mut rng);
            let mut near: Vec<(f64, usize)> = at
                .iter()
                .enumerate()
                .map(|(d, &(dx, dy))| ((dx - x).hypot(dy - y), d))
                .collect();
            let k = K.min(near.len());
            if k > 0 && k < near.len() {
                near.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0));
            }
            near.truncate(k);
            near.sort_by(|a, b| a.0.total_cmp(&b.0));
            let waited = if rng.random_bool(0.1) {
                rng.random_range(10.0..60.0)
            } else {
                rng.random_range(0.0..10.0)
            };
            BatchRide {
                ride: rid(r),
                waited_secs: waited,
                batches: rng.random_range(0..3),
                candidates: near
                    .into_iter()
                    .map(|(km, d)| (did(d as u64), eta((km * 1.3 / 20.0 * 3600.0) as u32)))
                    .collect(),
            }
        })
        .collect()
}

/// The largest matrix one solve of this window builds: (rides, drivers).
fn largest_matrix(rides: &[BatchRide], settings: &BatchSettings) -> (usize, usize) {
    let p = Prepared::new(rides, settings.wait_weight);
    let all: Vec<usize> = (0..p.rides.len()).collect();
    let cap = settings.max_batch_size.min(super::MAX_SOLVE_RIDES);
    graph::components(&p, &all)
        .into_iter()
        .map(|mut comp| {
            p.by_wait(&mut comp);
            let k = p.fitting(&comp, cap);
            (k, p.free_drivers_of(&comp[..k]).len())
        })
        .max_by_key(|&(r, d)| r * d)
        .unwrap_or((0, 0))
}

/// Peak resident memory of this process so far, in MB (Linux).
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

/// The `q` quantile (nearest rank) of sorted `xs`.
fn quantile(xs: &[f64], q: f64) -> f64 {
    let i = ((q * xs.len() as f64).ceil() as usize).clamp(1, xs.len()) - 1;
    xs[i]
}

#[test]
#[ignore = "a measurement: run in release with --ignored --nocapture"]
fn measure_solve_times() {
    let settings = BatchSettings::default();
    println!("settings: {settings:?}");
    println!(
        "peak RSS before: {:.1} MB",
        peak_rss_mb().unwrap_or(f64::NAN)
    );

    let mut times = Vec::new();
    let mut gains = Vec::new();
    for seed in 0..20 {
        let rides = city_window(seed, 1_000, 1_000);
        let start = Instant::now();
        let s = solve(&rides, &settings);
        times.push(ms(start.elapsed()));
        check_valid(&rides, &s);
        let g = greedy(&rides);
        let g_total: u64 = g.iter().map(|p| u64::from(p.2)).sum();
        let (r, d) = largest_matrix(&rides, &settings);
        println!(
            "1000x1000 seed {seed:2}: {:7.1} ms, matched {} (greedy {}), pickup Σ {} s (greedy {} s), \
             components {}, largest {}, overflow {}, matrix {r}x{d}",
            times[times.len() - 1],
            s.pairs.len(),
            g.len(),
            total_secs(&s),
            g_total,
            s.components,
            s.largest,
            s.overflow,
        );
        if s.pairs.len() == g.len() && g_total > 0 {
            gains.push(1.0 - total_secs(&s) as f64 / g_total as f64);
        }
    }
    times.sort_by(f64::total_cmp);
    println!(
        "1000x1000, 16 candidates, 20 windows: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms \
         (target p99 <= 200 ms); mean pickup Σ {:.1}% below greedy's",
        quantile(&times, 0.5),
        quantile(&times, 0.99),
        times[times.len() - 1],
        100.0 * gains.iter().sum::<f64>() / gains.len().max(1) as f64,
    );

    let rides = city_window(99, 5_000, 5_000);
    let (r, d) = largest_matrix(&rides, &settings);
    let start = Instant::now();
    let s = solve(&rides, &settings);
    let took = ms(start.elapsed());
    check_valid(&rides, &s);
    println!(
        "5000x5000, cap {}: {took:.1} ms, matched {}, unmatched {}, components {}, largest {}, \
         overflow {}, largest matrix {r}x{d} = {:.1} MB of i64",
        settings.max_batch_size,
        s.pairs.len(),
        s.unmatched,
        s.components,
        s.largest,
        s.overflow,
        (r * d * 8) as f64 / 1e6,
    );
    println!(
        "peak RSS after: {:.1} MB",
        peak_rss_mb().unwrap_or(f64::NAN)
    );
}
