//! The event log's contract, on every store, through the store itself:
//! what each change logs and in which order, ids, leases, acknowledgements,
//! trimming that never passes a sink's position, dead letters and their
//! redelivery. (The sinks and the GraphQL `events` have suites of their own.)

mod delivery;
mod harness;
mod phases;
mod stream;

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
);
