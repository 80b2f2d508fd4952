//! Introspection, judged before it runs: whether an operation reads the
//! schema (`__schema`, `__type`; it then needs a token, by the rule in
//! `dispatch::access`), and what it costs.
//!
//! async-graphql counts an introspection field once, whatever it returns,
//! so 100 aliases of a schema listing cost 500 and answered 2.68 MB. Here an
//! operation's introspection costs the values it would return, counted on
//! the schema itself (which never changes while the process runs), aliases
//! and fragments included; the limits extension adds that to the
//! operation's complexity (`super::super::limits`). The count stops once
//! past the largest budget, so judging a flood costs no more than a budget.

use std::{collections::HashMap, sync::OnceLock};

use async_graphql::{
    parser::types::{ExecutableDocument, Field, Selection, SelectionSet},
    Variables,
};
use serde_json::Value;

/// How deep fragment spreads are followed; past it, an operation counts as
/// reading the schema and as over any budget (validation has refused
/// cycles already, so only a contrived document gets there).
const FRAGMENT_DEPTH: usize = 16;

/// What the introspection of one operation costs, for the limits extension.
#[derive(Debug, Clone, Copy, Default)]
pub struct IntrospectionCost(pub usize);

/// graphql-js's introspection query with every option on: what GraphiQL
/// and Apollo's tooling send, at most.
const FULL: &str = "query IntrospectionQuery { __schema { description queryType { name } mutationType { name } subscriptionType { name } types { ...FullType } directives { name description isRepeatable locations args(includeDeprecated: true) { ...InputValue } } } } \
fragment FullType on __Type { kind name description specifiedByURL isOneOf fields(includeDeprecated: true) { name description args(includeDeprecated: true) { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason } inputFields(includeDeprecated: true) { ...InputValue } interfaces { ...TypeRef } enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason } possibleTypes { ...TypeRef } } \
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue isDeprecated deprecationReason } \
fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } }";

/// The fields whose values name a type, to be followed to its full record.
const TYPE_REFERENCES: [&str; 7] = [
    "type",
    "ofType",
    "interfaces",
    "possibleTypes",
    "queryType",
    "mutationType",
    "subscriptionType",
];

/// The schema as introspection describes it, every type by name.
struct Described {
    schema: Value,
    types: HashMap<String, Value>,
    /// What [`FULL`] costs.
    full: usize,
}

fn described() -> &'static Described {
    static DESCRIBED: OnceLock<Described> = OnceLock::new();
    DESCRIBED.get_or_init(|| {
        let schema = async_graphql::Schema::build(
            super::super::Query,
            super::super::Mutation,
            super::super::SubscriptionRoot,
        )
        .finish();
        // Nothing in the schema awaits: the introspection completes at once.
        let data = futures_util::FutureExt::now_or_never(schema.execute(FULL))
            .map(|r| r.data.into_json().unwrap_or_default())
            .unwrap_or_default();
        let schema = data["__schema"].clone();
        let types = schema["types"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|t| Some((t["name"].as_str()?.to_owned(), t.clone())))
            .collect();
        let mut described = Described {
            schema,
            types,
            full: 0,
        };
        if let Ok(document) = async_graphql::parser::parse_query(FULL) {
            let mut left = usize::MAX;
            if let Some(operation) = document.operations.iter().next() {
                described.walk_root(
                    &document,
                    &operation.1.node.selection_set.node,
                    &Variables::default(),
                    FRAGMENT_DEPTH,
                    &mut left,
                );
            }
            described.full = usize::MAX - left;
        }
        described
    })
}

/// The complexity an introspection-only operation may have: what the
/// introspection GraphiQL sends costs, twice over, or `max_complexity` if
/// that is more. Everything else has `max_complexity`.
pub fn budget(max_complexity: usize) -> usize {
    max_complexity.max(described().full.saturating_mul(2))
}

/// Whether an operation's selection reads the schema (`__schema` or
/// `__type` at its root, through fragments). `__typename` does not.
pub fn reads_schema(document: &ExecutableDocument, set: &SelectionSet) -> bool {
    reads(document, set, FRAGMENT_DEPTH)
}

