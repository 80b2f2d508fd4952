//! A ride's live view of its driver (`driverLocation`) with the driver's
//! time to the pickup: computed per move while the ride is DRIVER_FOUND, at
//! most once a second (between two, a move carries the last).

use std::sync::Arc;

use super::search::Searches;
use crate::{
    domain::error::Result,
    domain::{Driver, Eta, Ride, RideStatus},
};

/// How often a ride's live view recomputes its driver's time to the
/// pickup (between two, events carry the last).
const LIVE_ETA_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Each driver move of a ride's live view with the driver's time to the
/// pickup while the ride is DRIVER_FOUND (`None` otherwise), computed at
/// most once per [`LIVE_ETA_EVERY`].
pub(super) fn with_pickup_eta<S>(
    moves: S,
    searches: Arc<Searches>,
) -> impl futures_util::Stream<Item = Result<(Arc<Driver>, Option<Eta>)>> + Send + 'static
where
    S: futures_util::Stream<Item = Result<(Arc<Driver>, Arc<Ride>)>> + Send + 'static,
{
    async_stream::stream! {
        let mut moves = std::pin::pin!(moves);
        let mut last: Option<(tokio::time::Instant, Eta)> = None;
        while let Some(next) = futures_util::StreamExt::next(&mut moves).await {
            let (driver, ride) = match next {
                Ok(pair) => pair,
                Err(error) => {
                    yield Err(error);
                    return;
                }
            };
            let eta = match (ride.status, driver.location) {
                (RideStatus::DriverFound, Some(at)) => match last {
                    Some((when, eta)) if when.elapsed() < LIVE_ETA_EVERY => Some(eta),
                    _ => {
                        let line = searches.settings().for_ride(&ride.id).straight_line;
                        let eta = searches
                            .ranking()
                            .etas(vec![at], ride.pickup, line)
                            .await
                            .ok()
                            .and_then(|e| e.into_iter().next());
                        last = eta.map(|e| (tokio::time::Instant::now(), e));
                        eta
                    }
                },
                _ => None,
            };
            yield Ok((driver, eta));
        }
    }
}
