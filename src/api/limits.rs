//! Refuses oversized query texts before they are parsed, and counts every
//! operation by name and outcome for the metrics.
//!
//! Depth and complexity limits are async-graphql's own (set on the schema);
//! this adds what it lacks: a cap on the query text, which bounds the work
//! the parser does on hostile input.

use std::sync::Arc;

use async_graphql::{
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute, NextPrepareRequest},
    Request, Response, ServerError, ServerResult,
};

pub(super) struct QueryLimits {
    max_query_bytes: usize,
}

impl QueryLimits {
    pub(super) fn new(max_query_bytes: usize) -> Self {
        Self { max_query_bytes }
    }
}

impl ExtensionFactory for QueryLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Self {
            max_query_bytes: self.max_query_bytes,
        })
    }
}

#[async_trait::async_trait]
impl Extension for QueryLimits {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        if request.query.len() > self.max_query_bytes {
            // Its code, BAD_USER_INPUT, comes from the error-code extension.
            return Err(ServerError::new(
                format!("query text is longer than {} bytes", self.max_query_bytes),
                None,
            ));
        }
        next.run(ctx, request).await
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let response = next.run(ctx, operation_name).await;
        let outcome = if response.is_ok() { "ok" } else { "error" };
        metrics::counter!(
            crate::telemetry::GRAPHQL_OPERATIONS,
            "operation" => operation_name.unwrap_or("anonymous").to_owned(),
            "outcome" => outcome
        )
        .increment(1);
        response
    }
}
