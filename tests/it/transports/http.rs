//! GraphQL over HTTP as the spec has it: GET runs queries and never a
//! mutation, request errors are 400 under the GraphQL response media type,
//! introspection alone may nest as deep as GraphiQL asks, and a
//! subscription asked over plain HTTP is told the transports.

use serde_json::{json, Value};

use super::streams::STATUS;
use crate::common::{error_code_of, header, id_of, StoreKind, TestApp, DRIVER, RIDER};

pub(super) const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

#[tokio::test]
async fn get_runs_queries_refuses_mutations_and_still_serves_graphiql_to_browsers() {
    let app = TestApp::spawn(StoreKind::Memory, |_| {}).await;
    app.update_location("d1", DRIVER).await;

    let query = format!(
        "/graphql?query={}&variables={}",
        crate::common::urlencode("query($lat: Float!, $lng: Float!) { nearbyDrivers(lat: $lat, lng: $lng) { driver { id } } }"),
        crate::common::urlencode(&json!({"lat": RIDER.0, "lng": RIDER.1}).to_string()),
    );
    let (status, headers, body) = app.raw(reqwest::Method::GET, &query, &[], None).await;
    assert_eq!(status, 200, "{body}");
    assert!(header(&headers, "content-type").starts_with("application/json"));
    assert_eq!(body["data"]["nearbyDrivers"][0]["driver"]["id"], "d1");

    let (status, headers, body) = app
        .raw(
            reqwest::Method::GET,
            &query,
            &[("accept", GRAPHQL_RESPONSE)],
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(header(&headers, "content-type").starts_with(GRAPHQL_RESPONSE));

    // A mutation is never run on GET: 405, and nothing changed.
    let mutation = format!(
        "/graphql?query={}",
        crate::common::urlencode("mutation { goOffline(driverId: \"d1\") { status } }")
    );
    for accept in ["application/json", GRAPHQL_RESPONSE] {
        let (status, headers, body) = app
            .raw(reqwest::Method::GET, &mutation, &[("accept", accept)], None)
            .await;
        assert_eq!(status, 405, "{accept}: {body}");
        assert_eq!(header(&headers, "allow"), "POST");
        assert_eq!(error_code_of(&body), "BAD_USER_INPUT");
    }
    assert_eq!(app.driver("d1").await["status"], "AVAILABLE");

    // Unreadable variables are a bad request.
    let (status, _, body) = app
        .raw(
            reqwest::Method::GET,
            "/graphql?query=%7B__typename%7D&variables=%5B1%5D",
            &[],
            None,
        )
        .await;
    assert_eq!(status, 400, "{body}");

    // A browser, or a GET with no query at all, gets GraphiQL.
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    for (path, accept) in [("/graphql", "*/*"), (query.as_str(), browser)] {
        let (status, headers, body) = app
            .raw(reqwest::Method::GET, path, &[("accept", accept)], None)
            .await;
        assert_eq!(status, 200);
        assert!(header(&headers, "content-type").starts_with("text/html"));
        assert!(
            body.as_str().is_some_and(|b| b.contains("GraphiQL")),
            "{body}"
        );
    }
}

#[tokio::test]
async fn introspection_alone_may_nest_as_deep_as_graphiql_asks_and_no_deeper() {
    let app = TestApp::spawn(StoreKind::Memory, |_| {}).await;
    // graphql-js's introspection query (GraphiQL's) follows `ofType` nine
    // levels down: 16 deep, past the default --max-depth of 12.
    let of_type = |levels: usize| {
        let mut selection = "name".to_owned();
        for _ in 0..levels {
            selection = format!("kind ofType {{ {selection} }}");
        }
        selection
    };
    let introspection = format!(
        "query IntrospectionQuery {{ __schema {{ types {{ fields {{ type {{ {} }} }} }} }} }}",
        of_type(9)
    );
    let body = app.gql(&introspection, json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert!(body["data"]["__schema"]["types"].is_array());
    // Not deeper than that allowance, and not with the fleet alongside.
    let deeper = format!(
        "{{ __schema {{ types {{ fields {{ type {{ {} }} }} }} }} }}",
        of_type(20)
    );
    let body = app.gql(&deeper, json!({})).await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("nested too deep")),
        "{body}"
    );
    let mixed = introspection.replace("__schema {", "ride(id: \"1.1\") { id } __schema {");
    let body = app.gql(&mixed, json!({})).await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("nested too deep")),
        "{body}"
    );
}

