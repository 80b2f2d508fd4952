//! A driver's own feed, for its app: the driver now (with its offer or its
//! ride), then each offer made to it, each offer's end, each status change
//! of its ride, and going offline or coming back.
//!
//! It reads the driver's own channel of the event hub, which carries the
//! driver's changes and those of the rides that concern it, in the order
//! the store made them (a driver's change before the ride's, within one
//! store operation). It never ends on its own. When it falls behind, or the
//! hub says events may have been missed, it re-reads the driver and sends a
//! STATE again.

use std::{collections::VecDeque, sync::Arc};

use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;
use tracing::warn;

use crate::{
    domain::error::Result,
    domain::{Driver, DriverId, DriverStatus, OfferEndReason, Ride, RideId, RideStatus},
    store::{events::DriverSignal, Store},
};

/// What a driver app receives.
#[derive(Debug, Clone)]
pub enum FeedEvent {
    /// The driver as it is, with the ride it is offered (`offered`) or
    /// assigned (`ride`): the first event, after a resync, and when the
    /// driver goes OFFLINE or comes back from it.
    State {
        driver: Arc<Driver>,
        offered: Option<Arc<Ride>>,
        ride: Option<Arc<Ride>>,
    },
    /// A ride was offered to the driver (`ride.offer` is the offer).
    Offer {
        driver: Arc<Driver>,
        ride: Arc<Ride>,
    },
    /// The driver's offer ended.
    OfferEnded {
        driver: Arc<Driver>,
        ride: Arc<Ride>,
        reason: OfferEndReason,
    },
    /// The driver's ride changed status (assigned, arrived, started, ended).
    Ride {
        driver: Arc<Driver>,
        ride: Arc<Ride>,
    },
}

/// Rides whose last status the feed remembers (a driver has one ride and
/// one offer at a time; a few more cover events arriving late).
const REMEMBERED: usize = 8;

/// The driver now, then every change that concerns it.
pub(in crate::dispatch) async fn driver_feed(
    store: Arc<dyn Store>,
    id: DriverId,
) -> Result<impl Stream<Item = FeedEvent> + Send + 'static> {
    let mut signals = store.events().subscribe_feed(&id);
    let mut resyncs = store.events().subscribe_resyncs();
    let first = state(store.as_ref(), &id).await?;
    Ok(async_stream::stream! {
        let mut seen = Seen::default();
        let mut driver = first.driver().clone();
        first.note(&mut seen);
        yield first;
        // A driver holding an offer that goes OFFLINE declines it: the
        // store says so in the driver's change, then the ride's. The STATE
        // waits for the OFFER_ENDED, so the app hears them in that order.
        let mut pending: Option<FeedEvent> = None;
        loop {
            let reread = tokio::select! {
                signal = signals.recv() => match signal {
                    Ok(DriverSignal::Driver(now)) => {
                        if let Some(state) = pending.take() {
                            yield state;
                        }
                        let was = driver.status;
                        driver = now;
                        if (was == DriverStatus::Offline) != (driver.status == DriverStatus::Offline) {
                            let state = FeedEvent::State { driver: driver.clone(), offered: None, ride: None };
                            if was == DriverStatus::Offered {
                                pending = Some(state);
                            } else {
                                yield state;
                            }
                        }
                        false
                    }
                    Ok(DriverSignal::Ride(ride)) => {
                        let offline = driver.clone();
                        for event in changes(&id, &mut driver, &ride, &mut seen) {
                            yield event;
                        }
                        if let Some(state) = pending.take() {
                            driver = offline;
                            yield state;
                        }
                        false
                    }
                    Err(RecvError::Lagged(missed)) => {
                        pending = None;
                        warn!(driver_id = %id, missed, "driver feed fell behind; re-reading");
                        signals = signals.resubscribe();
                        true
                    }
                    Err(RecvError::Closed) => return,
                },
                changed = resyncs.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    pending = None;
                    true
                }
            };
            if reread {
                match state(store.as_ref(), &id).await {
                    Ok(now) => {
                        driver = now.driver().clone();
                        now.note(&mut seen);
                        yield now;
                    }
                    Err(error) => warn!(driver_id = %id, %error, "could not re-read the driver"),
                }
            }
        }
    })
}

