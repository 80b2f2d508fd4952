//! What each field costs against `--max-complexity`, so that the limit
//! bounds the work one request makes the service do, not only the fields it
//! names. With the defaults (2,000 per request), one request can create at
//! most 50 rides and list at most a few hundred drivers.

/// `requestDriver` creates a ride and starts a search task.
pub const REQUEST_DRIVER: usize = 40;
/// `cancelRequest`, `completeRide`, `goOffline`: one store transition.
pub const RIDE_CHANGE: usize = 5;

/// A list field: its children, once per item it may return.
pub fn list(limit: Option<i32>, default: i32, child_complexity: usize) -> usize {
    let items = usize::try_from(limit.unwrap_or(default).clamp(1, 100)).unwrap_or(1);
    1 + items.saturating_mul(child_complexity)
}

/// `updateLocations`: a quarter per report (a report costs the store little
/// next to the request around it).
pub fn batch(reports: usize, child_complexity: usize) -> usize {
    1 + reports / 4 + child_complexity
}
