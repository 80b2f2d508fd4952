//! Nothing a client sends, and nothing the service keeps, grows without a
//! bound: bad input refused and changing nothing, request sizes and work,
//! the update rate, WebSocket messages and subscriptions, connections and
//! their deadlines, retention, and random input thrown at it all.

mod connections;
mod fuzz;
mod input;
mod setup;
mod websocket;
mod work;

use input::*;
use work::*;

use crate::common::for_each_store;

for_each_store!(
    // input.rs: bad input
    bad_input_changes_nothing,
    // work.rs: retention
    ended_rides_and_silent_drivers_are_removed_after_their_retention,
);
