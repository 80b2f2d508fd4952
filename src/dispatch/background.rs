//! The dispatcher's background tasks, one per concern, each stopped by the
//! dispatcher's shutdown: waking searching rides when a driver becomes
//! available near them, renewing this instance's lease (and adopting rides
//! nobody searches for), and sweeping the store. A task whose store calls
//! fail retries at its next tick and logs only when it starts failing and
//! when it recovers ([`Failing`]).

use std::{sync::Arc, time::Duration};

use tokio::sync::broadcast;
use tracing::{info, warn};

use super::search::Searches;
use crate::{domain::error::Result, domain::RideStatus};

/// How often the store is swept: a driver silent past the TTL is announced
/// OFFLINE within about this long.
const SWEEP_EVERY: Duration = Duration::from_millis(500);

/// Logs a repeated failure once, and its end once: never at every try.
#[derive(Debug, Default)]
struct Failing(bool);

impl Failing {
    /// Notes a success; logs the recovery after failures.
    pub fn ok(&mut self, what: &str) {
        if std::mem::take(&mut self.0) {
            info!("{what} works again");
        }
    }

    /// Notes a failure; logs only the first of a run.
    pub fn failed(&mut self, what: &str, error: &crate::domain::error::Error) {
        if !std::mem::replace(&mut self.0, true) {
            warn!(%error, "{what} failed; retrying every tick");
        }
    }
}

/// The dispatcher's background upkeep: the tasks that keep its searches
/// awake and its store sound, each run until shutdown.
pub(super) struct Background {
    searches: Arc<Searches>,
}

impl Background {
    /// Starts every background task over `searches`: the wake-up listener
    /// and the sweeper; then takes over the searching rides nobody runs
    /// and, when the store asks for it, keeps doing so periodically.
    pub async fn start(searches: &Arc<Searches>) -> Result<()> {
        let background = Self {
            searches: searches.clone(),
        };
        background.spawn_wake_listener();
        background.spawn_sweeper();
        super::batching::start(searches);
        searches.adopt_orphans().await?;
        if let Some(every) = searches.store().maintenance_interval() {
            background.spawn_maintenance(every);
        }
        Ok(())
    }

    /// Renews this instance's claim and adopts orphaned rides, forever.
    fn spawn_maintenance(&self, every: Duration) {
        let searches = self.searches.clone();
        self.searches.spawn_until_shutdown(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut failing = Failing::default();
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = searches.store().events().rides_released() => {}
                }
                match searches.adopt_orphans().await {
                    Ok(_) => failing.ok("renewing the lease"),
                    Err(error) => failing.failed("renewing the lease", &error),
                }
            }
        });
    }

    /// Sweeps the store every [`SWEEP_EVERY`]: silent drivers go OFFLINE
    /// (and live maps hear of it), what is past its retention goes. A step
    /// that hit its batch limit is followed at once by the next; a failing
    /// store is retried at the next tick, never in a tight loop.
    fn spawn_sweeper(&self) {
        let searches = self.searches.clone();
        self.searches.spawn_until_shutdown(async move {
            let store = searches.store();
            let mut tick = tokio::time::interval(SWEEP_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut failing = Failing::default();
            loop {
                tick.tick().await;
                loop {
                    match store.sweep(store.now()).await {
                        Ok(swept) => {
                            failing.ok("sweeping");
                            if !swept.more() {
                                break;
                            }
                            tokio::task::yield_now().await;
                        }
                        Err(error) => {
                            failing.failed("sweeping", &error);
                            break;
                        }
                    }
                }
            }
        });
    }

    /// Wakes the searching rides near each driver that becomes available,
    /// and each ride searching here whose search ended or whose offer was
    /// answered (cancelled, accepted or declined through any instance), or
    /// that a batch window offered, so its task acts now rather than at its
    /// next tick.
    fn spawn_wake_listener(&self) {
        let events = self.searches.store().events();
        let mut available = events.subscribe_available();
        let mut rides = events.subscribe_all();
        let searches = self.searches.clone();
        self.searches.spawn_until_shutdown(async move {
            let radius = searches.settings().widest_match_radius();
            let searching = searches.searching();
            // A window's offer: its ride's task learns the offer's deadline
            // now (it made no offer itself, and may sleep a search interval).
            let batches = |id: &crate::domain::RideId| {
                !searches.settings().for_ride(id).match_window.is_zero()
            };
            loop {
                tokio::select! {
                    at = available.recv() => match at {
                        Ok(at) => {
                            searching.wake_near(at, radius);
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => searching.wake_all(),
                        Err(broadcast::error::RecvError::Closed) => break,
                    },
                    ride = rides.recv() => match ride {
                        Ok(ride) if ride.status != RideStatus::Searching
                            || ride.offer_ended_now().is_some()
                            || (ride.offer_made_now().is_some() && batches(&ride.id)) => {
                            searching.wake(&ride.id)
                        }
                        Ok(_) => {}
                        Err(broadcast::error::RecvError::Lagged(_)) => searching.wake_all(),
                        Err(broadcast::error::RecvError::Closed) => break,
                    },
                }
            }
        });
    }
}
