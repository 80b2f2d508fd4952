//! Everything in an area, for a live map: a snapshot, then each driver and
//! ride change in it (one event each, or gathered over an interval into one
//! event per interval), and a fresh snapshot whenever events were missed.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::FleetEvent;
use crate::{
    domain::{AreaSnapshot, Coordinates, DriverId, RadiusKm, RideId},
    error::Result,
    store::Store,
};

/// A snapshot of an area, then every driver and ride change in it: one
/// event per change when `interval` is zero, else at most one event per
/// `interval` holding every driver and ride that changed since the last,
/// each as it is now.
pub(in crate::dispatch) async fn area(
    store: Arc<dyn Store>,
    center: Coordinates,
    radius: RadiusKm,
    interval: Duration,
) -> Result<std::pin::Pin<Box<dyn Stream<Item = FleetEvent> + Send + 'static>>> {
    if interval.is_zero() {
        Ok(Box::pin(each_change(store, center, radius).await?))
    } else {
        Ok(Box::pin(gathered(store, center, radius, interval).await?))
    }
}

/// One event per change.
async fn each_change(
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

/// The changes of each `interval`, in one event. What is pending is at
/// most one entry per driver and ride in the area (a newer state replaces
/// an older one), so it is bounded by the area's size, as a snapshot is.
async fn gathered(
    store: Arc<dyn Store>,
    center: Coordinates,
    radius: RadiusKm,
    interval: Duration,
) -> Result<impl Stream<Item = FleetEvent> + Send + 'static> {
    let mut rides = store.events().subscribe_all();
    let mut drivers = store.events().subscribe_drivers();
    let mut resyncs = store.events().subscribe_resyncs();
    let first = store.area_snapshot(center, radius, store.now()).await?;
    let inside = move |at: &Coordinates| center.distance_km(at) <= radius.km();
    Ok(async_stream::stream! {
        let mut known = known_drivers(&first);
        yield FleetEvent::Snapshot { area: first, resync: false };
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut pending_drivers: HashMap<DriverId, Arc<crate::domain::Driver>> = HashMap::new();
        let mut pending_rides: HashMap<RideId, Arc<crate::domain::Ride>> = HashMap::new();
        loop {
            let pending = !pending_drivers.is_empty() || !pending_rides.is_empty();
            let lagged = tokio::select! {
                _ = tick.tick(), if pending => {
                    yield FleetEvent::Changes {
                        drivers: pending_drivers.drain().map(|(_, d)| d).collect(),
                        rides: pending_rides.drain().map(|(_, r)| r).collect(),
                    };
                    false
                }
                ride = rides.recv() => match ride {
                    Ok(ride) => {
                        if inside(&ride.pickup) {
                            pending_rides.insert(ride.id.clone(), ride);
                        }
                        false
                    }
                    Err(RecvError::Lagged(_)) => true,
                    Err(RecvError::Closed) => return,
                },
                driver = drivers.recv() => match driver {
                    Ok(driver) => {
                        let here = driver.location.as_ref().is_some_and(inside);
                        let was_here = if here { !known.insert(driver.id.clone()) } else { known.remove(&driver.id) };
                        if here || was_here {
                            pending_drivers.insert(driver.id.clone(), driver);
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
                rides = rides.resubscribe();
                drivers = drivers.resubscribe();
                pending_drivers.clear();
                pending_rides.clear();
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
