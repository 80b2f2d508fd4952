//! Live streams.

use async_graphql::{Context, ResultExt, Subscription, ID};
use futures_util::{Stream, StreamExt};

use super::{caller, dispatcher, types::Ride};
use crate::domain::RideId;

#[derive(Default)]
pub struct SubscriptionRoot;

/// Live streams of rides.
#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// The ride as it is now, then the ride again at every status change;
    /// completes after CANCELLED, EXPIRED or COMPLETED.
    async fn ride_status(
        &self,
        ctx: &Context<'_>,
        ride_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = Ride>> {
        let id = RideId::parse(&ride_id).extend()?;
        let changes = dispatcher(ctx)?
            .watch_ride(caller(ctx), &id)
            .await
            .extend()?;
        Ok(changes.map(Ride))
    }
}
