//! Everything in an area, for a live map: a snapshot, then each driver and
//! ride change in it (one event each, or gathered over an interval into one
//! event per interval), and a fresh snapshot whenever events were missed.
//! Snapshots come through [`Snapshots`], shared by those asking together.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use futures_util::Stream;
use tokio::{
    sync::broadcast::error::RecvError,
    time::{Instant, MissedTickBehavior},
};

use super::{snapshots::Snapshots, FleetEvent};
use crate::{
    domain::error::Result,
    domain::{AreaSnapshot, Coordinates, Driver, DriverId, RadiusKm, Ride, RideId},
    store::Store,
};

/// The changes gathered since the last event: at most one entry per driver
/// and ride in the area (a newer state replaces an older one), so bounded
/// by the area's size, as a snapshot is.
#[derive(Default)]
struct Pending {
    drivers: HashMap<DriverId, Arc<Driver>>,
    rides: HashMap<RideId, Arc<Ride>>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.drivers.is_empty() && self.rides.is_empty()
    }

    fn take(&mut self) -> FleetEvent {
        FleetEvent::Changes {
            drivers: self.drivers.drain().map(|(_, d)| d).collect(),
            rides: self.rides.drain().map(|(_, r)| r).collect(),
        }
    }
}

/// A snapshot of an area, then every driver and ride change in it: one
/// event per change when `interval` is zero, else at most one event per
/// `interval` holding every driver and ride that changed since the last,
/// each as it is now.
pub(in crate::dispatch) async fn area(
    store: Arc<dyn Store>,
    snapshots: Arc<Snapshots>,
    center: Coordinates,
    radius: RadiusKm,
    interval: Duration,
) -> Result<impl Stream<Item = FleetEvent> + Send + 'static> {
    let mut rides = store.events().subscribe_all();
    let mut drivers = store.events().subscribe_drivers();
    let mut resyncs = store.events().subscribe_resyncs();
    let first = snapshots.take(center, radius).await?;
    let inside = move |at: &Coordinates| center.distance_km(at) <= radius.km();
    let gather = !interval.is_zero();
    let every = interval.max(Duration::from_millis(1));
    Ok(async_stream::stream! {
        let mut known = known_drivers(&first);
        yield FleetEvent::Snapshot { area: first, resync: false };
        let mut tick = tokio::time::interval_at(Instant::now() + every, every);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut pending = Pending::default();
        loop {
            let due = gather && !pending.is_empty();
            let lagged = tokio::select! {
                _ = tick.tick(), if due => {
                    yield pending.take();
                    false
                }
                ride = rides.recv() => match ride {
                    Ok(ride) => {
                        if inside(&ride.pickup) {
                            if gather {
                                pending.rides.insert(ride.id.clone(), ride);
                            } else {
                                yield FleetEvent::Ride(ride);
                            }
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
                            if gather {
                                pending.drivers.insert(driver.id.clone(), driver);
                            } else {
                                yield FleetEvent::Driver(driver);
                            }
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
                pending = Pending::default();
                match snapshots.take(center, radius).await {
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