fn reads(document: &ExecutableDocument, set: &SelectionSet, depth: usize) -> bool {
    set.items.iter().any(|item| match &item.node {
        Selection::Field(field) => matches!(field.node.name.node.as_str(), "__schema" | "__type"),
        fragment => {
            depth == 0
                || fragment_set(document, fragment).is_some_and(|f| reads(document, f, depth - 1))
        }
    })
}

/// The selection a fragment stands for, inline or spread; `None` for a
/// field, or a spread of a fragment the document does not define.
fn fragment_set<'d>(
    document: &'d ExecutableDocument,
    selection: &'d Selection,
) -> Option<&'d SelectionSet> {
    match selection {
        Selection::Field(_) => None,
        Selection::InlineFragment(fragment) => Some(&fragment.node.selection_set.node),
        Selection::FragmentSpread(spread) => document
            .fragments
            .get(&spread.node.fragment_name.node)
            .map(|f| &f.node.selection_set.node),
    }
}

/// What the introspection in a query's selection returns, in values; the
/// count stops past `cap`.
pub fn cost(
    document: &ExecutableDocument,
    set: &SelectionSet,
    variables: &Variables,
    cap: usize,
) -> usize {
    let mut left = cap.saturating_add(1);
    described().walk_root(document, set, variables, FRAGMENT_DEPTH, &mut left);
    cap.saturating_add(1) - left
}

impl Described {
    /// The root of a query: only its introspection fields are counted here
    /// (the schema's own fields have their complexity).
    fn walk_root(
        &self,
        document: &ExecutableDocument,
        set: &SelectionSet,
        variables: &Variables,
        depth: usize,
        left: &mut usize,
    ) -> bool {
        for item in &set.items {
            let more = match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    match field.name.node.as_str() {
                        "__schema" => self.field(document, field, Some(&self.schema), depth, left),
                        "__type" => {
                            let found =
                                type_name(field, variables).and_then(|n| self.types.get(&n));
                            self.field(document, field, found, depth, left)
                        }
                        _ => true,
                    }
                }
                fragment => {
                    spend_depth(depth, left)
                        && fragment_set(document, fragment).is_none_or(|set| {
                            self.walk_root(document, set, variables, depth - 1, left)
                        })
                }
            };
            if !more {
                return false;
            }
        }
        true
    }

    /// A selection on one introspection object (`at`).
    fn walk(
        &self,
        document: &ExecutableDocument,
        set: &SelectionSet,
        at: &Value,
        depth: usize,
        left: &mut usize,
    ) -> bool {
        for item in &set.items {
            let more = match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let name = field.name.node.as_str();
                    let value = at.get(name).map(|value| match value {
                        Value::Object(_) if TYPE_REFERENCES.contains(&name) => {
                            self.full_type(value)
                        }
                        other => other,
                    });
                    self.field(document, field, value, depth, left)
                }
                fragment => {
                    spend_depth(depth, left)
                        && fragment_set(document, fragment)
                            .is_none_or(|set| self.walk(document, set, at, depth - 1, left))
                }
            };
            if !more {
                return false;
            }
        }
        true
    }

    /// One field: one value, and for a list each item, with what it selects.
    fn field(
        &self,
        document: &ExecutableDocument,
        field: &Field,
        value: Option<&Value>,
        depth: usize,
        left: &mut usize,
    ) -> bool {
        if !spend(left) {
            return false;
        }
        let set = &field.selection_set.node;
        match value {
            Some(Value::Array(items)) => items.iter().all(|item| {
                spend(left) && {
                    let item = match item {
                        Value::Object(_) if TYPE_REFERENCES.contains(&field.name.node.as_str()) => {
                            self.full_type(item)
                        }
                        other => other,
                    };
                    set.items.is_empty() || self.walk(document, set, item, depth, left)
                }
            }),
            Some(object @ Value::Object(_)) if !set.items.is_empty() => {
                self.walk(document, set, object, depth, left)
            }
            _ => true,
        }
    }

    /// A type reference (`{kind, name, ofType}`) as the type's whole record,
    /// when it names one; a wrapper (list, non-null) as itself.
    fn full_type<'v>(&'v self, reference: &'v Value) -> &'v Value {
        reference["name"]
            .as_str()
            .and_then(|name| self.types.get(name))
            .unwrap_or(reference)
    }
}