/// The events a ride's change makes for driver `id`, in order: its offer
/// ending, a new offer, its ride's new status.
fn changes(
    id: &DriverId,
    driver: &mut Arc<Driver>,
    ride: &Arc<Ride>,
    seen: &mut Seen,
) -> Vec<FeedEvent> {
    let Some(before) = seen.update(ride) else {
        return Vec::new();
    };
    let mut events = Vec::new();
    if let Some(end) = ride.offer_ended_now().filter(|e| e.driver == *id) {
        if end.reason == OfferEndReason::Accepted {
            *driver = with_status(driver, DriverStatus::Assigned, Some(&ride.id));
        }
        events.push(FeedEvent::OfferEnded {
            driver: driver.clone(),
            ride: ride.clone(),
            reason: end.reason,
        });
    }
    if ride.offer_made_now().is_some_and(|o| o.driver == *id) {
        *driver = with_status(driver, DriverStatus::Offered, Some(&ride.id));
        events.push(FeedEvent::Offer {
            driver: driver.clone(),
            ride: ride.clone(),
        });
    }
    if ride.driver_id.as_ref() == Some(id) && before != Some(ride.status) {
        if ride.status.has_driver() {
            *driver = with_status(driver, DriverStatus::Assigned, Some(&ride.id));
        }
        events.push(FeedEvent::Ride {
            driver: driver.clone(),
            ride: ride.clone(),
        });
    }
    events
}

/// The driver with the status an event implies (its own change, published
/// just before, normally says so already).
fn with_status(driver: &Arc<Driver>, status: DriverStatus, ride: Option<&RideId>) -> Arc<Driver> {
    if driver.status == status {
        return driver.clone();
    }
    let mut next = (**driver).clone();
    next.status = status;
    next.ride_id = ride.cloned();
    Arc::new(next)
}

/// The driver as it stands, with its offered or assigned ride.
async fn state(store: &dyn Store, id: &DriverId) -> Result<FeedEvent> {
    let driver = store
        .driver(id, store.now())
        .await?
        .unwrap_or_else(|| Driver::unknown(id.clone()));
    let ride = match &driver.ride_id {
        Some(ride) => store.ride(ride).await?,
        None => None,
    };
    let (offered, ride) = match driver.status {
        DriverStatus::Offered => (ride, None),
        DriverStatus::Assigned => (None, ride),
        _ => (None, None),
    };
    Ok(FeedEvent::State {
        driver: Arc::new(driver),
        offered,
        ride,
    })
}

impl FeedEvent {
    /// The driver this event shows.
    pub fn driver(&self) -> &Arc<Driver> {
        match self {
            Self::State { driver, .. }
            | Self::Offer { driver, .. }
            | Self::OfferEnded { driver, .. }
            | Self::Ride { driver, .. } => driver,
        }
    }

    /// Remembers the rides a STATE shows, so their events are not repeated.
    fn note(&self, seen: &mut Seen) {
        if let Self::State { offered, ride, .. } = self {
            for ride in offered.iter().chain(ride) {
                seen.update(ride);
            }
        }
    }
}

/// The last revision and status seen of the few rides the feed follows.
#[derive(Default)]
struct Seen(VecDeque<(RideId, u64, RideStatus)>);

impl Seen {
    /// Notes a ride's change; `None` when it was seen already, else the
    /// status last seen before it (`Some(None)` for a ride not seen yet).
    fn update(&mut self, ride: &Ride) -> Option<Option<RideStatus>> {
        let before = match self.0.iter().position(|(id, _, _)| *id == ride.id) {
            Some(i) => {
                let (_, revision, status) = self.0[i].clone();
                if revision >= ride.revision {
                    return None;
                }
                self.0.remove(i);
                Some(status)
            }
            None => None,
        };
        if self.0.len() == REMEMBERED {
            self.0.pop_front();
        }
        self.0
            .push_back((ride.id.clone(), ride.revision, ride.status));
        Some(before)
    }
}
