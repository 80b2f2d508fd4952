//! The batch solver's vocabulary: a window's rides with their candidates,
//! the settings it is solved under, the pairs and counts it gives back, and
//! the hard bounds on one solve.

use crate::domain::{DriverId, Eta, RideId};

/// Most cells (rides × drivers) of one solve's matrix, whatever
/// `max_batch_size` says: 25 M `i64`, 200 MB. Rides beyond it are matched
/// greedily and counted as overflow, like those beyond the cap.
pub const MAX_MATRIX_CELLS: usize = 25_000_000;

/// Most rides in one solve, whatever `max_batch_size` says (it also keeps
/// the solver's integer weights far from `i64::MAX`).
pub const MAX_SOLVE_RIDES: usize = 5_000;

/// One searching ride of the window.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchRide {
    pub ride: RideId,
    /// Seconds since it was requested (NaN counts as 0, at most ~11.6 days).
    pub waited_secs: f64,
    /// Windows it has been through unmatched.
    pub batches: u32,
    /// Already filtered (radius, maxPickupEta, declined), nearest first.
    pub candidates: Vec<(DriverId, Eta)>,
}

/// What the solver is told by the area's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchSettings {
    /// `w`: pickup seconds traded for one second waited (NaN or < 0 is 0).
    pub wait_weight: f64,
    /// Most rides of one component solved together; the rest greedily.
    pub max_batch_size: usize,
    /// A ride through this many windows unmatched is matched greedily first.
    pub max_batches: u32,
}

impl Default for BatchSettings {
    fn default() -> Self {
        Self {
            wait_weight: 0.01,
            max_batch_size: 1_000,
            max_batches: 3,
        }
    }
}

/// One pair to claim.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    pub ride: RideId,
    pub driver: DriverId,
    pub eta: Eta,
}

/// A window's answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Solved {
    /// In the order the store should claim them: starved rides first (the
    /// longest-waiting first), then the others, the longest-waiting first.
    pub pairs: Vec<Assignment>,
    /// Rides matched greedily because their component was over the cap.
    pub overflow: usize,
    /// Distinct rides left without a driver.
    pub unmatched: usize,
    /// Connected components solved (rides that still had a free candidate
    /// after the starved ones were served).
    pub components: usize,
    /// Rides in the largest component.
    pub largest: usize,
}
