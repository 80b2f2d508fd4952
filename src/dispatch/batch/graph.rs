//! The batch solver's view of a window: rides and drivers numbered in id
//! order (junk cleaned: repeated ids, NaN waits), who is taken, the greedy
//! step, and the candidate graph's connected components (union-find).

use std::cmp::Ordering;

use super::types::{BatchRide, MAX_MATRIX_CELLS};
use crate::domain::{DriverId, Eta, RideId};

/// Longest wait counted, in seconds (about 11.6 days).
const MAX_WAIT_SECS: f64 = 1.0e6;

/// Largest wait weight counted.
const MAX_WAIT_WEIGHT: f64 = 1.0e6;

/// A candidate, its driver by number.
pub(super) struct Cand {
    pub driver: usize,
    pub eta: Eta,
}

/// A ride, cleaned.
pub(super) struct Ride<'a> {
    pub id: &'a RideId,
    /// Seconds, finite, in [0, MAX_WAIT_SECS].
    pub waited: f64,
    pub batches: u32,
    /// One per driver (its fastest), fastest first, then by driver id.
    pub candidates: Vec<Cand>,
}

/// The window, numbered: rides by id (a repeated id: its first entry only),
/// drivers by id, so the numbering and all that follows from it do not
/// depend on the input's order.
pub(super) struct Prepared<'a> {
    pub rides: Vec<Ride<'a>>,
    pub drivers: Vec<&'a DriverId>,
    pub taken: Vec<bool>,
    /// The wait weight, finite, in [0, MAX_WAIT_WEIGHT].
    pub w: f64,
}

impl<'a> Prepared<'a> {
    pub fn new(input: &'a [BatchRide], wait_weight: f64) -> Self {
        let mut drivers: Vec<&DriverId> = input
            .iter()
            .flat_map(|r| r.candidates.iter().map(|(d, _)| d))
            .collect();
        drivers.sort_unstable();
        drivers.dedup();
        let mut order: Vec<usize> = (0..input.len()).collect();
        order.sort_by(|&a, &b| input[a].ride.cmp(&input[b].ride).then(a.cmp(&b)));
        order.dedup_by(|b, a| input[*a].ride == input[*b].ride);
        let rides = order
            .into_iter()
            .map(|i| {
                let r = &input[i];
                let mut candidates: Vec<Cand> = r
                    .candidates
                    .iter()
                    .filter_map(|(d, eta)| {
                        let driver = drivers.binary_search(&d).ok()?;
                        Some(Cand { driver, eta: *eta })
                    })
                    .collect();
                candidates.sort_by_key(|c| (c.driver, c.eta.seconds));
                candidates.dedup_by_key(|c| c.driver);
                candidates.sort_by_key(|c| (c.eta.seconds, c.driver));
                Ride {
                    id: &r.ride,
                    waited: clean(r.waited_secs, MAX_WAIT_SECS),
                    batches: r.batches,
                    candidates,
                }
            })
            .collect();
        let taken = vec![false; drivers.len()];
        Self {
            rides,
            drivers,
            taken,
            w: clean(wait_weight, MAX_WAIT_WEIGHT),
        }
    }

    /// The longest-waiting first, then by ride id.
    pub fn wait_order(&self, a: usize, b: usize) -> Ordering {
        let (wa, wb) = (self.rides[a].waited, self.rides[b].waited);
        wb.total_cmp(&wa).then(a.cmp(&b))
    }

    /// Sorts rides the longest-waiting first, then by ride id.
    pub fn by_wait(&self, rides: &mut [usize]) {
        rides.sort_by(|&a, &b| self.wait_order(a, b));
    }

    /// The greedy step: ride `r` takes its fastest free candidate (ties: by
    /// driver id); the candidate's index, or `None`.
    pub fn greedy(&mut self, r: usize) -> Option<usize> {
        let c = self.rides[r]
            .candidates
            .iter()
            .position(|c| !self.taken[c.driver])?;
        self.taken[self.rides[r].candidates[c].driver] = true;
        Some(c)
    }

    /// The free drivers among `rides`' candidates, by number.
    pub fn free_drivers_of(&self, rides: &[usize]) -> Vec<usize> {
        let mut ds: Vec<usize> = rides
            .iter()
            .flat_map(|&r| self.rides[r].candidates.iter().map(|c| c.driver))
            .filter(|&d| !self.taken[d])
            .collect();
        ds.sort_unstable();
        ds.dedup();
        ds
    }

    /// How many of `rides` (in order) one solve takes: at most `cap`, and
    /// rides × their free drivers at most [`MAX_MATRIX_CELLS`].
    pub fn fitting(&self, rides: &[usize], cap: usize) -> usize {
        let mut seen = vec![false; self.drivers.len()];
        let mut distinct = 0usize;
        for (k, &r) in rides.iter().enumerate() {
            if k >= cap {
                return k;
            }
            for c in &self.rides[r].candidates {
                if !self.taken[c.driver] && !seen[c.driver] {
                    seen[c.driver] = true;
                    distinct += 1;
                }
            }
            if (k + 1).saturating_mul(distinct) > MAX_MATRIX_CELLS {
                return k;
            }
        }
        rides.len()
    }
}

/// Cleans a float from outside: NaN is 0, the rest clamped into [0, max].
fn clean(x: f64, max: f64) -> f64 {
    if x.is_nan() {
        0.0
    } else {
        x.clamp(0.0, max)
    }
}

/// The connected components of `rides` joined by shared free candidates;
/// rides without a free candidate are in none. Each component's rides in
/// ascending order, components by their first ride.
pub(super) fn components(p: &Prepared<'_>, rides: &[usize]) -> Vec<Vec<usize>> {
    let mut parent: Vec<usize> = (0..rides.len()).collect();
    let mut owner = vec![usize::MAX; p.drivers.len()];
    let mut joined = vec![false; rides.len()];
    for (i, &r) in rides.iter().enumerate() {
        for c in &p.rides[r].candidates {
            if p.taken[c.driver] {
                continue;
            }
            joined[i] = true;
            match owner[c.driver] {
                usize::MAX => owner[c.driver] = i,
                j => union(&mut parent, i, j),
            }
        }
    }
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut group_of = vec![usize::MAX; rides.len()];
    let mut order: Vec<usize> = (0..rides.len()).filter(|&i| joined[i]).collect();
    order.sort_by_key(|&i| rides[i]);
    for i in order {
        let root = find(&mut parent, i);
        if group_of[root] == usize::MAX {
            group_of[root] = groups.len();
            groups.push(Vec::new());
        }
        groups[group_of[root]].push(rides[i]);
    }
    groups
}

fn find(parent: &mut [usize], mut x: usize) -> usize {
    while parent[x] != x {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    x
}

fn union(parent: &mut [usize], a: usize, b: usize) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    if ra != rb {
        // The smaller root wins: the same input always gives the same tree.
        let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
        parent[hi] = lo;
    }
}
