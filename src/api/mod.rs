//! The GraphQL schema: queries, mutations and subscriptions.
//!
//! Resolvers turn their arguments into domain types (refusing bad input
//! with `BAD_USER_INPUT`), call the [`Dispatcher`], and wrap what comes back
//! in the output types of [`types`]. Transport (HTTP, WebSocket) is glue in
//! `crate::http`; this module does not know how a request arrived. What a
//! transport does before running a request (parse it once, learn its kind
//! and metric label) is [`prepare`]; what one request may cost is
//! [`limits`] and the `complexity` attributes of the resolvers.

pub mod areas;
mod costs;
mod errors;
pub use errors::coded;
pub mod limits;
mod loaders;
mod mutation;
mod offers;
pub mod prepare;
mod query;
mod subscription;
pub mod types;

use async_graphql::{Context, SDLExportOptions, Schema};

pub use mutation::Mutation;
pub use query::Query;
pub use subscription::SubscriptionRoot;

use crate::{auth::Caller, dispatch::Dispatcher};

/// The service's schema.
pub type TrackingSchema = Schema<Query, Mutation, SubscriptionRoot>;

/// Limits on what one GraphQL request may ask.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Deepest selection nesting allowed.
    pub max_depth: usize,
    /// Highest complexity (roughly, fields resolved) allowed.
    pub max_complexity: usize,
    /// Longest query text, in bytes.
    pub max_query_bytes: usize,
    /// Whether `__schema`/`__type` introspection is answered.
    pub introspection: bool,
}

/// How deep an introspection-only operation may nest: graphql-js's
/// introspection query (GraphiQL's, Apollo's tooling's) nests 16 deep for
/// its nine-level `ofType` chain. Such an operation reads the schema and
/// nothing else, so its depth costs what the schema's size allows.
pub const INTROSPECTION_DEPTH: usize = 20;

/// The schemas requests run on: one for everything, and one for
/// introspection-only operations, with room for their depth and for the
/// cost of GraphiQL's introspection (what introspection returns counts
/// against the budget: `prepare::introspection`).
#[derive(Clone)]
pub struct Schemas {
    pub main: TrackingSchema,
    pub introspection: TrackingSchema,
}

impl Schemas {
    pub fn new(dispatcher: Dispatcher, limits: Limits) -> Self {
        Self {
            main: schema(dispatcher.clone(), limits, limits.max_complexity),
            introspection: schema(
                dispatcher,
                Limits {
                    max_depth: limits.max_depth.max(INTROSPECTION_DEPTH),
                    ..limits
                },
                prepare::introspection::budget(limits.max_complexity),
            ),
        }
    }

    /// The schema a prepared request runs on.
    pub fn of(&self, prepared: &prepare::Prepared) -> &TrackingSchema {
        if prepared.introspection {
            &self.introspection
        } else {
            &self.main
        }
    }
}

/// Builds the schema around a dispatcher; an operation on it may cost
/// `budget`, introspection included (see [`limits`]).
fn schema(dispatcher: Dispatcher, limits: Limits, budget: usize) -> TrackingSchema {
    let mut builder = Schema::build(Query, Mutation, SubscriptionRoot)
        .data(loaders::drivers(dispatcher.clone()))
        .data(dispatcher)
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        .extension(limits::QueryLimits::new(limits.max_query_bytes, budget))
        .extension(errors::DefaultErrorCode)
        .validation_mode(async_graphql::ValidationMode::Fast);
    if !limits.introspection {
        builder = builder.disable_introspection();
    }
    builder.finish()
}

/// The schema in SDL, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(Query, Mutation, SubscriptionRoot)
        .finish()
        .sdl_with_options(SDLExportOptions::new())
}

/// Who sent the request being resolved (the transport puts it there);
/// a request without one is anonymous.
fn caller<'c>(ctx: &Context<'c>) -> &'c Caller {
    ctx.data_opt::<Caller>().unwrap_or(&Caller::Anonymous)
}

fn dispatcher<'c>(ctx: &Context<'c>) -> async_graphql::Result<&'c Dispatcher> {
    ctx.data::<Dispatcher>()
}
