//! The events of a `fleet` subscription: what changed in a watched area.

use async_graphql::{Enum, Object};

use super::{driver::Driver, ride::Ride};

/// What a `fleet` event is.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum FleetEventKind {
    /// Everything in the area now (`drivers` and `rides` filled). The first
    /// event, and again after the subscriber fell behind (`resync`).
    Snapshot,
    /// One driver moved or changed status (`drivers` holds it). A driver
    /// that just left the area is sent once more, so maps can drop it.
    Driver,
    /// One ride changed status (`rides` holds it).
    Ride,
    /// Every driver and ride that changed since the last event, each as it
    /// is now (`drivers` and `rides`), gathered over the service's
    /// `--fleet-interval` (250 ms by default) and sent instead of DRIVER
    /// and RIDE events. Drivers that just left the area are among them,
    /// once, so maps can drop them.
    Changes,
}

/// A change in a watched area. Start from the first event (a SNAPSHOT),
/// then apply each CHANGES event (or DRIVER and RIDE events, on a service
/// run with `--fleet-interval 0s`); a SNAPSHOT arriving later replaces the
/// whole picture.
pub struct FleetEvent(pub crate::dispatch::live::FleetEvent);

/// A change in a watched area (see `FleetEventKind`).
#[Object]
impl FleetEvent {
    /// What this event carries.
    async fn kind(&self) -> FleetEventKind {
        use crate::dispatch::live::FleetEvent as E;
        match &self.0 {
            E::Snapshot { .. } => FleetEventKind::Snapshot,
            E::Driver(_) => FleetEventKind::Driver,
            E::Ride(_) => FleetEventKind::Ride,
            E::Changes { .. } => FleetEventKind::Changes,
        }
    }

    /// SNAPSHOT: the available drivers in the area and the drivers its
    /// active rides are assigned or offered to. DRIVER: the driver that
    /// changed. CHANGES: the drivers that changed. RIDE: empty.
    async fn drivers(&self) -> Vec<Driver> {
        use crate::dispatch::live::FleetEvent as E;
        match &self.0 {
            E::Snapshot { area, .. } => area.drivers.iter().cloned().map(Driver::from).collect(),
            E::Driver(driver) => vec![Driver::from((**driver).clone())],
            E::Changes { drivers, .. } => drivers
                .iter()
                .map(|d| Driver::from((**d).clone()))
                .collect(),
            E::Ride(_) => Vec::new(),
        }
    }

    /// SNAPSHOT: the rides not ended (SEARCHING, DRIVER_FOUND, ARRIVED,
    /// IN_PROGRESS) with their pickup in the area. RIDE: the ride that
    /// changed (its status, or an offer made or ended). CHANGES: the rides
    /// that changed. DRIVER: empty.
    async fn rides(&self) -> Vec<Ride> {
        use crate::dispatch::live::FleetEvent as E;
        match &self.0 {
            E::Snapshot { area, .. } => area.rides.iter().cloned().map(Ride).collect(),
            E::Ride(ride) => vec![Ride(ride.clone())],
            E::Changes { rides, .. } => rides.iter().cloned().map(Ride).collect(),
            E::Driver(_) => Vec::new(),
        }
    }

    /// True on a SNAPSHOT sent because this subscriber fell behind and
    /// events were skipped.
    async fn resync(&self) -> bool {
        matches!(
            self.0,
            crate::dispatch::live::FleetEvent::Snapshot { resync: true, .. }
        )
    }
}
