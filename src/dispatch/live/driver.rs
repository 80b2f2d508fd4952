//! The assigned driver of a ride, for its rider: its position at every
//! move, from DRIVER_FOUND (through ARRIVED and IN_PROGRESS) until the ride
//! ends.

use std::sync::Arc;

use futures_util::{Stream, StreamExt};
use tokio::sync::broadcast::error::RecvError;

use crate::{
    auth::Caller,
    domain::error::{Error, Result},
    domain::{Driver, Ride, RideId, RideStatus},
    store::Store,
};

/// The assigned driver of a ride, each time it changes, from DRIVER_FOUND
/// until the ride ends, with the ride as it last was. Waits while the ride
/// searches; an ended ride is a `Conflict`. Ends with `FORBIDDEN` as soon
/// as `caller` may no longer see the ride (the ride's own stream checks at
/// every change).
pub(in crate::dispatch) async fn driver_of_ride(
    store: Arc<dyn Store>,
    id: &RideId,
    caller: Caller,
) -> Result<impl Stream<Item = Result<(Arc<Driver>, Arc<Ride>)>> + Send + 'static> {
    // The ride's own stream: its state now, then each change, no gap.
    let mut rides =
        Box::pin(super::ride_changes(store.clone(), id, caller, "driverLocation").await?);
    let mut ride = rides
        .next()
        .await
        .ok_or_else(|| Error::ride_not_found(id))??;
    if ride.status.is_terminal() {
        return Err(Error::conflict(format!(
            "ride {id} is {}: there is no driver to follow",
            ride.status.as_str()
        )));
    }
    let id = id.clone();
    Ok(async_stream::stream! {
        while ride.status == RideStatus::Searching {
            match rides.next().await {
                Some(Ok(next)) => ride = next,
                Some(Err(error)) => {
                    yield Err(error);
                    return;
                }
                None => return,
            }
        }
        let Some(driver_id) = ride.driver_id.clone().filter(|_| ride.status.has_driver()) else {
            return;
        };
        // Subscribe before reading, so no move falls between the two.
        let mut driver_events = store.events().subscribe_drivers();
        // What was last sent: an event saying the same again (one published
        // before the read above, delivered after it) is not sent twice.
        let mut last: Option<(Option<chrono::DateTime<chrono::Utc>>, Option<crate::domain::Coordinates>)> = None;
        if let Ok(Some(driver)) = store.driver(&driver_id, store.now()).await {
            last = Some((driver.updated_at, driver.location));
            yield Ok((Arc::new(driver), ride.clone()));
        }
        loop {
            tokio::select! {
                next = rides.next() => match next {
                    // The ride's stream ends after a terminal status.
                    Some(Ok(next)) if !next.status.is_terminal() => ride = next,
                    Some(Err(error)) => {
                        yield Err(error);
                        return;
                    }
                    _ => return,
                },
                moved = driver_events.recv() => match moved {
                    // Only the driver as this ride's: one not (or no longer)
                    // assigned to it is from before the match, or freed by
                    // the ride's end, whose own event ends the stream.
                    Ok(driver) if driver.id == driver_id && driver.ride_id.as_ref() == Some(&id) => {
                        let now = (driver.updated_at, driver.location);
                        if last != Some(now) {
                            last = Some(now);
                            yield Ok((driver, ride.clone()));
                        }
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => {
                        driver_events = driver_events.resubscribe();
                        if let Ok(Some(driver)) = store.driver(&driver_id, store.now()).await {
                            yield Ok((Arc::new(driver), ride.clone()));
                        }
                    }
                    Err(RecvError::Closed) => return,
                },
            }
        }
    })
}
