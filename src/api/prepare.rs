//! What is known of a request before it runs: its parsed document (cached
//! by query text), what kind of operation it selects, and the label its
//! metrics are counted under.
//!
//! Clients send the same few documents over and over (a driver app sends one
//! `updateLocation` text with new variables every few seconds), and parsing
//! is a large share of a small mutation's cost, so parsed documents are
//! cached. The cache is bounded: past its size it starts afresh, so hostile
//! clients sending endless distinct documents cost only what parsing always
//! cost.
//!
//! Metric labels come from a fixed set: the root fields the schema defines
//! (`updateLocation`, `rideStatus`, …), or `other`. An operation's name is
//! the client's text and never becomes a label.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, OnceLock, PoisonError},
};

use async_graphql::{
    parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet},
    Request,
};

/// Documents kept at most.
const CAPACITY: usize = 256;
/// Longer documents are parsed every time.
const MAX_CACHED_BYTES: usize = 4096;
/// How deep fragments are followed to find an operation's first field.
const FRAGMENT_DEPTH: usize = 4;

/// The label of an operation whose root field is not one of the schema's.
pub const OTHER: &str = "other";

/// What an operation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Query,
    Mutation,
    Subscription,
    /// The document does not parse, or names no operation it holds:
    /// async-graphql reports why when it runs.
    Unknown,
}

/// The metric label of a request, kept in its data for the extension that
/// counts operations.
#[derive(Debug, Clone, Copy)]
pub struct OperationLabel(pub &'static str);

/// A request with its document attached, and what it is.
pub struct Prepared {
    pub request: Request,
    pub kind: Kind,
    pub label: &'static str,
}

/// Parsed documents by query text.
#[derive(Default)]
pub struct Documents {
    by_text: Mutex<HashMap<String, ExecutableDocument>>,
}

impl Documents {
    /// Attaches the parsed document and the operation's label to a request.
    pub fn prepare(&self, mut request: Request) -> Prepared {
        let (kind, label) = match self.parse(&request.query) {
            Some(document) => {
                let described = describe(&document, request.operation_name.as_deref());
                request.set_parsed_query(document);
                described
            }
            // A document that does not parse is left to async-graphql,
            // which reports the error.
            None => (Kind::Unknown, OTHER),
        };
        Prepared {
            request: request.data(OperationLabel(label)),
            kind,
            label,
        }
    }

    fn parse(&self, query: &str) -> Option<ExecutableDocument> {
        let cacheable = query.len() <= MAX_CACHED_BYTES;
        if cacheable {
            let cached = self
                .by_text
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(query)
                .cloned();
            if cached.is_some() {
                return cached;
            }
        }
        let document = async_graphql::parser::parse_query(query).ok()?;
        if cacheable {
            let mut by_text = self.by_text.lock().unwrap_or_else(PoisonError::into_inner);
            if by_text.len() >= CAPACITY {
                by_text.clear();
            }
            by_text.insert(query.to_owned(), document.clone());
        }
        Some(document)
    }
}

/// The kind and label of the operation a request selects.
fn describe(document: &ExecutableDocument, name: Option<&str>) -> (Kind, &'static str) {
    let operation = document
        .operations
        .iter()
        .find(|(n, _)| name.is_none() || n.map(|n| n.as_str()) == name);
    let Some((_, operation)) = operation else {
        return (Kind::Unknown, OTHER);
    };
    let kind = match operation.node.ty {
        OperationType::Query => Kind::Query,
        OperationType::Mutation => Kind::Mutation,
        OperationType::Subscription => Kind::Subscription,
    };
    let label = first_field(document, &operation.node.selection_set.node, FRAGMENT_DEPTH)
        .map(label_for)
        .unwrap_or(OTHER);
    (kind, label)
}

/// The name of the first field an operation selects, through fragments.
fn first_field<'d>(
    document: &'d ExecutableDocument,
    set: &'d SelectionSet,
    depth: usize,
) -> Option<&'d str> {
    set.items.iter().find_map(|item| match &item.node {
        Selection::Field(field) => Some(field.node.name.node.as_str()),
        Selection::InlineFragment(fragment) if depth > 0 => {
            first_field(document, &fragment.node.selection_set.node, depth - 1)
        }
        Selection::FragmentSpread(spread) if depth > 0 => document
            .fragments
            .get(&spread.node.fragment_name.node)
            .and_then(|f| first_field(document, &f.node.selection_set.node, depth - 1)),
        _ => None,
    })
}

/// The label for a root field: its name when the schema defines it.
pub fn label_for(field: &str) -> &'static str {
    root_fields()
        .iter()
        .find(|known| **known == field)
        .copied()
        .unwrap_or(OTHER)
}

/// Every root field of the schema, plus the introspection fields: the only
/// operation labels there can be. Read once from the schema itself.
pub fn root_fields() -> &'static [&'static str] {
    static FIELDS: OnceLock<Vec<&'static str>> = OnceLock::new();
    FIELDS.get_or_init(|| {
        let schema = async_graphql::Schema::build(
            super::Query,
            super::Mutation,
            super::SubscriptionRoot,
        )
        .finish();
        let response = futures_util::FutureExt::now_or_never(schema.execute(
            "{ __schema { queryType { fields { name } } mutationType { fields { name } } subscriptionType { fields { name } } } }",
        ));
        let mut names: Vec<&'static str> = vec!["__schema", "__type", "__typename"];
        if let Some(response) = response {
            let json = response.data.into_json().unwrap_or_default();
            for root in ["queryType", "mutationType", "subscriptionType"] {
                for field in json["__schema"][root]["fields"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                {
                    if let Some(name) = field["name"].as_str() {
                        // Leaked once per process: the schema's own names.
                        names.push(Box::leak(name.to_owned().into_boxed_str()));
                    }
                }
            }
        }
        names
    })
}

/// Shared by everything that prepares requests.
pub type SharedDocuments = Arc<Documents>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_come_from_the_schema_never_from_the_client() {
        let documents = Documents::default();
        let prepared = documents.prepare(Request::new(
            "mutation AnyNameAtAll { updateLocation(driverId: \"d\", lat: 0, lng: 0) { id } }",
        ));
        assert_eq!(prepared.kind, Kind::Mutation);
        assert_eq!(prepared.label, "updateLocation");
        let aliased = documents.prepare(Request::new(
            "query Mine { mine: nearbyDrivers(lat: 0, lng: 0) { distanceKm } }",
        ));
        assert_eq!(aliased.label, "nearbyDrivers");
        let via_fragment = documents.prepare(Request::new(
            "subscription { ...F } fragment F on Subscription { rideStatus(rideId: \"1\") { id } }",
        ));
        assert_eq!(via_fragment.kind, Kind::Subscription);
        assert_eq!(via_fragment.label, "rideStatus");
        assert_eq!(documents.prepare(Request::new("{ nope }")).label, OTHER);
        assert_eq!(
            documents.prepare(Request::new("{ broken")).kind,
            Kind::Unknown
        );
        assert!(root_fields().contains(&"requestDriver"));
        assert!(root_fields().contains(&"fleet"));
    }
}
