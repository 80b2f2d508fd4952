//! Subscriptions, on every store: a ride's status and its driver's
//! position for the rider, a driver's own feed, and live maps for
//! dispatchers (kept current from events, gathered per interval, catching
//! up under pressure).

mod follow;
mod maps;
mod pressure;

use follow::*;
use maps::*;

use crate::common::for_each_store;

for_each_store!(
    // follow.rs: a ride's status, its driver's position, a driver's feed
    a_late_subscriber_learns_the_current_state,
    subscribing_to_an_unknown_ride_is_an_error,
    the_rider_follows_the_assigned_driver,
    the_driver_feed_starts_with_the_state_and_sends_one_event_per_change,
    // maps.rs: live maps
    a_dashboard_keeps_its_picture_from_events,
    a_dashboard_gets_each_intervals_changes_in_one_event,
    a_silent_driver_is_announced_offline_on_live_maps,
    a_dashboard_joining_a_watched_map_sees_it_as_it_is_then_every_change,
    the_fleet_shows_offers_and_phases,
);
