//! Events out, on every store: every ride's events reach the webhooks in
//! order and signed (with each active secret); a receiver down for 90 s
//! gets everything once back; a hung receiver holds up neither another
//! webhook nor unbounded connections; events refused past the max age go to
//! the dead letters, counted; an area's own webhooks get that area's
//! events only; a webhook the service cannot use stops the
//! start with one line.

mod delivery;
mod receiver;
mod start;

use delivery::*;

use crate::common::for_each_store;

for_each_store!(
    every_event_arrives_in_order_signed_with_each_secret,
    a_receiver_down_for_90_seconds_gets_every_event_once_back,
    a_hung_receiver_holds_up_neither_another_webhook_nor_connections,
    events_refused_past_the_max_age_go_to_the_dead_letters_counted,
    an_areas_webhooks_get_only_that_areas_events,
    only_the_webhook_types_are_sent,
);
