//! A ride from request to end, on every store: the search and its match,
//! expiry on time, cancel and complete and what they refuse, the trip's
//! phases, and a rider's rides (the cap, idempotency keys).

mod ending;
mod riders;
mod search;
mod trip;

use ending::*;
use riders::*;
use search::*;
use trip::*;

use crate::common::for_each_store;

for_each_store!(
    // search.rs: the search, its match, expiry
    no_driver_means_the_request_expires_on_time,
    a_driver_arriving_during_the_search_is_assigned,
    a_driver_already_near_is_found_by_the_first_search,
    a_matched_ride_says_when_it_was_matched,
    concurrent_requests_and_cancels_never_share_a_driver,
    // ending.rs: cancel and complete
    a_searching_ride_is_cancelled_at_once,
    cancelling_a_found_ride_frees_its_driver,
    cancel_and_complete_follow_the_ride_rules,
    // trip.rs: the trip's phases
    a_ride_moves_through_its_phases_and_refuses_the_rest,
    rides_and_drivers_follow_the_phases,
    // riders.rs: a rider's rides: the cap, idempotency keys
    a_retry_with_the_same_idempotency_key_gets_the_same_ride,
    a_rider_at_the_limit_is_refused_with_its_active_ride,
    a_rider_at_the_cap_is_refused_in_every_area_and_instance,
    one_idempotency_key_makes_one_ride_across_areas_and_instances,
    the_default_cap_is_three_rides_and_zero_turns_it_off,
    concurrent_requests_in_both_areas_make_no_more_than_the_cap,
);
