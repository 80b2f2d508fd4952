//! `tracking`: real-time driver tracking and dispatch over GraphQL.
//!
//! A request travels down these modules, each calling only the next:
//!
//! - [`http`]: axum routes: GraphQL over HTTP and WebSocket, GraphiQL,
//!   health, and the seed's REST adapters;
//! - [`api`]: the GraphQL schema; turns arguments into [`domain`] types;
//! - [`dispatch`]: a ride's life: the search task per request, wake-ups,
//!   expiry, the ride event stream;
//! - [`store`]: where the fleet lives (in memory, or Redis), with the atomic
//!   match / cancel / complete / expire operations and the event hub.
//!
//! Under them all, [`domain`] holds the types and the error vocabulary;
//! [`startup`] puts the layers together into an [`Application`] on a
//! listener; `main` only parses the [`Config`] and calls [`run`].

pub mod api;
pub mod auth;
pub mod dispatch;
pub mod domain;
pub mod http;
pub mod roads;
pub mod simulate;
pub mod startup;
pub mod store;
pub mod telemetry;

pub use startup::{config, run, shutdown_signal, Application, Config, StartError};
