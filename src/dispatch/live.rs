//! Live streams beyond one ride's status: the assigned driver's position
//! for a rider, and everything moving in an area for a dashboard.
//!
//! Both read the event hub's broadcast channels, which are bounded: a
//! subscriber that falls behind never slows a publisher. It is told instead
//! (`RecvError::Lagged`) and skips to the newest state: the driver stream
//! re-reads the driver, the area stream jumps to the newest event and sends
//! a fresh snapshot marked as a resync. When the hub says events may have
//! been missed elsewhere (the event subscription reconnected, the store lost
//! its data), they do the same.

use std::{collections::HashSet, sync::Arc};

use futures_util::{Stream, StreamExt};
use tokio::sync::broadcast::error::RecvError;

use crate::{
    domain::{Coordinates, Driver, DriverId, RadiusKm, Ride, RideId, RideStatus},
    error::{Error, Result},
    store::{AreaSnapshot, Store},
};

/// What a live map receives.
#[derive(Debug, Clone)]
pub enum FleetEvent {
    /// Everything in the area now: the first event, and again (with
    /// `resync`) after the subscriber fell behind and events were skipped.
    Snapshot { area: AreaSnapshot, resync: bool },
    /// A driver in the area (or one that just left it) moved or changed status.
    Driver(Arc<Driver>),
    /// A ride with its pickup in the area changed status.
    Ride(Arc<Ride>),
}

/// The assigned driver of a ride, each time it changes, from DRIVER_FOUND
/// until the ride ends. Waits while the ride searches; an ended ride is a
/// `Conflict`.
pub(super) async fn driver_of_ride(
    store: Arc<dyn Store>,
    id: &RideId,
) -> Result<impl Stream<Item = Result<Arc<Driver>>> + Send + 'static> {
    // The ride's own stream: its state now, then each change, no gap.
    let mut rides = Box::pin(super::watch::ride_changes(store.clone(), id).await?);
    let mut ride = rides
        .next()
        .await
        .ok_or_else(|| Error::not_found(format!("no ride with id {id}")))??;
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
        let (RideStatus::DriverFound, Some(driver_id)) = (ride.status, ride.driver_id.clone()) else {
            return;
        };
        // Subscribe before reading, so no move falls between the two.
        let mut driver_events = store.events().subscribe_drivers();
        if let Ok(Some(driver)) = store.driver(&driver_id, store.now()).await {
            yield Ok(Arc::new(driver));
        }
        loop {
            tokio::select! {
                next = rides.next() => match next {
                    // The ride's stream ends after a terminal status.
                    Some(Ok(next)) if !next.status.is_terminal() => {}
                    Some(Err(error)) => {
                        yield Err(error);
                        return;
                    }
                    _ => return,
                },
                moved = driver_events.recv() => match moved {
                    // A driver no longer assigned to this ride was freed by
                    // its end: the ride's own event may still be on its way.
                    Ok(driver) if driver.id == driver_id && driver.ride_id.as_ref() != Some(&id) => return,
                    Ok(driver) if driver.id == driver_id => yield Ok(driver),
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => {
                        driver_events = driver_events.resubscribe();
                        if let Ok(Some(driver)) = store.driver(&driver_id, store.now()).await {
                            yield Ok(Arc::new(driver));
                        }
                    }
                    Err(RecvError::Closed) => return,
                },
            }
        }
    })
}

/// A snapshot of an area, then every driver and ride change in it.
pub(super) async fn area(
    store: Arc<dyn Store>,
    center: Coordinates,
    radius: RadiusKm,
) -> Result<impl Stream<Item = FleetEvent> + Send + 'static> {
    let mut rides = store.events().subscribe_all();
    let mut drivers = store.events().subscribe_drivers();
    let mut resyncs = store.events().subscribe_resyncs();
    let first = store.area_snapshot(center, radius, store.now()).await?;
    let inside = move |at: &Coordinates| center.distance_km(at) <= radius.km();
    Ok(async_stream::stream! {
        let mut known = known_drivers(&first);
        yield FleetEvent::Snapshot { area: first, resync: false };
        loop {
            let lagged = tokio::select! {
                ride = rides.recv() => match ride {
                    Ok(ride) => {
                        if inside(&ride.pickup) {
                            yield FleetEvent::Ride(ride);
                        }
                        false
                    }
                    Err(RecvError::Lagged(_)) => true,
                    Err(RecvError::Closed) => return,
                },
                driver = drivers.recv() => match driver {
                    Ok(driver) => {
                        let here = driver.location.as_ref().is_some_and(inside);
                        // A driver that left the area is sent once more, so
                        // the map can drop it.
                        let was_here = if here { !known.insert(driver.id.clone()) } else { known.remove(&driver.id) };
                        if here || was_here {
                            yield FleetEvent::Driver(driver);
                        }
                        false
                    }
                    Err(RecvError::Lagged(_)) => true,
                    Err(RecvError::Closed) => return,
                },
                changed = resyncs.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    true
                }
            };
            if lagged {
                // Skip what was missed: jump to the newest events, then
                // send the area as it is now.
                rides = rides.resubscribe();
                drivers = drivers.resubscribe();
                match store.area_snapshot(center, radius, store.now()).await {
                    Ok(area) => {
                        known = known_drivers(&area);
                        yield FleetEvent::Snapshot { area, resync: true };
                    }
                    Err(_) => return,
                }
            }
        }
    })
}

fn known_drivers(area: &AreaSnapshot) -> HashSet<DriverId> {
    area.drivers.iter().map(|d| d.id.clone()).collect()
}
