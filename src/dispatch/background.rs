//! The dispatcher's background tasks, one per concern, each stopped by the
//! dispatcher's shutdown: waking searching rides when a driver becomes
//! available near them, renewing this instance's lease (and adopting rides
//! nobody searches for), and sweeping the store. A task whose store calls
//! fail retries at its next tick and logs only when it starts failing and
//! when it recovers ([`Failing`]).

use std::time::Duration;

use tokio::sync::broadcast;
use tracing::{info, warn};

use super::{Dispatcher, SWEEP_EVERY};
use crate::{domain::RideStatus, error::Result};

/// Logs a repeated failure once, and its end once: never at every try.
#[derive(Debug, Default)]
pub(super) struct Failing(bool);

impl Failing {
    /// Notes a success; logs the recovery after failures.
    pub fn ok(&mut self, what: &str) {
        if std::mem::take(&mut self.0) {
            info!("{what} works again");
        }
    }

    /// Notes a failure; logs only the first of a run.
    pub fn failed(&mut self, what: &str, error: &crate::error::Error) {
        if !std::mem::replace(&mut self.0, true) {
            warn!(%error, "{what} failed; retrying every tick");
        }
    }
}

impl Dispatcher {
    /// Starts search tasks for the rides this instance takes over; returns
    /// how many were started.
    pub(super) async fn adopt_orphans(&self) -> Result<usize> {
        let running = self.searching().ids();
        let rides = self
            .store()
            .adopt_orphans(self.store().now(), &running)
            .await?;
        let started = rides
            .into_iter()
            .filter(|ride| self.start_search(ride.clone()))
            .count();
        if started > 0 {
            info!(
                rides = started,
                "started search tasks for rides nobody searched for"
            );
        }
        Ok(started)
    }

    /// Renews this instance's claim and adopts orphaned rides, forever.
    pub(super) fn spawn_maintenance(&self, every: Duration) {
        let this = self.clone();
        let stop = self.shutdown_token();
        self.inner
            .tasks
            .spawn(stop.run_until_cancelled_owned(async move {
                let mut tick = tokio::time::interval(every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let mut failing = Failing::default();
                loop {
                    tokio::select! {
                        _ = tick.tick() => {}
                        _ = this.store().events().rides_released() => {}
                    }
                    match this.adopt_orphans().await {
                        Ok(_) => failing.ok("renewing the lease"),
                        Err(error) => failing.failed("renewing the lease", &error),
                    }
                }
            }));
    }

    /// Sweeps the store every [`SWEEP_EVERY`]: silent drivers go OFFLINE
    /// (and live maps hear of it), what is past its retention goes. A step
    /// that hit its batch limit is followed at once by the next; a failing
    /// store is retried at the next tick, never in a tight loop.
    pub(super) fn spawn_sweeper(&self) {
        let this = self.clone();
        let stop = self.shutdown_token();
        self.inner
            .tasks
            .spawn(stop.run_until_cancelled_owned(async move {
                let mut tick = tokio::time::interval(SWEEP_EVERY);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let mut failing = Failing::default();
                loop {
                    tick.tick().await;
                    loop {
                        match this.store().sweep(this.store().now()).await {
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
            }));
    }

    /// Wakes the searching rides near each driver that becomes available,
    /// and each ride searching here whose search ended or whose offer was
    /// answered (cancelled, accepted or declined through any instance), so
    /// its task acts now rather than at its next tick.
    pub(super) fn spawn_wake_listener(&self) {
        let mut available = self.store().events().subscribe_available();
        let mut rides = self.store().events().subscribe_all();
        let this = self.clone();
        let stop = self.shutdown_token();
        self.inner
            .tasks
            .spawn(stop.run_until_cancelled_owned(async move {
                let radius = this.widest_match_radius();
                loop {
                    tokio::select! {
                        at = available.recv() => match at {
                            Ok(at) => {
                                this.searching().wake_near(at, radius);
                            }
                            Err(broadcast::error::RecvError::Lagged(_)) => this.searching().wake_all(),
                            Err(broadcast::error::RecvError::Closed) => break,
                        },
                        ride = rides.recv() => match ride {
                            Ok(ride) if ride.status != RideStatus::Searching || ride.offer_ended_now().is_some() => {
                                this.searching().wake(&ride.id)
                            }
                            Ok(_) => {}
                            Err(broadcast::error::RecvError::Lagged(_)) => this.searching().wake_all(),
                            Err(broadcast::error::RecvError::Closed) => break,
                        },
                    }
                }
            }));
    }
}
