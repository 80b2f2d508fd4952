//! What the stores count of their event logs.

use crate::domain::AreaId;

/// Dead letters dropped past their cap, by `area` (an id from the areas
/// file): events given up on that nobody can redeliver any more.
pub const DEAD_LETTERS_DROPPED: &str = "tracking_event_dead_letters_dropped_total";

/// Counts dead letters dropped past their cap.
pub fn dead_letters_dropped(area: &AreaId, n: u64) {
    if n > 0 {
        metrics::counter!(DEAD_LETTERS_DROPPED, "area" => area.as_str().to_owned()).increment(n);
    }
}
