//! The GraphQL object types, by subject: thin views over the domain types
//! that the resolvers return and take.
//!
//! - [`ride`]: a ride, its status, and the offer waiting for a driver;
//! - [`driver`]: a driver, one found nearby, and what became of a batch of
//!   position reports;
//! - [`area`]: a service area and what it holds now;
//! - [`event`]: an event of an area's log, and a page of them (`events`);
//! - [`fleet`]: the events of a watched area (`fleet`);
//! - [`feed`]: the events of a driver's own feed (`driverFeed`);
//! - [`location`]: a point on Earth;
//! - [`inputs`]: the input objects mutations take.

mod area;
mod driver;
mod event;
mod feed;
mod fleet;
mod inputs;
mod location;
mod ride;

pub use area::{Area, GeoJson};
pub use driver::{
    Driver, DriverStatus, EtaSource, LocationBatch, NearbyDriver, NearbyOrder, RefusedUpdate,
};
pub use event::{Event, EventPage, EventType};
pub use feed::{DriverFeedEvent, DriverFeedKind};
pub use fleet::{FleetEvent, FleetEventKind};
pub use inputs::{LocationInput, LocationUpdate};
pub use location::Location;
pub use ride::{Offer, OfferEndReason, Ride, RideStatus};
