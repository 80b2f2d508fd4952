//! The schema requests run on, built around a dispatcher with the limits of
//! one request, and the SDL checked in at `schema.graphql`.

use async_graphql::{SDLExportOptions, Schema};

use super::{
    errors, limits, loaders, mutation::Mutation, prepare, query::Query,
    subscription::SubscriptionRoot, traces,
};
use crate::dispatch::Dispatcher;

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
        .extension(traces::ResolverSpans)
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
