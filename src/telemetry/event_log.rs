//! What the stores count of their event logs.

use crate::domain::AreaId;

use super::metrics::EVENT_DEAD_LETTERS_DROPPED as DEAD_LETTERS_DROPPED;

/// Counts dead letters dropped past their cap when a sink gave events up
/// (trimming counts its own), by `area` (an id from the areas file).
pub fn dead_letters_dropped(area: &AreaId, n: u64) {
    if n > 0 {
        metrics::counter!(DEAD_LETTERS_DROPPED, "area" => area.as_str().to_owned()).increment(n);
    }
}
