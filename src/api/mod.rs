//! The GraphQL schema: queries, mutations and subscriptions.
//!
//! Resolvers ([`query`], [`mutation`], [`subscription`]) turn their
//! arguments into domain types (refusing bad input with `BAD_USER_INPUT`),
//! call the [`Dispatcher`](crate::dispatch::Dispatcher) (reached through
//! [`context`]), and wrap what comes back in the output types of [`types`].
//! Transport (HTTP, WebSocket) is glue in `crate::http`; this module does not
//! know how a request arrived. What a transport does before running a
//! request (parse it once, learn its kind and metric label) is [`prepare`];
//! what one request may cost is [`limits`] and the `complexity` attributes
//! of the resolvers; the schema itself is built in [`schema`].

mod context;
mod costs;
mod errors;
pub mod limits;
mod loaders;
mod mutation;
pub mod prepare;
mod query;
mod schema;
mod subscription;
mod traces;
pub mod types;

pub use errors::coded;
pub use mutation::Mutation;
pub use query::Query;
pub use schema::{sdl, Limits, Schemas, TrackingSchema, INTROSPECTION_DEPTH};
pub use subscription::SubscriptionRoot;
