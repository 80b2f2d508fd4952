//! The event log's contract, on every store, through the store itself:
//! what each change logs and in which order, ids, leases, acknowledgements,
//! trimming that never passes a sink's position, dead letters and their
//! redelivery. (The sinks and the GraphQL `events` have suites of their own.)

mod attacks;
mod borders;
mod delivery;
mod differential;
mod harness;
mod phases;
mod robustness;
mod stream;

use attacks::*;
use borders::*;
use delivery::*;
use phases::*;

use crate::common::for_each_store;

for_each_store!(
    // phases.rs: what each change logs
    a_ride_logs_each_phase_once_in_order,
    offers_log_their_ends_and_an_accept_is_two_events,
    drivers_log_status_changes_never_positions,
    // delivery.rs: leases, positions, trimming, dead letters
    one_holder_per_sink_and_a_lost_lease_acknowledges_nothing,
    trimming_never_passes_what_a_sink_lacks,
    past_the_cap_undelivered_events_become_dead_letters_and_come_back,
    // attacks.rs: what an attacker's eye found (or tried, and held)
    atk_trim_past_the_cap_counts_delivered_events_as_trimmed,
    atk_an_older_acknowledgement_never_moves_the_position_back,
    atk_odd_ids_round_trip,
    atk_many_writers_at_once_keep_ids_unique_and_in_order,
    atk_a_huge_backlog_trims_in_bounded_steps,
    atk_giving_up_on_events_already_dead_lettered_buries_them_once,
    atk_a_page_of_nothing_is_empty,
    atk_a_lease_that_ran_out_acknowledges_nothing,
    // borders.rs: each area's log is its market
    a_driver_crossing_a_border_leaves_one_areas_market_for_the_other,
);
