//! Batched matching (`--match-window`): the window's optimum, fairness and
//! declines on every store (`window.rs`); across instances, the batching
//! one SIGKILLed (`instances.rs`).

mod instances;
mod window;

use window::*;

use crate::common::for_each_store;

for_each_store!(
    a_window_finds_the_optimum_where_greedy_is_wrong,
    a_rider_among_newer_nearer_requests_is_not_starved,
    a_decline_in_a_batch_goes_to_the_next_window_and_another_driver,
    a_window_times_its_candidates_by_road,
);
