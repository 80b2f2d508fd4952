//! Dispatch: where a ride's life is decided.
//!
//! The [`Dispatcher`] ([`dispatcher`]) is what the GraphQL resolvers and the
//! REST adapters call. It reads the clock, asks the store to change state
//! (drivers in [`drivers`], rides, offers and trips in [`rides`]), and runs
//! one search task per SEARCHING ride ([`search`]), which offers the ride or
//! assigns it. It wakes those tasks early when something they wait for
//! happens: a driver becoming available near their pickup ([`wakeup`]), or
//! their own cancellation. Who may do what is decided here too
//! ([`access`]), so GraphQL and the REST adapters enforce the same rules, as
//! are the live streams ([`streams`] over [`live`]: a ride, its driver, an
//! area) and the per-driver update limit ([`rate`]). Its background tasks
//! (wake-ups, lease renewal and adoption, sweeping) are in [`background`];
//! its settings, and each area's rules over them, in [`settings`]; how a
//! search ranks its candidates by their time to the pickup, in [`ranking`];
//! batched matching's solver (a window's rides and drivers assigned
//! together), in [`batch`]; an area's event log read back, followed live
//! and its dead letters redelivered, in [`replay`]; reports from phone apps'
//! own protocols (OwnTracks, Traccar Client), in [`devices`].
//! It never builds a storage command; it never knows about GraphQL.

pub mod access;
mod background;
pub mod batch;
mod batching;
pub mod delivery;
pub mod devices;
mod dispatcher;
mod drivers;
pub mod live;
mod pickup_eta;
pub mod ranking;
pub mod rate;
pub mod replay;
mod rides;
mod search;
mod settings;
mod streams;
pub mod wakeup;

pub use devices::DevicePosition;
pub use dispatcher::Dispatcher;
pub use drivers::MAX_BATCH;
pub use ranking::{AreaRoads, NearbyOrder};
pub use settings::{BatchRules, Settings};
