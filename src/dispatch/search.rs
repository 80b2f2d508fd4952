//! The search tasks: one per SEARCHING ride, from request to outcome, and
//! [`Searches`], which starts them, adopts the rides nobody searches for,
//! wakes them and stops them all on shutdown.
//!
//! It searches at once, then again whenever it is woken (a driver became
//! available nearby, the ride changed: cancelled, an offer answered) or
//! `search_interval` has passed, and it sleeps no later than the ride's
//! deadline, or its offer's (on the store's clock), so expiry and offer
//! timeouts come on time rather than up to an interval late. Each search is
//! one atomic store operation that also expires the ride when it is due and
//! times out an offer past its deadline, so whatever races with the task (a
//! cancel, an answer, another instance) the store decides.
//!
//! A ride the store no longer has (it lost its data) ends the task and its
//! watchers. Other store errors do not end it: it retries, backing off
//! (100 ms doubling up to the search interval, with jitter), and logs when
//! it starts failing and when it recovers, not at every try.

use std::{sync::Arc, time::Duration};

use rand::Rng;
use tokio::{sync::Notify, time::Instant};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::{debug, info, warn, Instrument};

use super::{ranking::Ranking, settings::AreaSettings, wakeup::SearchingRides};
use crate::{
    domain::error::{Error, Result},
    domain::{Ride, RideId, RideStatus},
    store::{Pick, SearchOutcome, Store},
};

/// The search tasks running here, and what they run on.
pub(super) struct Searches {
    store: Arc<dyn Store>,
    settings: AreaSettings,
    ranking: Ranking,
    searching: SearchingRides,
    tasks: TaskTracker,
    shutdown: CancellationToken,
}

impl Searches {
    /// No search running yet, over `store`.
    pub fn new(store: Arc<dyn Store>, settings: AreaSettings, ranking: Ranking) -> Arc<Self> {
        Arc::new(Self {
            store,
            settings,
            ranking,
            searching: SearchingRides::default(),
            tasks: TaskTracker::new(),
            shutdown: CancellationToken::new(),
        })
    }

    /// The store the searches run on.
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// The settings in force.
    pub fn settings(&self) -> &AreaSettings {
        &self.settings
    }

    /// How candidates are ranked, and the roads they are ranked by.
    pub fn ranking(&self) -> &Ranking {
        &self.ranking
    }

    /// The rides searching here, to wake.
    pub fn searching(&self) -> &SearchingRides {
        &self.searching
    }

    /// Wakes a ride's search task here (if it runs here), so it acts now.
    pub fn wake(&self, id: &RideId) {
        self.searching.wake(id);
    }

    /// Runs `task` until the dispatcher shuts down (and is waited for then).
    pub fn spawn_until_shutdown<F>(&self, task: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.tasks
            .spawn(self.shutdown.clone().run_until_cancelled_owned(task));
    }

    /// Spawns the search task for a ride unless one already runs here.
    pub fn start(self: &Arc<Self>, ride: Arc<Ride>) -> bool {
        if self.shutdown.is_cancelled() {
            return false;
        }
        let Some(wake) =
            self.searching
                .register(&ride.id, ride.pickup, self.store.events().wakes_wanted())
        else {
            return false;
        };
        self.tasks
            .spawn(run(self.clone(), ride, wake, tracing::Span::current()));
        true
    }

    /// Starts search tasks for the rides this instance takes over; returns
    /// how many were started.
    pub async fn adopt_orphans(self: &Arc<Self>) -> Result<usize> {
        let running = self.searching.ids();
        let rides = self.store.adopt_orphans(self.store.now(), &running).await?;
        let started = rides
            .into_iter()
            .filter(|ride| self.start(ride.clone()))
            .count();
        if started > 0 {
            info!(
                rides = started,
                "started search tasks for rides nobody searched for"
            );
        }
        Ok(started)
    }

    /// Stops every search task and waits for them, then hands this
    /// instance's searching rides over.
    pub async fn stop(&self) {
        self.shutdown.cancel();
        self.tasks.close();
        self.tasks.wait().await;
        // The areas this instance batches: their lease ends now (a lease of
        // a millisecond), so another instance runs their windows at once.
        for area in self.settings.areas().all() {
            if !self.settings.for_area(&area.id).match_window.is_zero() {
                let ending = std::time::Duration::from_millis(1);
                if let Err(error) = self.store.batch_lease(&area.id, ending).await {
                    warn!(%error, area = %area.id, "could not hand the batch lease over");
                }
            }
        }
        if let Err(error) = self.store.hand_over_rides().await {
            warn!(%error, "could not hand searching rides over");
        }
    }
}

/// The least time between two searches that rank by road, when the
/// second was woken (by a report nearby, an answer, a cancel).
const MIN_RANK_GAP: Duration = Duration::from_millis(250);

/// Searches in a row that rank again at once when another search took
/// every candidate first.
const MAX_OUTRUN: u32 = 3;

/// The first wait after a store error; it doubles with each error in a row.
const FIRST_RETRY: Duration = Duration::from_millis(100);

/// The wait before the `failures`th retry in a row: doubling from
/// [`FIRST_RETRY`] up to `ceiling`, then ±25% so that many tasks failing
/// together do not retry together.
fn backoff(failures: u32, ceiling: Duration) -> Duration {
    let base = FIRST_RETRY
        .saturating_mul(1u32 << failures.min(16))
        .min(ceiling);
    base.mul_f64(rand::rng().random_range(0.75..1.25))
}

