//! Roads: dispatch by road time on every store (`ranking.rs`), what riders
//! see of it, roads per area, two instances, Helsinki (`views.rs`), over
//! synthetic cities whose answers are known by construction (`city.rs`);
//! what road times cost a request (`cost.rs`); ranked offers on two
//! instances (`offers.rs`).

pub(crate) mod city;
mod cost;
mod offers;
mod ranking;
mod views;

use offers::*;
use ranking::*;
use views::*;

use crate::common::for_each_store;

for_each_store!(
    // ranking.rs
    across_the_river_the_driver_on_the_same_bank_wins,
    a_driver_on_a_one_way_street_is_ranked_by_the_way_round,
    max_pickup_eta_leaves_a_slow_driver_and_keeps_searching,
    an_off_network_or_island_pickup_is_estimated_in_a_straight_line,
    an_offer_carries_its_time_and_the_accepted_ride_keeps_it,
    a_declined_driver_is_left_out_of_the_next_ranking,
    // views.rs
    the_rider_sees_the_drivers_time_to_the_pickup_as_it_drives,
    an_area_ranks_by_its_own_roads_and_limit,
);

mod instances {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redis() {
        super::two_instances_with_roads_never_give_a_driver_two_rides(
            crate::common::StoreKind::Redis,
        )
        .await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn offers_cluster() {
        super::ranked_offers_on_two_instances_never_double_book_nor_reoffer(
            crate::common::StoreKind::Cluster,
        )
        .await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn offers_redis() {
        super::ranked_offers_on_two_instances_never_double_book_nor_reoffer(
            crate::common::StoreKind::Redis,
        )
        .await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cluster() {
        super::two_instances_with_roads_never_give_a_driver_two_rides(
            crate::common::StoreKind::Cluster,
        )
        .await
    }
}
