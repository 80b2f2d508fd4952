//! The batch solver: one window's searching rides with their candidate
//! drivers in, the pairs to claim out. Pure and synchronous: starved rides
//! greedily first, then each connected component of the candidate graph
//! solved alone (Kuhn–Munkres), most rides first, then least total cost.

use pathfinding::prelude::{kuhn_munkres, Matrix};

use super::graph::{self, Prepared};
use super::types::{Assignment, BatchRide, BatchSettings, Solved, MAX_SOLVE_RIDES};

/// A cost is clamped into ±this many ms (about 11.6 days).
const MAX_COST_MS: i64 = 1_000_000_000;

/// The pairs to claim for one window: each ride and each driver at most
/// once; the most rides matched, then the least Σ (pickup ms − w × ms
/// waited). Never panics; the same input (in any order) gives the same
/// answer.
pub fn solve(rides: &[BatchRide], settings: &BatchSettings) -> Solved {
    let mut p = Prepared::new(rides, settings.wait_weight);
    let mut out = Solved::default();
    let mut matched: Vec<(usize, usize, bool)> = Vec::new(); // (ride, candidate, starved)

    // Starved rides: greedily, the longest-waiting first.
    let mut starved: Vec<usize> = (0..p.rides.len())
        .filter(|&r| p.rides[r].batches >= settings.max_batches)
        .collect();
    p.by_wait(&mut starved);
    for &r in &starved {
        if let Some(c) = p.greedy(r) {
            matched.push((r, c, true));
        }
    }

    // The rest: component by component.
    let rest: Vec<usize> = (0..p.rides.len())
        .filter(|&r| p.rides[r].batches < settings.max_batches)
        .collect();
    let cap = settings.max_batch_size.min(MAX_SOLVE_RIDES);
    let comps = graph::components(&p, &rest);
    out.components = comps.len();
    out.largest = comps.iter().map(Vec::len).max().unwrap_or(0);
    for mut comp in comps {
        if comp.len() == 1 && cap >= 1 {
            if let Some(c) = p.greedy(comp[0]) {
                matched.push((comp[0], c, false));
            }
            continue;
        }
        p.by_wait(&mut comp);
        let split = p.fitting(&comp, cap);
        let (solved, overflow) = comp.split_at(split);
        out.overflow += overflow.len();
        let mut solved = solved.to_vec();
        solved.sort_unstable();
        // Once the cap took some out, what is left may fall apart.
        for sub in graph::components(&p, &solved) {
            matched.extend(assign(&mut p, &sub).into_iter().map(|(r, c)| (r, c, false)));
        }
        for &r in overflow {
            if let Some(c) = p.greedy(r) {
                matched.push((r, c, false));
            }
        }
    }

    // Starved first (in the order served), then the longest-waiting first.
    let starved_count = matched.iter().filter(|m| m.2).count();
    matched[starved_count..].sort_by(|a, b| p.wait_order(a.0, b.0));
    out.unmatched = p.rides.len() - matched.len();
    out.pairs = matched
        .into_iter()
        .map(|(r, c, _)| {
            let ride = &p.rides[r];
            let cand = &ride.candidates[c];
            Assignment {
                ride: ride.id.clone(),
                driver: p.drivers[cand.driver].clone(),
                eta: cand.eta,
            }
        })
        .collect();
    out
}

/// A pair's cost, in ms: pickup ms − w × ms waited, clamped into
/// ±[`MAX_COST_MS`]. `w` and `waited_secs` as [`Prepared`] cleaned them.
pub(super) fn cost_ms(pickup_secs: u32, waited_secs: f64, w: f64) -> i64 {
    let pickup = i64::from(pickup_secs).saturating_mul(1_000);
    let bonus = (w * waited_secs * 1_000.0).round();
    let bonus = if bonus.is_finite() {
        bonus.clamp(0.0, 2.0 * MAX_COST_MS as f64) as i64
    } else {
        0
    };
    (pickup - bonus).clamp(-MAX_COST_MS, MAX_COST_MS)
}

/// The optimal matching of one component's `rides` (sorted) over their free
/// candidates, as (ride, candidate index) pairs; marks the drivers taken.
///
/// Weights: `BIG − (cost + MAX_COST_MS)` for a candidate pair, 0 for a pair
/// that is not one (an "unmatched" row). Every real weight is positive and
/// `BIG` is above the sum of any matching's shifted costs, so one more pair
/// always outweighs any saving in cost: the maximum weight is the most pairs,
/// then the least cost. The fewer side is the rows (Kuhn–Munkres assigns
/// every row), so no dummy columns are needed.
fn assign(p: &mut Prepared<'_>, rides: &[usize]) -> Vec<(usize, usize)> {
    let drivers = p.free_drivers_of(rides);
    if rides.is_empty() || drivers.is_empty() {
        return Vec::new();
    }
    let transpose = rides.len() > drivers.len();
    let (rows, cols) = if transpose {
        (drivers.len(), rides.len())
    } else {
        (rides.len(), drivers.len())
    };
    let span = 2 * MAX_COST_MS;
    // rows ≤ MAX_SOLVE_RIDES, so rows × BIG stays far below i64::MAX.
    let big = (rows as i64 + 1) * span + 1;
    let mut cells = vec![0i64; rows * cols];
    // Which candidate each (ride position, driver column) pair is.
    let mut pick: Vec<Vec<(usize, usize)>> = vec![Vec::new(); rides.len()];
    for (ri, &r) in rides.iter().enumerate() {
        let ride = &p.rides[r];
        for (c, cand) in ride.candidates.iter().enumerate() {
            if p.taken[cand.driver] {
                continue;
            }
            let Ok(di) = drivers.binary_search(&cand.driver) else {
                continue;
            };
            let weight = big - (cost_ms(cand.eta.seconds, ride.waited, p.w) + MAX_COST_MS);
            let at = if transpose {
                di * cols + ri
            } else {
                ri * cols + di
            };
            if cells[at] < weight {
                cells[at] = weight;
            }
            pick[ri].push((di, c));
        }
    }
    let Ok(matrix) = Matrix::from_vec(rows, cols, cells) else {
        return Vec::new();
    };
    let (_, row_to_col) = kuhn_munkres(&matrix);
    let mut pairs = Vec::new();
    for (row, &col) in row_to_col.iter().enumerate() {
        if matrix[(row, col)] == 0 {
            continue; // not a candidate pair: that row stays unmatched
        }
        let (ri, di) = if transpose { (col, row) } else { (row, col) };
        // The candidate for that driver (the fastest, as candidates are sorted).
        if let Some(&(_, c)) = pick[ri].iter().find(|(d, _)| *d == di) {
            p.taken[drivers[di]] = true;
            pairs.push((rides[ri], c));
        }
    }
    pairs
}
