//! A typed Rust client for the `tracking` service's GraphQL API.
//!
//! Queries and mutations go over HTTP (`POST /graphql`), subscriptions over
//! a WebSocket (`/ws`, `graphql-transport-ws`, or the legacy `graphql-ws`
//! for servers that only speak that), with a bearer token when the service
//! verifies them.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tracking_client::Error> {
//! use tracking_client::Client;
//!
//! let client = Client::new("http://127.0.0.1:8000")?.with_token("eyJ…");
//! client.update_location("driver-7", -33.44091, -70.6301).await?;
//! let ride = client.request_driver("ana", -33.44262, -70.63054).await?;
//! let mut updates = client.ride_status(&ride.id).await?;
//! while let Some(ride) = updates.next().await? {
//!     println!("{} is {:?}", ride.id, ride.status);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! A driver app follows its own feed and answers what it is offered:
//!
//! ```no_run
//! # async fn demo(client: tracking_client::Client) -> Result<(), tracking_client::Error> {
//! use tracking_client::FeedKind;
//!
//! let mut feed = client.driver_feed("driver-7").await?;
//! while let Some(event) = feed.next().await? {
//!     if event.kind == FeedKind::Offer {
//!         if let Some(ride) = &event.ride {
//!             client.accept_offer(&ride.id).await?;
//!         }
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Everything the typed methods do is available raw too: [`Client::execute`]
//! for any document over HTTP, [`Client::subscribe`] for any subscription,
//! with the answers as JSON.

pub mod documents;
mod error;
mod http;
mod operations;
mod types;
mod ws;

pub use error::{Error, GraphQLError, Result};
pub use http::Client;
pub use types::{
    Driver, DriverStatus, FeedEvent, FeedKind, FleetEvent, FleetEventKind, Location, LocationBatch,
    NearbyDriver, Offer, OfferEndReason, Report, Ride, RideStatus,
};
pub use ws::{Event, Protocol, Socket, Subscription, Updates};