/// The `name` argument of `__type`, literal or from a variable.
fn type_name(field: &Field, variables: &Variables) -> Option<String> {
    let (_, value) = field.arguments.iter().find(|(n, _)| n.node == "name")?;
    let value = value
        .node
        .clone()
        .into_const_with(|var| variables.get(&var).cloned().ok_or(()))
        .ok()?;
    match value {
        async_graphql::Value::String(name) => Some(name),
        _ => None,
    }
}

/// Takes one value from what is left; `false` once nothing is.
fn spend(left: &mut usize) -> bool {
    match left.checked_sub(1) {
        Some(rest) => {
            *left = rest;
            true
        }
        None => false,
    }
}

/// A fragment followed: free while within [`FRAGMENT_DEPTH`], else the end.
fn spend_depth(depth: usize, left: &mut usize) -> bool {
    if depth == 0 {
        *left = 0;
    }
    depth > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cost_of(query: &str) -> usize {
        let document = async_graphql::parser::parse_query(query).unwrap_or_else(|e| panic!("{e}"));
        let operation = document
            .operations
            .iter()
            .next()
            .map(|(_, op)| op.node.clone());
        let operation = operation.unwrap_or_else(|| panic!("no operation"));
        cost(
            &document,
            &operation.selection_set.node,
            &Variables::default(),
            usize::MAX / 2,
        )
    }

    #[test]
    fn introspection_costs_what_it_returns() {
        let types = described().types.len();
        assert!(types > 20, "{types}");
        assert_eq!(cost_of("{ __typename }"), 0);
        assert_eq!(cost_of("{ ride(id: \"1\") { id } }"), 0);
        // __schema, types, one per type, one name per type.
        assert_eq!(cost_of("{ __schema { types { name } } }"), 2 + 2 * types);
        let aliased = cost_of("{ a: __schema { types { name } } b: __schema { types { name } } }");
        assert_eq!(aliased, 2 * (2 + 2 * types));
        // A fragment costs what its text in place would.
        assert_eq!(
            cost_of("{ ...F } fragment F on Query { __schema { types { name } } }"),
            2 + 2 * types
        );
        // A type reference is followed to the type's record: Driver's six
        // fields, under NearbyDriver.driver (Driver!).
        // __type, fields, then one per field and one name per field.
        let ride_fields = described().types["Ride"]["fields"]
            .as_array()
            .map_or(0, Vec::len);
        assert!(ride_fields > 10, "{ride_fields}");
        assert_eq!(
            cost_of("{ __type(name: \"Ride\") { fields { name } } }"),
            2 + 2 * ride_fields
        );
        let named =
            cost_of("{ __type(name: \"NearbyDriver\") { fields { type { ofType { name } } } } }");
        let followed = cost_of(
            "{ __type(name: \"NearbyDriver\") { fields { type { ofType { fields { name } } } } } }",
        );
        assert_eq!(followed, named + 2 * 6, "{named} {followed}");
        assert_eq!(cost_of("{ __type(name: \"Nope\") { name } }"), 1);
        // GraphiQL's query fits its budget twice; the full query is costed.
        assert!(described().full > 1000, "{}", described().full);
        assert_eq!(budget(0), 2 * described().full);
    }

    #[test]
    fn counting_stops_past_the_cap() {
        let document = async_graphql::parser::parse_query(
            "{ a: __schema { types { name } } b: __schema { types { name } } }",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let operation = document
            .operations
            .iter()
            .next()
            .map(|(_, op)| op.node.clone());
        let operation = operation.unwrap_or_else(|| panic!("no operation"));
        assert_eq!(
            cost(
                &document,
                &operation.selection_set.node,
                &Variables::default(),
                10
            ),
            11
        );
    }
}
