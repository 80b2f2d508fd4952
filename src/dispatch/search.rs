//! The search task: one per SEARCHING ride, from request to outcome.
//!
//! It searches at once, then again whenever it is woken (a driver became
//! available nearby, or the ride was cancelled) or `search_interval` has
//! passed, and it sleeps no later than the ride's deadline, so expiry comes
//! on time rather than up to an interval late. Each search is one atomic
//! store operation that also expires the ride when it is due, so whatever
//! races with the task (a cancel, another instance) the store decides.
//! Store errors do not end the task: it retries until the ride has ended.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use tokio::{sync::Notify, time::Instant};
use tracing::{debug, info, warn, Instrument};

use super::Dispatcher;
use crate::{
    domain::{Ride, RideStatus},
    store::SearchOutcome,
};

/// How long to wait before retrying after a store error.
const RETRY_AFTER_ERROR: Duration = Duration::from_millis(500);

/// Runs until the ride is matched, cancelled or expired, or the dispatcher shuts down.
pub(super) async fn run(dispatcher: Dispatcher, ride: Arc<Ride>, wake: Arc<Notify>) {
    let span = tracing::info_span!("ride", ride_id = %ride.id);
    async move {
        let searching = metrics::gauge!(crate::telemetry::RIDES_SEARCHING);
        searching.increment(1.0);
        search_until_done(&dispatcher, &ride, &wake).await;
        dispatcher
            .searching()
            .unregister(&ride.id, dispatcher.store().events().wakes_wanted());
        searching.decrement(1.0);
    }
    .instrument(span)
    .await;
}

async fn search_until_done(dispatcher: &Dispatcher, ride: &Ride, wake: &Notify) {
    let settings = dispatcher.settings();
    let shutdown = dispatcher.shutdown_token();
    loop {
        let pause = match dispatcher
            .store()
            .try_match(&ride.id, settings.match_radius, Utc::now())
            .await
        {
            Ok(SearchOutcome::Matched(found)) => {
                info!(
                    driver_id = %found.driver_id.as_ref().map(|d| d.as_str()).unwrap_or(""),
                    distance_km = found.distance_km.unwrap_or_default(),
                    searches = found.searches,
                    "driver found"
                );
                metrics::counter!(crate::telemetry::MATCHES).increment(1);
                let waited = (Utc::now() - found.created_at).to_std().unwrap_or_default();
                metrics::histogram!(crate::telemetry::TIME_TO_MATCH).record(waited.as_secs_f64());
                return;
            }
            Ok(SearchOutcome::Ended(ended)) => {
                info!(status = ended.status.as_str(), "search ended");
                if ended.status == RideStatus::Expired {
                    metrics::counter!(crate::telemetry::EXPIRIES).increment(1);
                }
                return;
            }
            Ok(SearchOutcome::NoDriver(still)) => {
                debug!(searches = still.searches, "no driver yet");
                settings.search_interval
            }
            Err(error) => {
                warn!(%error, "search failed; retrying");
                RETRY_AFTER_ERROR.min(settings.search_interval)
            }
        };
        // Sleep until the next tick, but never past the deadline (plus a
        // millisecond, so that the store's clock has surely passed it).
        let to_deadline = (ride.expires_at - Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO)
            + Duration::from_millis(1);
        let until = Instant::now() + pause.min(to_deadline);
        tokio::select! {
            _ = tokio::time::sleep_until(until) => {}
            _ = wake.notified() => {}
            _ = shutdown.cancelled() => return,
        }
    }
}
