//! Service areas, on every store: rides start only inside one, match only
//! drivers of their own, under their own rules; drivers move between them
//! with their reports, one area at a time, even across a border raced by
//! concurrent reports; a file the service cannot honour stops the start.

mod answers;
mod borders;
mod rides;
mod setup;
mod start;

use answers::*;
use borders::*;
use rides::*;

use crate::common::for_each_store;

for_each_store!(
    // rides.rs: rides in areas
    a_pickup_outside_every_area_is_refused_and_creates_nothing,
    rides_match_only_drivers_of_their_own_area,
    each_area_applies_its_own_rules,
    drivers_outside_every_area_are_shown_never_matched,
    the_areas_are_listed_with_their_boundaries_and_counts,
    // borders.rs: borders
    a_driver_moves_between_areas_with_its_reports,
    concurrent_reports_across_a_border_list_a_driver_in_one_area,
    a_point_on_the_border_belongs_to_the_area_listed_first,
    a_driver_freed_across_the_border_belongs_to_the_area_it_is_in,
    // answers.rs: offers answered across areas
    an_answer_across_areas_is_refused_and_changes_nothing,
);
