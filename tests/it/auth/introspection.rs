//! Introspection follows the rules everything else does: it needs a token
//! when tokens are required (unless `--open-introspection`), and what it
//! returns counts against the complexity budget, aliases included.

use serde_json::{json, Value};
use tracking::auth::Role;

use crate::common::{
    error_code_of,
    tokens::{token, SECRET},
    StoreKind, TestApp,
};

/// graphql-js's `getIntrospectionQuery()` with every option on: what
/// GraphiQL and Apollo's tooling send (or less).
pub const GRAPHIQL_INTROSPECTION: &str = r#"query IntrospectionQuery {
  __schema {
    description
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types { ...FullType }
    directives {
      name
      description
      isRepeatable
      locations
      args(includeDeprecated: true) { ...InputValue }
    }
  }
}
fragment FullType on __Type {
  kind
  name
  description
  specifiedByURL
  fields(includeDeprecated: true) {
    name
    description
    args(includeDeprecated: true) { ...InputValue }
    type { ...TypeRef }
    isDeprecated
    deprecationReason
  }
  inputFields(includeDeprecated: true) { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue {
  name
  description
  type { ...TypeRef }
  defaultValue
  isDeprecated
  deprecationReason
}
fragment TypeRef on __Type {
  kind name ofType { kind name ofType { kind name ofType { kind name ofType {
  kind name ofType { kind name ofType { kind name ofType { kind name ofType {
  kind name } } } } } } } }
}"#;

/// POSTs a query as `token` (or none) under the GraphQL response media
/// type; status and body.
async fn post(app: &TestApp, token: Option<&str>, query: &str) -> (u16, Value) {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![
        ("content-type", "application/json"),
        ("accept", "application/graphql-response+json"),
    ];
    if let Some(bearer) = &bearer {
        headers.push(("authorization", bearer));
    }
    let body = json!({ "query": query }).to_string();
    let (status, _, body) = app
        .raw(reqwest::Method::POST, "/graphql", &headers, Some(&body))
        .await;
    (status, body)
}

fn assert_full_schema(body: &Value) {
    assert!(body.get("errors").is_none(), "{body}");
    let types = body["data"]["__schema"]["types"]
        .as_array()
        .unwrap_or_else(|| panic!("no types: {body}"));
    assert!(types.iter().any(|t| t["name"] == "Ride"), "{body}");
}

#[tokio::test]
async fn anonymous_callers_may_not_introspect_when_tokens_are_required() {
    let app = TestApp::spawn(StoreKind::Memory, |c| c.jwt_secret = Some(SECRET.into())).await;
    for query in [
        "{ __schema { queryType { name } } }",
        "{ __type(name: \"Ride\") { name fields { name } } }",
        "{ ...F } fragment F on Query { s: __schema { types { name } } }",
        "query { __typename ... on Query { __type(name: \"Query\") { name } } }",
        GRAPHIQL_INTROSPECTION,
    ] {
        let (status, body) = post(&app, None, query).await;
        assert_eq!(status, 401, "{query}: {body}");
        assert_eq!(error_code_of(&body), "UNAUTHENTICATED", "{query}: {body}");
        assert!(body.get("data").is_none(), "{query}: {body}");
        // Over GET, and over graphql-sse, the same.
        let (_, text) = app
            .get(&format!(
                "/graphql?query={}",
                crate::common::urlencode(query)
            ))
            .await;
        assert!(text.contains("UNAUTHENTICATED"), "GET {query}: {text}");
        let (_, text) = app
            .get(&format!(
                "/graphql/stream?query={}",
                crate::common::urlencode(query)
            ))
            .await;
        assert!(text.contains("UNAUTHENTICATED"), "SSE {query}: {text}");
    }
    // `__typename` alone reads nothing of the schema: it still answers.
    let (status, body) = post(&app, None, "{ __typename }").await;
    assert_eq!(
        (status, &body["data"]["__typename"]),
        (200, &json!("Query")),
        "{body}"
    );
    // Any verified token may read the schema: GraphiQL works once given one.
    for role in [Role::Rider, Role::Driver, Role::Dispatcher] {
        let (status, body) =
            post(&app, Some(&token("someone", role)), GRAPHIQL_INTROSPECTION).await;
        assert_eq!(status, 200, "{role:?}: {body}");
        assert_full_schema(&body);
    }
}

#[tokio::test]
async fn open_introspection_lets_anonymous_callers_read_the_schema() {
    use clap::Parser as _;
    let app = TestApp::spawn(StoreKind::Memory, |c| {
        c.jwt_secret = Some(SECRET.into());
        c.try_update_from(["tracking", "--open-introspection"])
            .expect("--open-introspection is a flag");
    })
    .await;
    let (status, body) = post(&app, None, GRAPHIQL_INTROSPECTION).await;
    assert_eq!(status, 200, "{body}");
    assert_full_schema(&body);
    // Only the schema: the fleet still needs a token.
    let (status, body) = post(&app, None, "{ ride(id: \"1.1\") { id } }").await;
    assert_eq!(error_code_of(&body), "UNAUTHENTICATED", "{status}: {body}");
}

#[tokio::test]
async fn introspection_costs_what_it_returns_aliases_included() {
    let app = TestApp::spawn(StoreKind::Memory, |_| {}).await;
    // GraphiQL's query is within budget, as are a few listings.
    let (status, body) = post(&app, None, GRAPHIQL_INTROSPECTION).await;
    assert_eq!(status, 200, "{body}");
    assert_full_schema(&body);
    let listing = "__schema { types { name fields { name } } }";
    let few: String = (0..2).map(|i| format!("s{i}: {listing} ")).collect();
    let (status, body) = post(&app, None, &format!("{{ {few} }}")).await;
    assert_eq!(status, 200, "{body}");

    // The probe's flood: 100 aliases of a schema listing (it made 2.68 MB).
    let floods = [
        (0..100).map(|i| format!("s{i}: {listing} ")).collect::<String>(),
        (0..100)
            .map(|i| format!("t{i}: __type(name: \"Mutation\") {{ fields {{ name args {{ name type {{ name }} }} }} }} "))
            .collect(),
        // Through a fragment, and beside the fleet.
        format!(
            "ride(id: \"1.1\") {{ id }} ...F }} fragment F on Query {{ {}",
            (0..100).map(|i| format!("s{i}: {listing} ")).collect::<String>()
        ),
        // Following types from field to field, where one listing is small.
        (0..40)
            .map(|i| format!("s{i}: __schema {{ types {{ fields {{ type {{ ofType {{ ofType {{ fields {{ type {{ ofType {{ ofType {{ fields {{ name }} }} }} }} }} }} }} }} }} }} }} "))
            .collect(),
    ];
    for flood in floods {
        let query = format!("{{ {flood} }}");
        let (status, body) = post(&app, None, &query).await;
        let short: String = body.to_string().chars().take(300).collect();
        assert_eq!(status, 400, "{}: {short}", &query[..80]);
        assert!(body.get("data").is_none(), "{short}");
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains("too complex"), "{body}");
        assert_eq!(error_code_of(&body), "BAD_USER_INPUT", "{body}");
    }
}
