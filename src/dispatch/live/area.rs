//! Everything in an area, for a live map: a snapshot, then each driver and
//! ride change in it, and a fresh snapshot whenever events were missed.

use std::{collections::HashSet, sync::Arc};

use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::FleetEvent;
use crate::{
    domain::{AreaSnapshot, Coordinates, DriverId, RadiusKm},
    error::Result,
    store::Store,
};

/// A snapshot of an area, then every driver and ride change in it.
pub(in crate::dispatch) async fn area(
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
