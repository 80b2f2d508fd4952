//! The GraphQL schema: queries, mutations and subscriptions.
//!
//! Resolvers turn their arguments into domain types (refusing bad input
//! with `BAD_USER_INPUT`), call the [`Dispatcher`], and wrap what comes back
//! in the output types of [`types`]. Transport (HTTP, WebSocket) is glue in
//! `crate::http`; this module does not know how a request arrived.

mod codes;
mod mutation;
mod query;
mod subscription;
pub mod types;

use async_graphql::{Context, SDLExportOptions, Schema};

pub use mutation::Mutation;
pub use query::Query;
pub use subscription::SubscriptionRoot;

use crate::dispatch::Dispatcher;

/// The service's schema.
pub type TrackingSchema = Schema<Query, Mutation, SubscriptionRoot>;

/// Builds the schema around a dispatcher.
pub fn schema(dispatcher: Dispatcher) -> TrackingSchema {
    Schema::build(Query, Mutation, SubscriptionRoot)
        .data(dispatcher)
        .extension(codes::DefaultErrorCode)
        .finish()
}

/// The schema in SDL, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(Query, Mutation, SubscriptionRoot)
        .finish()
        .sdl_with_options(SDLExportOptions::new())
}

fn dispatcher<'c>(ctx: &Context<'c>) -> async_graphql::Result<&'c Dispatcher> {
    ctx.data::<Dispatcher>()
}
