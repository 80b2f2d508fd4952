//! Limits on what one request may make the service do, and the count of
//! every operation by label and outcome for the metrics.
//!
//! Depth and complexity limits are async-graphql's own (set on the schema;
//! list fields multiply their children by their `limit`, and each mutation
//! has a cost: see the `complexity` attributes). This adds what it lacks:
//! a cap on the query text, which bounds the work the parser does on
//! hostile input, and a complexity budget shared by the operations of one
//! batch, so a batch of ten costs what one operation may; and the cost of
//! introspection, which async-graphql counts once per field whatever the
//! field returns: the gate counts what it returns
//! ([`super::prepare::introspection`]) and it is added here.

use std::sync::Arc;

use async_graphql::{
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest, NextValidation,
    },
    Request, Response, ServerError, ServerResult, ValidationResult,
};

use super::prepare::introspection::IntrospectionCost;
use crate::domain::error::codes;

/// The complexity one operation of a batch may have: the request's whole
/// budget divided among its operations.
#[derive(Debug, Clone, Copy)]
pub struct ComplexityShare(pub usize);

#[derive(Clone, Copy)]
pub(super) struct QueryLimits {
    max_query_bytes: usize,
    /// The complexity an operation on this schema may have, introspection
    /// included.
    max_complexity: usize,
}

impl QueryLimits {
    pub(super) fn new(max_query_bytes: usize, max_complexity: usize) -> Self {
        Self {
            max_query_bytes,
            max_complexity,
        }
    }
}

impl ExtensionFactory for QueryLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(*self)
    }
}

/// The outcome label of a response: `ok`, or its first error's code when
/// that is one of ours (anything else is `error`).
pub fn outcome(response: &Response) -> &'static str {
    let Some(first) = response.errors.first() else {
        return "ok";
    };
    let code = first
        .extensions
        .as_ref()
        .and_then(|e| e.get("code"))
        .and_then(|v| match v {
            async_graphql::Value::String(s) => Some(s.as_str()),
            _ => None,
        });
    codes::ALL
        .iter()
        .find(|known| Some(**known) == code)
        .copied()
        .unwrap_or("error")
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

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        let introspection = ctx
            .data_opt::<IntrospectionCost>()
            .map_or(0, |IntrospectionCost(cost)| *cost);
        let complexity = result.complexity.saturating_add(introspection);
        if complexity > self.max_complexity {
            return Err(vec![ServerError::new(
                format!(
                    "Query is too complex: {complexity} (introspection {introspection}) where \
                     an operation may have {}",
                    self.max_complexity
                ),
                None,
            )]);
        }
        if let Some(ComplexityShare(share)) = ctx.data_opt::<ComplexityShare>() {
            if complexity > *share {
                return Err(vec![ServerError::new(
                    format!(
                        "Query is too complex: {complexity} where each operation of this batch may have {share}",
                    ),
                    None,
                )]);
            }
        }
        Ok(result)
    }
}

/// Counts one operation under its label (from [`super::prepare`]) and its
/// outcome. The transports call this for every operation they run, refused
/// ones included.
pub fn record_operation(label: &'static str, response: &Response) {
    record_outcome(label, outcome(response));
}

/// Counts one operation whose response was already reduced to its
/// [`outcome`] (a result serialised once for several subscribers).
pub fn record_outcome(label: &'static str, outcome: &'static str) {
    metrics::counter!(
        crate::telemetry::GRAPHQL_OPERATIONS,
        "operation" => label,
        "outcome" => outcome
    )
    .increment(1);
}
