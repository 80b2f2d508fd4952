//! Batched matching (`--match-window`): the window's optimum, fairness and
//! declines on every store (`window.rs`); across instances, the batching
//! one SIGKILLed (`instances.rs`); attacks where batches meet offers,
//! instances and subscribers (`attacks.rs`), roads in a window and rides
//! that waited for any driver (`edges.rs`).

mod attacks;
mod edges;
mod instances;
mod window;

use attacks::*;
use edges::*;
use window::*;

use crate::common::for_each_store;

for_each_store!(
    a_window_finds_the_optimum_where_greedy_is_wrong,
    a_rider_among_newer_nearer_requests_is_not_starved,
    a_decline_in_a_batch_goes_to_the_next_window_and_another_driver,
    a_window_times_its_candidates_by_road,
    an_unanswered_batch_offer_times_out_on_time,
    a_driver_who_let_a_batch_offer_time_out_is_not_offered_it_again,
    each_area_matches_by_its_own_window,
    rides_that_waited_for_any_driver_still_get_the_windows_optimum,
    a_window_times_candidates_by_road,
    a_window_does_not_give_the_ride_to_a_driver_no_road_joins,
    a_window_keeps_max_pickup_eta_against_an_unreachable_driver,
);

mod shared {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_subscriber_sees_a_match_by_the_other_instance_redis() {
        a_subscriber_sees_a_match_by_the_other_instance(crate::common::StoreKind::Redis).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_new_ride_beside_a_free_driver_past_the_ride_cap_is_matched_memory() {
        a_new_ride_beside_a_free_driver_past_the_ride_cap_is_matched(
            crate::common::StoreKind::Memory,
        )
        .await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_new_ride_beside_a_free_driver_past_the_ride_cap_is_matched_redis() {
        a_new_ride_beside_a_free_driver_past_the_ride_cap_is_matched(
            crate::common::StoreKind::Redis,
        )
        .await
    }
}
