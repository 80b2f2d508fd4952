//! A cache of parsed GraphQL documents, keyed by query text.
//!
//! Clients send the same few documents over and over (a driver app sends
//! one `updateLocation` text with new variables every few seconds), and
//! parsing is a large share of a small mutation's cost. Validation still
//! runs on every request (it depends on the variables). The cache is
//! bounded: past its size it starts afresh, so hostile clients sending
//! endless distinct documents cost only what parsing always cost.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
};

use async_graphql::{
    parser::types::{ExecutableDocument, OperationType},
    BatchRequest, Request,
};

/// Documents kept at most.
const CAPACITY: usize = 256;
/// Longer documents are parsed every time.
const MAX_CACHED_BYTES: usize = 4096;

/// Parsed documents by query text.
#[derive(Default)]
pub struct ParsedQueries {
    by_text: Mutex<HashMap<String, ExecutableDocument>>,
}

impl ParsedQueries {
    /// Attaches the parsed document to each request of the batch.
    pub fn attach(&self, batch: BatchRequest) -> BatchRequest {
        match batch {
            BatchRequest::Single(request) => BatchRequest::Single(self.attach_one(request)),
            BatchRequest::Batch(requests) => {
                BatchRequest::Batch(requests.into_iter().map(|r| self.attach_one(r)).collect())
            }
        }
    }

    /// Attaches the parsed document to one request, and tells whether the
    /// operation it runs is a subscription.
    pub fn prepare(&self, request: Request) -> (Request, bool) {
        let mut request = self.attach_one(request);
        let name = request.operation_name.clone();
        let name = name.as_deref();
        let subscription = match request.parsed_query() {
            Ok(document) => document
                .operations
                .iter()
                .find(|(n, _)| name.is_none() || n.map(|n| n.as_str()) == name)
                .is_some_and(|(_, op)| op.node.ty == OperationType::Subscription),
            Err(_) => false,
        };
        (request, subscription)
    }

    fn attach_one(&self, mut request: Request) -> Request {
        if request.query.len() > MAX_CACHED_BYTES {
            return request;
        }
        let cached = self
            .by_text
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&request.query)
            .cloned();
        let document = match cached {
            Some(document) => document,
            None => {
                // A document that does not parse is left to async-graphql,
                // which reports the error.
                let Ok(document) = async_graphql::parser::parse_query(&request.query) else {
                    return request;
                };
                let mut by_text = self.by_text.lock().unwrap_or_else(PoisonError::into_inner);
                if by_text.len() >= CAPACITY {
                    by_text.clear();
                }
                by_text.insert(request.query.clone(), document.clone());
                document
            }
        };
        request.set_parsed_query(document);
        request
    }
}
