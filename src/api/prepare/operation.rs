//! What a request's document says about the operation it runs: which
//! operation it selects, the first field that operation selects (its metric
//! label), and whether it reads nothing but the schema.

use std::sync::OnceLock;

use async_graphql::{
    parser::types::{
        DocumentOperations, ExecutableDocument, OperationDefinition, Selection, SelectionSet,
    },
    Positioned, ServerError,
};

/// The label of an operation whose root field is not one of the schema's.
pub const OTHER: &str = "other";

/// The operation a request selects: the one it names, or the only one.
pub(super) fn select<'d>(
    document: &'d ExecutableDocument,
    name: Option<&str>,
) -> Result<&'d OperationDefinition, ServerError> {
    let found: Option<&Positioned<OperationDefinition>> = match (&document.operations, name) {
        (DocumentOperations::Single(op), None) => Some(op),
        (DocumentOperations::Single(_), Some(_)) => None,
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next(),
        (DocumentOperations::Multiple(_), None) => {
            return Err(ServerError::new(
                "the document holds several operations: name one in operationName",
                None,
            ))
        }
    };
    found.map(|op| &op.node).ok_or_else(|| {
        ServerError::new(
            format!(
                "the document has no operation named {:?}",
                name.unwrap_or_default()
            ),
            None,
        )
    })
}

/// The name of the first field an operation selects, through fragments.
pub(super) fn first_field<'d>(
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

/// Whether every field a selection selects at its root is an introspection
/// field, through fragments (a fragment nested too deep to follow counts
/// as not).
pub(super) fn only_introspection(
    document: &ExecutableDocument,
    set: &SelectionSet,
    depth: usize,
) -> bool {
    set.items.iter().all(|item| match &item.node {
        Selection::Field(field) => field.node.name.node.starts_with("__"),
        Selection::InlineFragment(fragment) => {
            depth > 0 && only_introspection(document, &fragment.node.selection_set.node, depth - 1)
        }
        Selection::FragmentSpread(spread) => {
            depth > 0
                && document
                    .fragments
                    .get(&spread.node.fragment_name.node)
                    .is_some_and(|f| {
                        only_introspection(document, &f.node.selection_set.node, depth - 1)
                    })
        }
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
            crate::api::Query,
            crate::api::Mutation,
            crate::api::SubscriptionRoot,
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