/// Runs until the ride is matched, cancelled or expired, or the dispatcher
/// shuts down, in a span that continues `parent`'s trace (the span that
/// started it: a request's, so its trace goes on into the search).
async fn run(searches: Arc<Searches>, ride: Arc<Ride>, wake: Arc<Notify>, parent: tracing::Span) {
    let span = tracing::info_span!(parent: None, "ride", ride_id = %ride.id);
    crate::telemetry::traces::continue_trace(&span, &parent);
    drop(parent);
    async move {
        let searching = metrics::gauge!(crate::telemetry::RIDES_SEARCHING);
        searching.increment(1.0);
        search_until_done(&searches, &ride, &wake).await;
        searches
            .searching
            .unregister(&ride.id, searches.store.events().wakes_wanted());
        searching.decrement(1.0);
    }
    .instrument(span)
    .await;
}

async fn search_until_done(searches: &Searches, ride: &Ride, wake: &Notify) {
    let settings = searches.settings.for_ride(&ride.id);
    let shutdown = searches.shutdown.clone();
    let mut failures = 0u32;
    // Searches in a row whose ranked candidates were all taken meanwhile.
    let mut outrun = 0u32;
    // When the last search ranked candidates by road (it costs road queries).
    let mut ranked_at: Option<Instant> = None;
    loop {
        let store = searches.store();
        let span = tracing::info_span!("dispatch.search", ride = %ride.id);
        let now = store.now();
        let searched = async {
            // While the area batches, its windows match: the task only
            // expires the ride and times out its offers.
            let (radius, pick) = if settings.match_window.is_zero() {
                searches.ranking.pick(store, ride, &settings, now).await?
            } else {
                (settings.match_radius, Pick::Ranked(Vec::new()))
            };
            let ranked = matches!(&pick, Pick::Ranked(c) if !c.is_empty());
            let outcome = store
                .try_match(&ride.id, radius, settings.offers, &pick, now)
                .await?;
            Ok::<_, Error>((ranked, outcome))
        }
        .instrument(span)
        .await;
        let (ranked, outcome) = match searched {
            Ok((ranked, outcome)) => (ranked, Ok(outcome)),
            Err(error) => (false, Err(error)),
        };
        if ranked {
            ranked_at = Some(Instant::now());
        }
        let pause = match outcome {
            Ok(SearchOutcome::Matched(found)) => {
                info!(
                    driver_id = %found.driver_id.as_ref().map(|d| d.as_str()).unwrap_or(""),
                    distance_km = found.distance_km.unwrap_or_default(),
                    pickup_eta_s = found.pickup_eta.map(|e| e.seconds).unwrap_or_default(),
                    eta_source = found.pickup_eta.map_or("", |e| e.source.as_str()),
                    searches = found.searches,
                    "driver found"
                );
                crate::telemetry::ride_matched(&found);
                return;
            }
            Ok(SearchOutcome::Offered(offered)) => {
                if std::mem::take(&mut failures) > 0 {
                    info!("searching again");
                }
                let Some(offer) = &offered.offer else {
                    continue;
                };
                debug!(driver_id = %offer.driver, "offered; waiting for the answer");
                // Until the offer's deadline (plus a millisecond, so the
                // store's clock has surely passed it).
                (offer.expires_at - store.now())
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    + Duration::from_millis(1)
            }
            Ok(SearchOutcome::Ended(ended)) => {
                info!(status = ended.status.as_str(), "search ended");
                if ended.status == RideStatus::Expired {
                    metrics::counter!(crate::telemetry::EXPIRIES).increment(1);
                }
                return;
            }
            Ok(SearchOutcome::Elsewhere(_)) => {
                info!("another instance searches for this ride now");
                return;
            }
            Ok(SearchOutcome::NoDriver(still)) => {
                debug!(searches = still.searches, "no driver yet");
                if std::mem::take(&mut failures) > 0 {
                    info!("searching again");
                }
                // Every candidate ranked was taken (or moved) between the
                // read and the claim: rank again now, a few times.
                if ranked && outrun < MAX_OUTRUN {
                    outrun += 1;
                    Duration::ZERO
                } else {
                    outrun = 0;
                    settings.search_interval
                }
            }
            Err(Error::NotFound(_)) => {
                warn!("the store no longer has this ride; its search ends");
                store.events().gone(&ride.id);
                return;
            }
            Err(error) => {
                if failures == 0 {
                    warn!(%error, "search failed; retrying with backoff");
                }
                failures += 1;
                backoff(failures - 1, settings.search_interval)
            }
        };
        // Sleep until the next tick, but never past the deadline (plus a
        // millisecond, so that the store's clock has surely passed it);
        // after an error, the whole backoff, deadline or not: the store
        // expires an overdue ride at the first search that reaches it.
        let wait = if failures > 0 {
            pause
        } else {
            let to_deadline = (ride.expires_at - searches.store.now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                + Duration::from_millis(1);
            pause.min(to_deadline)
        };
        let until = Instant::now() + wait;
        tokio::select! {
            _ = tokio::time::sleep_until(until) => {}
            // While failing, wake-ups (every driver report nearby) must not
            // turn the backoff into a busy loop.
            _ = wake.notified(), if failures == 0 => {
                // Reports nearby wake a ride again and again: it ranks by
                // road at most once per MIN_RANK_GAP.
                if let Some(at) = ranked_at.filter(|at| at.elapsed() < MIN_RANK_GAP) {
                    tokio::select! {
                        _ = tokio::time::sleep_until(at + MIN_RANK_GAP) => {}
                        _ = shutdown.cancelled() => return,
                    }
                }
            }
            _ = shutdown.cancelled() => return,
        }
    }
}
