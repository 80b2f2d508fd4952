//! Following one ride: its state now, then every status change, no gap.
//!
//! The stream subscribes to the ride's events *before* it reads the ride, so
//! a change that lands between the two is still delivered; revisions drop the
//! events the snapshot already covers. A subscriber too slow for the
//! broadcast channel does not lose its stream: it re-reads the ride and goes
//! on from there, and so does every subscriber when the hub says events may
//! have been missed (the event subscription reconnected, or the store lost
//! its data); a re-read that finds the same revision sends nothing. Changes
//! that leave the status as it was (an offer made or ended) send nothing
//! either: one event per status change. The stream ends after a terminal
//! status, or with `NOT_FOUND` when the ride is gone: it never shows
//! another ride under the same id.
//!
//! The caller's right to the ride is checked again at every change the
//! stream reads, status change or not, by the same rule `ride(id)` applies
//! ([`access::may_see_ride`]): a driver whose offer ended (declined, timed
//! out, withdrawn) or who lost the ride to another driver sees the stream
//! end at once with `FORBIDDEN`, never the next driver, position or trip.

use std::sync::Arc;

use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;
use tracing::warn;

use crate::{
    auth::Caller,
    dispatch::access,
    domain::error::{Error, Result},
    domain::{Ride, RideId},
    store::{events::RideEvent, Store},
};

/// A ride's changes as `caller` may see them, for the operation `action`
/// (named in a refusal).
pub(in crate::dispatch) async fn ride_changes(
    store: Arc<dyn Store>,
    id: &RideId,
    caller: Caller,
    action: &'static str,
) -> Result<impl Stream<Item = Result<Arc<Ride>>> + Send + 'static> {
    let mut events = store.events().subscribe(id);
    let mut resyncs = store.events().subscribe_resyncs();
    let snapshot = store
        .ride(id)
        .await?
        .ok_or_else(|| Error::ride_not_found(id))?;
    access::may_see_ride(&caller, &snapshot, action)?;
    let id = id.clone();
    Ok(async_stream::stream! {
        let mut seen = snapshot.revision;
        let mut status = snapshot.status;
        let mut done = snapshot.status.is_terminal();
        yield Ok(snapshot);
        while !done {
            let reread = tokio::select! {
                event = events.recv() => match event {
                    Ok(RideEvent::Changed(ride)) => Some(ride),
                    Ok(RideEvent::Gone) => {
                        yield Err(Error::ride_gone(&id));
                        break;
                    }
                    Err(RecvError::Lagged(missed)) => {
                        warn!(ride_id = %id, missed, "subscriber fell behind; re-reading the ride");
                        None
                    }
                    Err(RecvError::Closed) => break,
                },
                changed = resyncs.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    None
                }
            };
            let ride = match reread {
                Some(ride) => ride,
                None => match store.ride(&id).await {
                    Ok(Some(ride)) => ride,
                    Ok(None) => {
                        yield Err(Error::ride_gone(&id));
                        break;
                    }
                    Err(error) => {
                        warn!(ride_id = %id, %error, "could not re-read the ride");
                        continue;
                    }
                },
            };
            if ride.revision <= seen {
                continue;
            }
            seen = ride.revision;
            if let Err(refused) = access::may_see_ride(&caller, &ride, action) {
                yield Err(refused);
                break;
            }
            if ride.status == status {
                continue;
            }
            status = ride.status;
            done = ride.status.is_terminal();
            yield Ok(ride);
        }
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::Utc;
    use futures_util::StreamExt;

    use super::*;
    use crate::{
        domain::{Coordinates, DriverId, RadiusKm, RideStatus, RiderId},
        store::{
            events::{Capacities, EventHub},
            memory::MemoryStore,
            Fleet, NewRide, Rides, SearchOutcome, Upkeep,
        },
    };

    /// A subscriber that missed events (two, with room for one) re-reads the
    /// ride and goes on from the state the store holds.
    #[tokio::test]
    async fn a_subscriber_that_falls_behind_rereads_the_ride() {
        let hub = EventHub::with_capacities(Capacities {
            per_ride: 1,
            ..Capacities::default()
        });
        let store = Arc::new(MemoryStore::with_events(Duration::from_secs(60), hub));
        let at = Coordinates::parse(0.0, 0.0).unwrap_or_else(|e| panic!("{e}"));
        let rider = RiderId::parse("r").unwrap_or_else(|e| panic!("{e}"));
        let now = Utc::now();
        let ride = store
            .create_ride(&NewRide::new(rider, at, Duration::from_secs(60)), now)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .ride()
            .clone();
        let mut changes = Box::pin(
            ride_changes(store.clone(), &ride.id, Caller::Open, "rideStatus")
                .await
                .unwrap_or_else(|e| panic!("{e}")),
        );
        let first = changes
            .next()
            .await
            .unwrap_or_else(|| panic!("snapshot"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(first.status, RideStatus::Searching);

        // Two events before the subscriber reads again: the real match, then
        // a made-up one the store never holds. Only a re-read of the store
        // after the lag gives the ride as it really is.
        let driver = DriverId::parse("d").unwrap_or_else(|e| panic!("{e}"));
        store
            .update_location(&driver, at, now, 0.0)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let radius = RadiusKm::parse(1.0).unwrap_or_else(|e| panic!("{e}"));
        let matched = match store
            .try_match(
                &ride.id,
                radius,
                Default::default(),
                &crate::store::Pick::Nearest(Default::default()),
                now,
            )
            .await
        {
            Ok(SearchOutcome::Matched(ride)) => ride,
            other => panic!("expected a match, got {other:?}"),
        };
        let mut made_up = (*matched).clone();
        made_up.status = RideStatus::Searching;
        made_up.revision = 9;
        store.events().publish(Arc::new(made_up));

        let next = changes
            .next()
            .await
            .unwrap_or_else(|| panic!("an event"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (next.status, next.revision),
            (RideStatus::DriverFound, 2),
            "re-read after the lag"
        );
        store
            .advance_ride(&ride.id, crate::domain::Step::Complete, now)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let last = changes
            .next()
            .await
            .unwrap_or_else(|| panic!("an event"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(last.status, RideStatus::Completed);
        assert!(
            changes.next().await.is_none(),
            "ends after the terminal status"
        );
    }
}
