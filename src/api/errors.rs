//! How errors look in GraphQL: every one has a machine-readable
//! `extensions.code`.
//!
//! The domain's [`Error`] becomes a GraphQL error here, and only here, with
//! its code (and, for a rider at the limit, the `rideId` of one of its
//! rides). The rest come from async-graphql itself before any resolver
//! runs: a document that does not parse, fails validation, names an unknown
//! operation or passes variables of the wrong type. All of those are the
//! client's input, so they get `BAD_USER_INPUT`.

use std::sync::Arc;

use async_graphql::{
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextRequest, NextSubscribe},
    futures_util::stream::BoxStream,
    ErrorExtensions, Response, ServerError,
};
use futures_util::StreamExt;

use crate::domain::error::{codes::BAD_USER_INPUT, Error};

impl ErrorExtensions for Error {
    fn extend(&self) -> async_graphql::Error {
        async_graphql::Error::new(self.to_string()).extend_with(|_, e| {
            e.set("code", self.code());
            if let Self::ActiveRide { ride, .. } = self {
                e.set("rideId", ride.as_str());
            }
        })
    }
}

/// An error raised outside any resolver (by the gate, a persisted query
/// lookup, a stream's transport), with its code.
pub fn coded(code: &'static str, message: impl Into<String>) -> ServerError {
    let mut error = ServerError::new(message, None);
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", code);
    error
}

pub(super) struct DefaultErrorCode;

impl ExtensionFactory for DefaultErrorCode {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(DefaultErrorCode)
    }
}

fn with_codes(mut response: Response) -> Response {
    for error in &mut response.errors {
        ensure_code(error);
    }
    response
}

fn ensure_code(error: &mut ServerError) {
    let extensions = error.extensions.get_or_insert_with(Default::default);
    if extensions.get("code").is_none() {
        extensions.set("code", BAD_USER_INPUT);
    }
}

#[async_trait::async_trait]
impl Extension for DefaultErrorCode {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        with_codes(next.run(ctx).await)
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        next.run(ctx, stream).map(with_codes).boxed()
    }
}
