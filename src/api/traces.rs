//! Resolver spans: one `info` span per root field an operation resolves.
//!
//! Each Query and Mutation root field runs inside an `info` span,
//! `graphql.resolve`, named by its root type and field
//! (`Mutation.requestDriver`), with the operation's name; a Subscription
//! root field's span (one per event, per subscriber) is `debug`, so a busy
//! stream costs nothing at the default level. Nested
//! fields are not spanned (they read what the root resolver fetched), and
//! argument values are never recorded: ids are on the dispatcher's spans
//! below, and tokens must not be anywhere.

use std::sync::{Arc, OnceLock};

use async_graphql::{
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextPrepareRequest,
        NextResolve, ResolveInfo,
    },
    Request, Response, ServerResult, Value,
};
use tracing::Instrument;

/// The extension's factory: one [`Spans`] per request.
pub(super) struct ResolverSpans;

impl ExtensionFactory for ResolverSpans {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Spans::default())
    }
}

/// One request's resolver spans.
#[derive(Default)]
struct Spans {
    /// The operation's name, once execution starts (empty when unnamed).
    operation: OnceLock<String>,
}

#[async_trait::async_trait]
impl Extension for Spans {
    /// Subscriptions never reach `execute`: their operation's name is
    /// taken here, as the request arrives.
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        if let Some(name) = &request.operation_name {
            let _ = self.operation.set(name.clone());
        }
        next.run(ctx, request).await
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let _ = self
            .operation
            .set(operation_name.unwrap_or_default().to_owned());
        next.run(ctx, operation_name).await
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.path_node.parent.is_some() || info.is_for_introspection {
            return next.run(ctx, info).await;
        }
        // Two fields only: the span is on the ingest path (see
        // docs/benchmarks.md, traces' cost).
        let operation = self.operation.get().map(String::as_str).unwrap_or_default();
        let (parent, field) = (info.parent_type, info.name);
        let span = if parent == "Subscription" {
            tracing::debug_span!("graphql.resolve", otel.name = %format_args!("{parent}.{field}"), operation)
        } else {
            tracing::info_span!("graphql.resolve", otel.name = %format_args!("{parent}.{field}"), operation)
        };
        next.run(ctx, info).instrument(span).await
    }
}
