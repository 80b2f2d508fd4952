//! Live streams: one ride's status for its rider ([`ride`]), the assigned
//! driver's position for a rider ([`driver`]), a driver's own feed for its
//! app ([`feed`]), and everything moving in an area for a dashboard
//! ([`area`]).
//!
//! Both read the event hub's broadcast channels, which are bounded: a
//! subscriber that falls behind never slows a publisher. It is told instead
//! (`RecvError::Lagged`) and skips to the newest state: the driver stream
//! re-reads the driver, the area stream jumps to the newest event and sends
//! a fresh snapshot marked as a resync. When the hub says events may have
//! been missed elsewhere (the event subscription reconnected, the store lost
//! its data), they do the same. An area's snapshot is read once for all
//! who ask together ([`snapshots`]).

mod area;
mod driver;
mod feed;
mod ride;
mod snapshots;

use std::sync::Arc;

pub(super) use area::area;
pub(super) use driver::driver_of_ride;
pub(super) use feed::driver_feed;
pub use feed::FeedEvent;
pub(super) use ride::ride_changes;
pub(super) use snapshots::Snapshots;

use crate::domain::{AreaSnapshot, Driver, Ride};

/// What a live map receives.
#[derive(Debug, Clone)]
pub enum FleetEvent {
    /// Everything in the area now: the first event, and again (with
    /// `resync`) after the subscriber fell behind and events were skipped.
    Snapshot {
        area: Arc<AreaSnapshot>,
        resync: bool,
    },
    /// A driver in the area (or one that just left it) moved or changed status.
    Driver(Arc<Driver>),
    /// A ride with its pickup in the area changed status.
    Ride(Arc<Ride>),
    /// Every driver and ride that changed since the last event, each as
    /// it is now (sent instead of `Driver` and `Ride` when changes are
    /// gathered over an interval).
    Changes {
        drivers: Vec<Arc<Driver>>,
        rides: Vec<Arc<Ride>>,
    },
}
