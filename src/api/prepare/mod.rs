//! The gate every GraphQL request passes before it runs, whatever its
//! transport: the document it names (its text, or a persisted document's
//! hash: [`persisted`]), parsed and checked against every validation rule
//! of the spec ([`validation`]), the operation it selects, its variables
//! checked against their declared types ([`variables`]), what kind of
//! operation it is, and the label its metrics are counted under.
//!
//! A request refused here is a *request error*: nothing runs, and the
//! response has no `data` (GraphQL over HTTP answers it with 400 under
//! `application/graphql-response+json`).
//!
//! Clients send the same few documents over and over (a driver app sends one
//! `updateLocation` text with new variables every few seconds), and parsing
//! and validating are a large share of a small mutation's cost, so both are
//! done once per document text and cached. The cache is bounded: past its
//! size it starts afresh, so hostile clients sending endless distinct
//! documents cost only what parsing and validating always cost.
//!
//! Metric labels come from a fixed set: the root fields the schema defines
//! (`updateLocation`, `rideStatus`, …), or `other`. An operation's name is
//! the client's text and never becomes a label. What a document says about
//! its operation (which one, its label, whether it only introspects) is
//! read by [`operation`].

pub mod introspection;
mod operation;
pub mod persisted;
mod validation;
pub mod variables;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use async_graphql::{
    parser::types::{ExecutableDocument, OperationType},
    Request, Response, ServerError,
};

use crate::{auth::Caller, dispatch::access, domain::error::codes};
use introspection::IntrospectionCost;
use operation::{first_field, only_introspection, select};
pub use operation::{label_for, root_fields, OTHER};
use persisted::Persisted;
use validation::Validator;
use variables::InputTypes;

/// Documents kept at most.
const CAPACITY: usize = 512;
/// Longer documents are parsed and validated every time.
const MAX_CACHED_BYTES: usize = 8192;
/// How deep fragments are followed to find an operation's first field.
const FRAGMENT_DEPTH: usize = 4;

/// What an operation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Query,
    Mutation,
    Subscription,
}

