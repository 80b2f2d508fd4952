//! Phone apps as drivers: OwnTracks over HTTP (`POST /owntracks`, HTTP
//! Basic against `--device-credentials` or a bearer token) and Traccar
//! Client (`/osmand`), each report one `updateLocations` entry at the
//! device's own time; the credentials file re-read on SIGHUP; failed
//! attempts limited.

mod attacks;
mod osmand;
mod owntracks;
mod reload;
mod setup;

use osmand::*;
use owntracks::*;

use crate::common::for_each_store;

for_each_store!(
    // owntracks.rs
    owntracks_basic_records_the_documented_location,
    owntracks_bearer_reports_for_its_driver_and_not_another,
    owntracks_other_types_answer_an_empty_array_and_store_nothing,
    owntracks_bad_credentials_are_refused_and_store_nothing,
    owntracks_malformed_body_is_400,
    owntracks_late_message_is_stale_and_never_moves_the_driver_back,
    device_reports_are_held_to_the_update_rate,
    a_jump_the_speed_rule_refuses_is_acknowledged_and_not_applied,
    // osmand.rs
    osmand_get_post_form_and_traccar_json_each_record,
    osmand_unknown_id_is_401_and_bad_fields_400,
    device_routes_take_their_apps_types_and_refuse_foreign_origins,
);
