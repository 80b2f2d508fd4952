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

/// Drivers `nearbyDrivers(orderBy: ETA)` times, whatever its `limit`: the
/// nearest this many (as a search ranks them).
pub const TIMED_NEARBY: usize = 16;
/// Timing one driver by road: a query on the road network.
pub const ETA: usize = 2;

/// `nearbyDrivers`: a list, and by time every driver it times (at least
/// [`TIMED_NEARBY`], each [`ETA`]), so aliases cannot time many drivers
/// for the price of a few.
pub fn nearby(limit: Option<i32>, default: i32, by_eta: bool, child_complexity: usize) -> usize {
    let listed = list(limit, default, child_complexity);
    if !by_eta {
        return listed;
    }
    let items = usize::try_from(limit.unwrap_or(default).clamp(1, 100)).unwrap_or(1);
    listed.saturating_add(items.max(TIMED_NEARBY).saturating_mul(ETA))
}

/// `events`: its page's fields, once per ten events it may return (an
/// event's fields are read from the page the store returned, not fetched
/// one by one), so a full page of a few fields fits the default budget
/// while a page that asks every ride's route does not.
pub fn events(first: Option<i32>, default: usize, child_complexity: usize) -> usize {
    let items = first
        .and_then(|f| usize::try_from(f).ok())
        .unwrap_or(default)
        .clamp(1, crate::store::MAX_EVENT_PAGE);
    1 + items.div_ceil(10).saturating_mul(child_complexity)
}