#[tokio::test]
async fn request_errors_are_400_without_data_under_the_graphql_response_media_type() {
    let app = TestApp::spawn(StoreKind::Memory, |_| {}).await;
    let post = |accept: &'static str, body: Value| {
        let app = &app;
        async move {
            app.raw(
                reqwest::Method::POST,
                "/graphql",
                &[("content-type", "application/json"), ("accept", accept)],
                Some(&body.to_string()),
            )
            .await
        }
    };
    let request_errors = [
        json!({"query": "{ broken"}),
        json!({"query": "{ nope }"}),
        json!({"query": "query($n: Int!) { nearbyDrivers(lat: 0, lng: 0, limit: $n) { distanceKm } }", "variables": {"n": "many"}}),
        json!({"query": "query A { __typename } query B { __typename }"}),
        json!({"query": "query A { __typename }", "operationName": "C"}),
    ];
    for request in &request_errors {
        let (status, headers, body) = post(GRAPHQL_RESPONSE, request.clone()).await;
        assert_eq!(status, 400, "{request}: {body}");
        assert!(header(&headers, "content-type").starts_with(GRAPHQL_RESPONSE));
        assert!(body.get("data").is_none(), "{request}: {body}");
        assert_eq!(error_code_of(&body), "BAD_USER_INPUT", "{request}: {body}");
        // Under application/json the same is a 200, as those clients expect.
        let (status, headers, body) = post("application/json", request.clone()).await;
        assert_eq!(status, 200, "{request}: {body}");
        assert!(header(&headers, "content-type").starts_with("application/json"));
        assert!(body.get("data").is_none(), "{request}: {body}");
    }
    // A field error is not a request error: 200, with data.
    let (status, _, body) = post(
        GRAPHQL_RESPONSE,
        json!({"query": "mutation { cancelRequest(rideId: \"1.1\") { id } }"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("data").is_some(), "{body}");
    assert_eq!(error_code_of(&body), "NOT_FOUND");

    // The body must say it is JSON, in UTF-8.
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/json; charset=latin1"),
    ] {
        let mut headers = vec![];
        if let Some(content_type) = content_type {
            headers.push(("content-type", content_type));
        }
        let (status, _, body) = app
            .raw(
                reqwest::Method::POST,
                "/graphql",
                &headers,
                Some(r#"{"query": "{ __typename }"}"#),
            )
            .await;
        assert_eq!(status, 415, "{content_type:?}: {body}");
        assert_eq!(error_code_of(&body), "BAD_USER_INPUT");
    }

    // A batch answers each operation as it went.
    let (status, _, body) = post(
        GRAPHQL_RESPONSE,
        json!([{"query": "{ __typename }"}, {"query": "{ nope }"}]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body[0]["data"]["__typename"], "Query");
    assert!(body[1].get("data").is_none(), "{body}");
}

#[tokio::test]
async fn a_subscription_without_a_stream_and_a_socket_without_a_subprotocol_are_told_the_transports(
) {
    let app = TestApp::spawn(StoreKind::Memory, |_| {}).await;
    let id = id_of(&app.request_driver("r", RIDER).await);
    let body = app.gql(STATUS, json!({"id": id})).await;
    assert_eq!(error_code_of(&body), "BAD_USER_INPUT");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    for transport in [
        "/ws",
        "graphql-transport-ws",
        "multipart/mixed",
        "/graphql/stream",
        "text/event-stream",
    ] {
        assert!(
            message.contains(transport),
            "{transport} missing from {message}"
        );
    }

    // A plain GET of /ws, and an upgrade asking for no known subprotocol.
    let (status, _, body) = app.raw(reqwest::Method::GET, "/ws", &[], None).await;
    assert_eq!(status, 400, "{body}");
    let upgrade = [
        ("connection", "upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];
    let (status2, _, body2) = app.raw(reqwest::Method::GET, "/ws", &upgrade, None).await;
    assert_eq!(status2, 400, "{body2}");
    for body in [body, body2] {
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        for named in [
            "graphql-transport-ws",
            "graphql-ws",
            "multipart",
            "/graphql/stream",
        ] {
            assert!(message.contains(named), "{named} missing from {message}");
        }
    }
}
