//! Every validation rule of the GraphQL spec (async-graphql's
//! `ValidationMode::Strict`), run once per document text rather than once
//! per request.
//!
//! Whether a document is valid does not depend on the values of its
//! variables, only on their declared types, which are part of the text.
//! So the rules run against the document alone, on a schema of their own
//! that stops right after validation, and the outcome is cached with the
//! parsed document ([`super::Gate`]). The schema that runs requests skips
//! the rules (`ValidationMode::Fast`) but still computes depth and
//! complexity per request, with the request's own variables (a list's cost
//! depends on its length). The variables' values are checked per request
//! by [`super::variables`].

use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::{
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextValidation},
    parser::types::{DocumentOperations, ExecutableDocument, OperationDefinition},
    Request, Schema, ServerError, ValidationResult, Variables,
};
use futures_util::FutureExt;

use super::variables::placeholders;
use crate::api::{Mutation, Query, SubscriptionRoot};

/// The outcome of validating one document.
pub type Outcome = Result<(), Vec<ServerError>>;

/// Runs the rules on documents.
pub struct Validator {
    schema: Schema<Query, Mutation, SubscriptionRoot>,
}

impl Default for Validator {
    fn default() -> Self {
        Self {
            schema: Schema::build(Query, Mutation, SubscriptionRoot)
                .validation_mode(async_graphql::ValidationMode::Strict)
                .extension(StopAfterValidation)
                .finish(),
        }
    }
}

impl Validator {
    /// Every rule's verdict on `document` (whose text is `text`).
    pub fn validate(&self, text: &str, document: &ExecutableDocument) -> Outcome {
        let slot = Slot::default();
        let mut request = Request::new(text)
            .variables(document_placeholders(document))
            .data(slot.clone());
        request.set_parsed_query(document.clone());
        // Nothing awaits: validation is synchronous work behind async hooks.
        let response = self.schema.execute(request).now_or_never();
        let verdict = slot.0.lock().unwrap_or_else(PoisonError::into_inner).take();
        match verdict {
            Some(outcome) => outcome,
            // Refused before the rules ran (the document nests too deep).
            None => Err(match response {
                Some(response) if !response.errors.is_empty() => response.errors,
                _ => vec![ServerError::new(
                    "the document could not be validated",
                    None,
                )],
            }),
        }
    }
}

/// Placeholders for every operation of a document: a variable gets one only
/// when every operation declaring it would give it one.
fn document_placeholders(document: &ExecutableDocument) -> Variables {
    let operations: Vec<&OperationDefinition> = match &document.operations {
        DocumentOperations::Single(op) => vec![&op.node],
        DocumentOperations::Multiple(ops) => ops.values().map(|op| &op.node).collect(),
    };
    let mut merged = Variables::default();
    let each: Vec<Variables> = operations.iter().map(|op| placeholders(op)).collect();
    for (i, vars) in each.iter().enumerate() {
        for (name, value) in vars.iter() {
            let everywhere = operations.iter().enumerate().all(|(j, op)| {
                j == i
                    || each[j].contains_key(name)
                    || !op
                        .variable_definitions
                        .iter()
                        .any(|d| d.node.name.node == *name)
            });
            if everywhere {
                merged.insert(name.clone(), value.clone());
            }
        }
    }
    merged
}

/// Where the rules' verdict is left for [`Validator::validate`].
#[derive(Clone, Default)]
struct Slot(Arc<Mutex<Option<Outcome>>>);

/// Keeps the rules' verdict and stops the request there: nothing is
/// selected or executed on the validating schema.
struct StopAfterValidation;

impl ExtensionFactory for StopAfterValidation {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(StopAfterValidation)
    }
}

#[async_trait::async_trait]
impl Extension for StopAfterValidation {
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let outcome = next.run(ctx).await.map(|_| ());
        if let Some(slot) = ctx.data_opt::<Slot>() {
            *slot.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(outcome);
        }
        Err(Vec::new())
    }
}
