//! Offers, on every store and across instances: a ride offered to one
//! driver at a time, accepted, declined, timed out, withdrawn; a driver
//! who ignores them goes offline; every end is counted; and offers made
//! on one instance are answered through another, outlive their instance,
//! and never double-book a driver in a crowd.

mod answers;
mod ends;
mod instances;
mod refusals;

use answers::*;
use ends::*;
use refusals::*;

use crate::common::for_each_store;

for_each_store!(
    // answers.rs: accepted, declined, not answered, answered out of turn
    an_offer_accepted_assigns_the_driver,
    a_declined_ride_goes_to_the_next_nearest_never_back,
    an_offer_not_answered_in_time_goes_to_the_next_driver,
    an_answer_to_an_offer_not_held_changes_nothing,
    // refusals.rs: every refused answer, its code, nothing changed
    every_refused_answer_keeps_its_code_and_changes_nothing,
    // ends.rs: withdrawn, declined by going offline, ignored
    a_cancel_or_expiry_withdraws_the_offer,
    going_offline_declines_the_offer_held,
    a_driver_who_ignores_offers_goes_offline,
);
