//! Batched matching's solver: one window's searching rides and their
//! candidate drivers in, the pairs to claim out (pure, synchronous; the
//! store, leases and windows are wired elsewhere).
//!
//! [`solve`] matches rides through `max_batches` windows greedily first (the
//! longest-waiting first), then splits the rest's candidate graph into
//! connected components ([`graph`]) and solves each alone with Kuhn–Munkres
//! (`pathfinding`): the most rides matched, then the least
//! Σ (pickup seconds − w × seconds waited). A component over
//! `max_batch_size` rides has its longest-waiting rides solved and the rest
//! matched greedily, counted as overflow.

mod graph;
#[cfg(test)]
mod measure_tests;
mod solve;
#[cfg(test)]
mod solve_tests;
mod types;

pub use solve::solve;
pub use types::{Assignment, BatchRide, BatchSettings, Solved, MAX_MATRIX_CELLS, MAX_SOLVE_RIDES};
