//! Replay and resume: an area's event log read back over GraphQL
//! (`events`), exactly what followed an id, by type and page by page, and
//! `recovered: false` when what followed is no longer all there; followed
//! live (the `events` subscription); dispatchers only; bad input refused
//! with its code; dead letters sent back (`redeliverEvents`, `tracking
//! events redeliver`).

mod access;
mod attacks;
mod follow;
mod paging;
mod setup;

use access::each_area_has_its_own_log;
use follow::*;
use paging::*;

use crate::common::for_each_store;

for_each_store!(
    // paging.rs: a page of the log
    events_after_an_id_are_exactly_those_that_followed_it,
    types_and_pages_read_the_log_once,
    an_id_older_than_what_is_kept_is_not_recovered,
    // follow.rs: the subscription
    the_subscription_replays_then_follows_live,
    without_after_the_subscription_starts_now,
    a_subscriber_behind_catches_up_page_by_page,
    // access.rs: the log of each service area
    each_area_has_its_own_log,
);