/// The metric label of a request, kept in its data for the extension that
/// counts operations.
#[derive(Debug, Clone, Copy)]
pub struct OperationLabel(pub &'static str);

/// What it takes to run a subscription again: a shared live map's own
/// snapshot for each subscriber (see `http::ws::shared`).
#[derive(Clone)]
pub struct Replay {
    query: String,
    variables: async_graphql::Variables,
    operation_name: Option<String>,
    document: async_graphql::parser::types::ExecutableDocument,
    label: &'static str,
}

impl Replay {
    /// The same request, ready to run (it passed the gate already).
    pub fn request(&self) -> Request {
        let mut request = Request::new(self.query.clone()).variables(self.variables.clone());
        request.operation_name = self.operation_name.clone();
        request.set_parsed_query(self.document.clone());
        request.data(OperationLabel(self.label))
    }

    /// What tells it from any other: the text, the operation, the values.
    pub fn key(&self) -> String {
        format!(
            "{}\u{0}{}\u{0}{}",
            self.query,
            self.operation_name.as_deref().unwrap_or_default(),
            serde_json::to_string(&self.variables).unwrap_or_default()
        )
    }
}

/// A request that may run: its document attached, and what it is.
pub struct Prepared {
    pub request: Request,
    pub kind: Kind,
    pub label: &'static str,
    /// It selects introspection fields only (`__schema`, `__type`,
    /// `__typename`): it reads the schema, never the fleet.
    pub introspection: bool,
    /// For a subscription: how to run it again.
    pub replay: Option<Replay>,
}

/// A request that may not run, and why (each error with its code).
#[derive(Debug)]
pub struct Refused {
    pub errors: Vec<ServerError>,
    pub label: &'static str,
}

impl Refused {
    fn new(mut errors: Vec<ServerError>, label: &'static str) -> Self {
        for error in &mut errors {
            let extensions = error.extensions.get_or_insert_with(Default::default);
            if extensions.get("code").is_none() {
                extensions.set("code", codes::BAD_USER_INPUT);
            }
        }
        Self { errors, label }
    }

    /// The refusal as a GraphQL response (no `data`).
    pub fn response(&self) -> Response {
        Response::from_errors(self.errors.clone())
    }

    /// The first error's code.
    pub fn code(&self) -> &str {
        self.errors
            .first()
            .and_then(|e| e.extensions.as_ref())
            .and_then(|e| e.get("code"))
            .and_then(|v| match v {
                async_graphql::Value::String(s) => Some(s.as_str()),
                _ => None,
            })
            .unwrap_or(codes::BAD_USER_INPUT)
    }
}

/// A document text, parsed and validated.
struct Checked {
    /// `None`: it does not parse.
    document: Option<ExecutableDocument>,
    /// Why it does not parse, or the rules it breaks.
    errors: Vec<ServerError>,
}

/// What the transports ask before running anything.
pub struct Gate {
    checked: Mutex<HashMap<String, Arc<Checked>>>,
    validator: Validator,
    inputs: InputTypes,
    persisted: Persisted,
    max_query_bytes: usize,
    /// Whether callers without a token may read the schema.
    open_introspection: bool,
    /// Introspection is counted up to this cost, and no further.
    introspection_cap: usize,
}

impl Default for Gate {
    fn default() -> Self {
        Self::new(Persisted::automatic(None), 16 * 1024, false, 2000)
    }
}

impl Gate {
    /// `open_introspection`: whether callers without a token may read the
    /// schema; `max_complexity`: what one request may cost.
    pub fn new(
        persisted: Persisted,
        max_query_bytes: usize,
        open_introspection: bool,
        max_complexity: usize,
    ) -> Self {
        Self {
            open_introspection,
            introspection_cap: introspection::budget(max_complexity),
            checked: Mutex::default(),
            validator: Validator::default(),
            inputs: InputTypes::of(
                &async_graphql::Schema::build(
                    super::Query,
                    super::Mutation,
                    super::SubscriptionRoot,
                )
                .finish(),
            ),
            persisted,
            max_query_bytes,
        }
    }

    /// Readies a request from `caller` to run, or refuses it.
    pub async fn prepare(
        &self,
        mut request: Request,
        caller: &Caller,
    ) -> Result<Prepared, Refused> {
        if request.query.len() > self.max_query_bytes {
            return Err(Refused::new(
                vec![ServerError::new(
                    format!("query text is longer than {} bytes", self.max_query_bytes),
                    None,
                )],
                OTHER,
            ));
        }
        let registers = self
            .persisted
            .resolve(&mut request)
            .await
            .map_err(|e| Refused::new(vec![e], OTHER))?;
        let checked = self.check(&request.query);
        let Some(document) = &checked.document else {
            return Err(Refused::new(checked.errors.clone(), OTHER));
        };
        let operation = select(document, request.operation_name.as_deref())
            .map_err(|e| Refused::new(vec![e], OTHER))?;
        let kind = match operation.ty {
            OperationType::Query => Kind::Query,
            OperationType::Mutation => Kind::Mutation,
            OperationType::Subscription => Kind::Subscription,
        };
        let label = first_field(document, &operation.selection_set.node, FRAGMENT_DEPTH)
            .map(label_for)
            .unwrap_or(OTHER);
        if !checked.errors.is_empty() {
            return Err(Refused::new(checked.errors.clone(), label));
        }
        let set = &operation.selection_set.node;
        if introspection::reads_schema(document, set) {
            access::may_read_schema(caller, self.open_introspection).map_err(|error| {
                Refused::new(vec![super::coded(error.code(), error.to_string())], label)
            })?;
        }
        if let Some(hash) = registers {
            self.persisted.register(&hash, &request.query).await;
        }
        self.inputs
            .coerce(operation, &request.variables)
            .map_err(|errors| Refused::new(errors, label))?;
        let introspection = only_introspection(document, set, FRAGMENT_DEPTH);
        let cost = match kind {
            Kind::Query => {
                introspection::cost(document, set, &request.variables, self.introspection_cap)
            }
            Kind::Mutation | Kind::Subscription => 0,
        };
        request.set_parsed_query(document.clone());
        let replay = (kind == Kind::Subscription).then(|| Replay {
            query: request.query.clone(),
            variables: request.variables.clone(),
            operation_name: request.operation_name.clone(),
            document: document.clone(),
            label,
        });
        Ok(Prepared {
            request: request
                .data(OperationLabel(label))
                .data(IntrospectionCost(cost)),
            kind,
            label,
            introspection,
            replay,
        })
    }

    /// The persisted documents this gate knows.
    pub fn persisted(&self) -> &Persisted {
        &self.persisted
    }

    /// Why `query` would be refused before it runs: it does not parse, or
    /// it breaks a validation rule (empty when it passes).
    pub fn refusals(&self, query: &str) -> Vec<ServerError> {
        self.check(query).errors.clone()
    }

    /// The document of a text, parsed and validated (cached when short).
    fn check(&self, query: &str) -> Arc<Checked> {
        let cacheable = query.len() <= MAX_CACHED_BYTES;
        if cacheable {
            let cached = self
                .checked
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(query)
                .cloned();
            if let Some(cached) = cached {
                return cached;
            }
        }
        let checked = Arc::new(match async_graphql::parser::parse_query(query) {
            Ok(document) => Checked {
                errors: self
                    .validator
                    .validate(query, &document)
                    .err()
                    .unwrap_or_default(),
                document: Some(document),
            },
            Err(error) => Checked {
                document: None,
                errors: vec![error.into()],
            },
        });
        if cacheable {
            let mut by_text = self.checked.lock().unwrap_or_else(PoisonError::into_inner);
            if by_text.len() >= CAPACITY {
                by_text.clear();
            }
            by_text.insert(query.to_owned(), checked.clone());
        }
        checked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prepare(gate: &Gate, query: &str) -> Result<Prepared, Refused> {
        futures_util::FutureExt::now_or_never(gate.prepare(Request::new(query), &Caller::Open))
            .unwrap_or_else(|| Err(Refused::new(vec![ServerError::new("pending", None)], OTHER)))
    }

    #[test]
    fn labels_come_from_the_schema_never_from_the_client() {
        let gate = Gate::default();
        let label = |query: &str| match prepare(&gate, query) {
            Ok(prepared) => (Some(prepared.kind), prepared.label),
            Err(refused) => (None, refused.label),
        };
        assert_eq!(
            label(
                "mutation AnyNameAtAll { updateLocation(driverId: \"d\", lat: 0, lng: 0) { id } }"
            ),
            (Some(Kind::Mutation), "updateLocation")
        );
        assert_eq!(
            label("query Mine { mine: nearbyDrivers(lat: 0, lng: 0) { distanceKm } }"),
            (Some(Kind::Query), "nearbyDrivers")
        );
        assert_eq!(
            label("subscription { ...F } fragment F on Subscription { rideStatus(rideId: \"1\") { id } }"),
            (Some(Kind::Subscription), "rideStatus")
        );
        // Refused, but still counted under its root field when it has one.
        assert_eq!(
            label("mutation { requestDriver(riderId: \"r\", lat: 1, lng: 1, bogus: 5) { id } }"),
            (None, "requestDriver")
        );
        assert_eq!(label("{ nope }"), (None, OTHER));
        assert_eq!(label("{ broken"), (None, OTHER));
        assert!(root_fields().contains(&"requestDriver"));
        assert!(root_fields().contains(&"fleet"));
    }
}
