//! Following one ride: its state now, then every status change, no gap.
//!
//! The stream subscribes to the ride's events *before* it reads the ride, so
//! a change that lands between the two is still delivered; revisions drop the
//! events the snapshot already covers. A subscriber too slow for the
//! broadcast channel does not lose its stream: it re-reads the ride and goes
//! on from there. The stream ends after a terminal status.

use std::sync::Arc;

use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;
use tracing::warn;

use crate::{
    domain::{Ride, RideId},
    error::{Error, Result},
    store::Store,
};

pub(super) async fn ride_changes(
    store: Arc<dyn Store>,
    id: &RideId,
) -> Result<impl Stream<Item = Arc<Ride>> + Send + 'static> {
    let mut events = store.events().subscribe(id);
    let snapshot = store
        .ride(id)
        .await?
        .ok_or_else(|| Error::not_found(format!("no ride with id {id}")))?;
    let id = id.clone();
    Ok(async_stream::stream! {
        let mut seen = snapshot.revision;
        let mut done = snapshot.status.is_terminal();
        yield snapshot;
        while !done {
            let ride = match events.recv().await {
                Ok(ride) => ride,
                Err(RecvError::Lagged(missed)) => {
                    warn!(ride_id = %id, missed, "subscriber fell behind; re-reading the ride");
                    match store.ride(&id).await {
                        Ok(Some(ride)) => ride,
                        Ok(None) => break,
                        Err(error) => {
                            warn!(ride_id = %id, %error, "could not re-read the ride");
                            continue;
                        }
                    }
                }
                Err(RecvError::Closed) => break,
            };
            if ride.revision <= seen {
                continue;
            }
            seen = ride.revision;
            done = ride.status.is_terminal();
            yield ride;
        }
    })
}
