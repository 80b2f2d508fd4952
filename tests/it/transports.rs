//! The transports besides WebSocket: GraphQL over HTTP as the GraphQL
//! Foundation's spec has it, subscriptions streamed over HTTP (Apollo's
//! multipart protocol and Server-Sent Events), persisted documents, and
//! cross-origin access. The spec's own audit suite runs from node in the
//! README's test command (`tests/clients/`); these are what it does not
//! check: status codes per error, streams' auth, limits, heartbeats,
//! shutdown, disconnects, and events crossing instances.

use std::{collections::BTreeMap, time::Duration};

use serde_json::{json, Value};
use tracking::{
    api::prepare::persisted::sha256_hex,
    auth::{mint, Role},
};

use crate::common::{
    eventually, for_each_store, id_of,
    streams::{HttpStream, Part, Streaming},
    within, Client, RedisCluster, RedisServer, ServiceProcess, StoreKind, TestApp, DRIVER,
    PATIENCE, RIDER,
};

const SECRET: &str = "a-test-secret-of-enough-bytes";
const STATUS: &str = "subscription($id: ID!) { rideStatus(rideId: $id) { id status } }";
const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

async fn raw(
    app: &Client,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = app.http().request(method, app.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.body(body.to_owned());
    }
    let response = within(PATIENCE, "an HTTP response", request.send())
        .await
        .expect("HTTP");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, headers, body)
}

fn header<'h>(headers: &'h reqwest::header::HeaderMap, name: &str) -> &'h str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn get_runs_queries_refuses_mutations_and_still_serves_graphiql_to_browsers() {
    let app = TestApp::spawn(StoreKind::Memory, |_| {}).await;
    app.update_location("d1", DRIVER).await;

    let query = format!(
        "/graphql?query={}&variables={}",
        crate::common::urlencode("query($lat: Float!, $lng: Float!) { nearbyDrivers(lat: $lat, lng: $lng) { driver { id } } }"),
        crate::common::urlencode(&json!({"lat": RIDER.0, "lng": RIDER.1}).to_string()),
    );
    let (status, headers, body) = raw(&app, reqwest::Method::GET, &query, &[], None).await;
    assert_eq!(status, 200, "{body}");
    assert!(header(&headers, "content-type").starts_with("application/json"));
    assert_eq!(body["data"]["nearbyDrivers"][0]["driver"]["id"], "d1");

    let (status, headers, body) = raw(
        &app,
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
        let (status, headers, body) = raw(
            &app,
            reqwest::Method::GET,
            &mutation,
            &[("accept", accept)],
            None,
        )
        .await;
        assert_eq!(status, 405, "{accept}: {body}");
        assert_eq!(header(&headers, "allow"), "POST");
        assert_eq!(code(&body), "BAD_USER_INPUT");
    }
    assert_eq!(app.driver("d1").await["status"], "AVAILABLE");

    // Unreadable variables are a bad request.
    let (status, _, body) = raw(
        &app,
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
        let (status, headers, body) = raw(
            &app,
            reqwest::Method::GET,
            path,
            &[("accept", accept)],
            None,
        )
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
            raw(
                app,
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
        assert_eq!(code(&body), "BAD_USER_INPUT", "{request}: {body}");
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
    assert_eq!(code(&body), "NOT_FOUND");

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
        let (status, _, body) = raw(
            &app,
            reqwest::Method::POST,
            "/graphql",
            &headers,
            Some(r#"{"query": "{ __typename }"}"#),
        )
        .await;
        assert_eq!(status, 415, "{content_type:?}: {body}");
        assert_eq!(code(&body), "BAD_USER_INPUT");
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
    assert_eq!(code(&body), "BAD_USER_INPUT");
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
    let (status, _, body) = raw(&app, reqwest::Method::GET, "/ws", &[], None).await;
    assert_eq!(status, 400, "{body}");
    let upgrade = [
        ("connection", "upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];
    let (status2, _, body2) = raw(&app, reqwest::Method::GET, "/ws", &upgrade, None).await;
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

/// A ride followed over both HTTP streams at once, from SEARCHING through
/// DRIVER_FOUND to CANCELLED, each stream ending with the ride.
async fn streams_follow_a_ride(store: StoreKind) {
    let app = TestApp::spawn(store, |_| {}).await;
    let id = id_of(&app.request_driver("rider-1", RIDER).await);
    let mut multipart =
        HttpStream::open(&app, Streaming::Multipart, STATUS, json!({"id": id})).await;
    let mut sse = HttpStream::open(&app, Streaming::Sse, STATUS, json!({"id": id})).await;
    assert_eq!(multipart.status, 200);
    assert!(
        multipart.content_type.starts_with("multipart/mixed")
            && multipart.content_type.contains("boundary=\"graphql\"")
            && multipart.content_type.contains("subscriptionSpec"),
        "{}",
        multipart.content_type
    );
    assert!(
        sse.content_type.starts_with("text/event-stream"),
        "{}",
        sse.content_type
    );
    for stream in [&mut multipart, &mut sse] {
        assert_eq!(stream.next_data("rideStatus").await["status"], "SEARCHING");
    }
    app.update_location("d1", DRIVER).await;
    for stream in [&mut multipart, &mut sse] {
        assert_eq!(
            stream.next_data("rideStatus").await["status"],
            "DRIVER_FOUND"
        );
    }
    app.cancel(&id).await;
    for stream in [&mut multipart, &mut sse] {
        assert_eq!(stream.next_data("rideStatus").await["status"], "CANCELLED");
        assert_eq!(stream.next().await, Part::End);
    }
}

/// Persisted queries: a hash the service does not know, then the text with
/// its hash, then the hash alone; a text that does not match its hash, or
/// is not a valid document, is never remembered. Where the fleet is on
/// Redis, a second instance knows what the first was told.
async fn persisted_queries_round_trip(store: StoreKind) {
    let first = TestApp::spawn(store, |_| {}).await;
    let second = match store {
        StoreKind::Memory => None,
        StoreKind::Redis => Some(TestApp::spawn_with(first.redis.clone(), |_| {}).await),
        StoreKind::Cluster => {
            Some(TestApp::spawn_on_cluster(first.cluster.clone().expect("a cluster"), |_| {}).await)
        }
    };
    let query = "query Apq { __typename }";
    let hash = sha256_hex(query);
    let by_hash = json!({"extensions": {"persistedQuery": {"version": 1, "sha256Hash": hash}}});
    let with_text = json!({"query": query, "extensions": by_hash["extensions"]});
    let post = |app: &Client, body: Value| {
        let app = app.clone();
        async move { app.post_raw("/graphql", &body.to_string()).await }
    };

    let (status, body) = post(&first, by_hash.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND", "{body}");
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound");

    let (_, body) = post(&first, with_text).await;
    assert_eq!(body["data"]["__typename"], "Query", "{body}");
    let (_, body) = post(&first, by_hash.clone()).await;
    assert_eq!(body["data"]["__typename"], "Query", "{body}");
    // Over GET too.
    let (status, _, body) = raw(
        &first,
        reqwest::Method::GET,
        &format!(
            "/graphql?extensions={}",
            crate::common::urlencode(&by_hash["extensions"].to_string())
        ),
        &[("accept", "application/json")],
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["__typename"], "Query", "{body}");
    if let Some(second) = &second {
        let (_, body) = post(second, by_hash.clone()).await;
        assert_eq!(body["data"]["__typename"], "Query", "shared: {body}");
    }

    // A text that is not what its hash says, and an invalid document.
    let (_, body) = post(
        &first,
        json!({"query": "{ __typename }", "extensions": by_hash["extensions"]}),
    )
    .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    let invalid = "{ nope }";
    let invalid_hash = json!({"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(invalid)}});
    let (_, body) = post(
        &first,
        json!({"query": invalid, "extensions": invalid_hash}),
    )
    .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    for app in std::iter::once(&*first).chain(second.as_deref()) {
        let (_, body) = post(app, json!({"extensions": invalid_hash})).await;
        assert_eq!(
            code(&body),
            "PERSISTED_QUERY_NOT_FOUND",
            "never kept: {body}"
        );
    }
}

for_each_store!(streams_follow_a_ride, persisted_queries_round_trip);

/// A stream on one instance sees what another instance did to the ride.
async fn streams_cross_instances(first: TestApp, second: TestApp) {
    let id = id_of(&first.request_driver("rider-1", RIDER).await);
    let mut multipart =
        HttpStream::open(&first, Streaming::Multipart, STATUS, json!({"id": id})).await;
    let mut sse = HttpStream::open(&first, Streaming::Sse, STATUS, json!({"id": id})).await;
    for stream in [&mut multipart, &mut sse] {
        assert_eq!(stream.next_data("rideStatus").await["status"], "SEARCHING");
    }
    // The driver reports to the other instance, which wakes the search.
    second.update_location("d1", DRIVER).await;
    for stream in [&mut multipart, &mut sse] {
        assert_eq!(
            stream.next_data("rideStatus").await["status"],
            "DRIVER_FOUND"
        );
    }
    second.cancel(&id).await;
    for stream in [&mut multipart, &mut sse] {
        assert_eq!(stream.next_data("rideStatus").await["status"], "CANCELLED");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_on_one_instance_sees_a_ride_matched_by_another_on_redis() {
    let redis = std::sync::Arc::new(RedisServer::start().await);
    let first = TestApp::spawn_with(Some(redis.clone()), |_| {}).await;
    let second = TestApp::spawn_with(Some(redis), |_| {}).await;
    streams_cross_instances(first, second).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_on_one_instance_sees_a_ride_matched_by_another_on_a_cluster() {
    let cluster = std::sync::Arc::new(RedisCluster::start(3, 0).await);
    let first = TestApp::spawn_on_cluster(cluster.clone(), |_| {}).await;
    let second = TestApp::spawn_on_cluster(cluster, |_| {}).await;
    streams_cross_instances(first, second).await;
}

#[tokio::test]
async fn streams_obey_tokens_roles_and_limits() {
    let app = TestApp::spawn(StoreKind::Memory, |c| {
        c.jwt_secret = Some(SECRET.into());
        c.max_query_bytes = 200;
    })
    .await;
    let token = |sub: &str, role| mint(SECRET, sub, role, Duration::from_secs(600)).expect("mint");
    let ana = app.as_user(&token("ana", Role::Rider));
    let bob = app.as_user(&token("bob", Role::Rider));
    let id = id_of(&ana.data(
        "mutation($lat: Float!, $lng: Float!) { requestDriver(riderId: \"ana\", lat: $lat, lng: $lng) { id } }",
        json!({"lat": RIDER.0, "lng": RIDER.1}),
    ).await["requestDriver"]);
    let forged = app.as_user("not-a-token");
    for protocol in [Streaming::Multipart, Streaming::Sse] {
        // The rider follows her ride.
        let mut own = HttpStream::open(&ana, protocol, STATUS, json!({"id": id})).await;
        assert_eq!(
            own.next_data("rideStatus").await["status"],
            "SEARCHING",
            "{protocol:?}"
        );
        own.close();
        // Another rider may not; nobody without a token may; a bad token
        // is refused before anything streams.
        for (who, expected) in [(&bob, "FORBIDDEN"), (&*app, "UNAUTHENTICATED")] {
            let mut refused = HttpStream::open(who, protocol, STATUS, json!({"id": id})).await;
            match refused.next().await {
                Part::Next(payload) => {
                    assert_eq!(code(&payload), expected, "{protocol:?}: {payload}")
                }
                other => panic!("{protocol:?}: expected an error, got {other:?}"),
            }
            assert_eq!(refused.next().await, Part::End, "{protocol:?}");
        }
        let refused = HttpStream::open(&forged, protocol, STATUS, json!({"id": id})).await;
        assert_eq!(refused.status, 401, "{protocol:?}");
        // The query-size limit holds here too.
        let long = format!(
            "subscription {{ rideStatus(rideId: \"{}\") {{ id }} }}",
            "x".repeat(300)
        );
        let mut too_long = HttpStream::open(&ana, protocol, &long, json!({})).await;
        let body = match protocol {
            Streaming::Multipart => too_long.body().await,
            Streaming::Sse => match too_long.next().await {
                Part::Next(payload) => payload,
                other => panic!("expected the refusal as an event, got {other:?}"),
            },
        };
        assert_eq!(code(&body), "BAD_USER_INPUT", "{protocol:?}: {body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("200 bytes")),
            "{body}"
        );
    }
    // Refusals and results are counted like any operation's.
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(
            "tracking_graphql_operations_total{operation=\"rideStatus\",outcome=\"FORBIDDEN\"}"
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_stream_ends_when_its_token_expires() {
    let app = TestApp::spawn(StoreKind::Memory, |c| {
        c.jwt_secret = Some(SECRET.into());
        c.jwt_leeway = Duration::ZERO;
    })
    .await;
    let dispatcher = app
        .as_user(&mint(SECRET, "ops", Role::Dispatcher, Duration::from_secs(600)).expect("mint"));
    let id = id_of(&dispatcher.request_driver("ana", RIDER).await);
    for protocol in [Streaming::Multipart, Streaming::Sse] {
        let short = app
            .as_user(&mint(SECRET, "ops", Role::Dispatcher, Duration::from_secs(2)).expect("mint"));
        let mut stream = HttpStream::open(&short, protocol, STATUS, json!({"id": id})).await;
        assert_eq!(stream.next_data("rideStatus").await["status"], "SEARCHING");
        let failure = match stream.next().await {
            Part::Failed(errors) => json!({"errors": errors}),
            Part::Next(payload) => payload,
            other => panic!("{protocol:?}: expected the stream to fail, got {other:?}"),
        };
        assert_eq!(code(&failure), "UNAUTHENTICATED", "{protocol:?}: {failure}");
        assert_eq!(stream.next().await, Part::End, "{protocol:?}");
    }
}

#[tokio::test]
async fn streams_send_heartbeats_and_are_freed_the_moment_the_client_goes() {
    // A process of its own, so that its gauges count its streams alone.
    let service = ServiceProcess::start(&["--stream-heartbeat", "100ms"]);
    let app = TestApp::attach(service.addr);
    let id = id_of(&app.request_driver("ana", RIDER).await);
    let gauge = |metrics: &str, transport: &str| -> Option<f64> {
        metrics
            .lines()
            .find(|l| {
                l.starts_with(&format!(
                    "tracking_http_streams{{transport=\"{transport}\"}}"
                ))
            })
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    };
    for (protocol, transport) in [(Streaming::Multipart, "multipart"), (Streaming::Sse, "sse")] {
        let mut stream = HttpStream::open(&app, protocol, STATUS, json!({"id": id})).await;
        assert_eq!(stream.next_data("rideStatus").await["status"], "SEARCHING");
        assert_eq!(stream.next_part().await, Part::Heartbeat, "{protocol:?}");
        assert_eq!(stream.next_part().await, Part::Heartbeat, "{protocol:?}");
        assert_eq!(gauge(&app.metrics().await, transport), Some(1.0));
        stream.close();
        eventually(&format!("the {transport} stream to be dropped"), || async {
            (gauge(&app.metrics().await, transport) == Some(0.0)).then_some(())
        })
        .await;
    }
}

#[tokio::test]
async fn streams_end_cleanly_when_the_service_shuts_down() {
    let app = TestApp::spawn(StoreKind::Memory, |_| {}).await;
    let id = id_of(&app.request_driver("ana", RIDER).await);
    let mut multipart =
        HttpStream::open(&app, Streaming::Multipart, STATUS, json!({"id": id})).await;
    let mut sse = HttpStream::open(&app, Streaming::Sse, STATUS, json!({"id": id})).await;
    for stream in [&mut multipart, &mut sse] {
        assert_eq!(stream.next_data("rideStatus").await["status"], "SEARCHING");
    }
    let stopping = tokio::spawn(app.stop());
    match multipart.next().await {
        Part::Failed(errors) => {
            assert_eq!(errors[0]["extensions"]["code"], "UNAVAILABLE", "{errors}")
        }
        other => panic!("expected the multipart stream to fail, got {other:?}"),
    }
    assert_eq!(multipart.next().await, Part::End);
    match sse.next().await {
        Part::Next(payload) => assert_eq!(code(&payload), "UNAVAILABLE", "{payload}"),
        other => panic!("expected the SSE stream to fail, got {other:?}"),
    }
    assert_eq!(sse.next().await, Part::End);
    // Well within the shutdown grace: the streams did not hold it up.
    within(Duration::from_secs(5), "the service to stop", stopping)
        .await
        .expect("stopped");
}

#[tokio::test]
async fn streams_count_against_the_connection_cap() {
    let app = TestApp::spawn(StoreKind::Memory, |c| c.max_connections = Some(2)).await;
    let id = id_of(&app.request_driver("ana", RIDER).await);
    let mut first = HttpStream::open(&app, Streaming::Sse, STATUS, json!({"id": id})).await;
    let mut second = HttpStream::open(&app, Streaming::Multipart, STATUS, json!({"id": id})).await;
    for stream in [&mut first, &mut second] {
        assert_eq!(stream.next_data("rideStatus").await["status"], "SEARCHING");
    }
    let third = HttpStream::open(&app, Streaming::Sse, STATUS, json!({"id": id})).await;
    assert_eq!(third.status, 503, "a third connection over a cap of 2");
    first.close();
    eventually("a connection to be free again", || async {
        let mut stream = HttpStream::open(&app, Streaming::Sse, STATUS, json!({"id": id})).await;
        (stream.status == 200).then_some(())?;
        assert_eq!(stream.next_data("rideStatus").await["status"], "SEARCHING");
        Some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persisted_queries_in_redis_are_bounded_in_number_and_time() {
    let app = TestApp::spawn(StoreKind::Redis, |c| {
        c.apq_max_entries = 3;
        c.apq_ttl = Duration::from_secs(60);
    })
    .await;
    let redis = app.redis.clone().expect("redis");
    for n in 0..6 {
        let query = format!("query Q{n} {{ __typename }}");
        let body = json!({"query": query, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(&query)}}});
        let (_, body) = app.post_raw("/graphql", &body.to_string()).await;
        assert_eq!(body["data"]["__typename"], "Query", "{body}");
    }
    let keys: Vec<String> = redis.cmd(&["KEYS", "{tracking:apq}:*"]).await;
    let documents: Vec<&String> = keys.iter().filter(|k| !k.ends_with(":index")).collect();
    assert_eq!(documents.len(), 3, "{keys:?}");
    let indexed: i64 = redis.cmd(&["ZCARD", "{tracking:apq}:index"]).await;
    assert_eq!(indexed, 3);
    // The newest stay, the oldest went.
    let newest = format!("{{tracking:apq}}:{}", sha256_hex("query Q5 { __typename }"));
    assert!(documents.contains(&&newest), "{keys:?}");
    for key in documents {
        let ttl: i64 = redis.cmd(&["PTTL", key]).await;
        assert!(ttl > 0 && ttl <= 60_000, "{key}: {ttl}");
    }
}

#[tokio::test]
async fn only_persisted_runs_the_files_documents_and_the_services_own() {
    // The service's own manifest, as an operator would take it.
    let output = crate::common::process::tracking_command()
        .arg("persisted-documents")
        .output()
        .expect("run tracking persisted-documents");
    assert!(output.status.success());
    let mut manifest: BTreeMap<String, String> =
        serde_json::from_slice(&output.stdout).expect("a JSON object");
    let app_query = "query Mine { __typename }";
    manifest.insert("my-app-1".into(), app_query.into());
    let dir = std::env::temp_dir().join(format!("tracking-persisted-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("documents.json");
    std::fs::write(&file, serde_json::to_vec(&manifest).expect("json")).expect("write");

    let app = TestApp::spawn(StoreKind::Memory, |c| {
        c.persisted_documents = Some(file.clone());
        c.only_persisted = true;
    })
    .await;
    // The file's document, in full or by its id.
    let body = app.gql(app_query, json!({})).await;
    assert_eq!(body["data"]["__typename"], "Query", "{body}");
    let (_, body) = app
        .post_raw(
            "/graphql",
            &json!({"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "my-app-1"}}})
                .to_string(),
        )
        .await;
    assert_eq!(body["data"]["__typename"], "Query", "{body}");
    // Anything else: FORBIDDEN (403 under the spec's media type), an
    // unknown hash PERSISTED_QUERY_NOT_FOUND, and no registering.
    let other = "query Other { __typename }";
    assert_eq!(app.error_code(other, json!({})).await, "FORBIDDEN");
    let (status, _, body) = raw(
        &app,
        reqwest::Method::POST,
        "/graphql",
        &[
            ("content-type", "application/json"),
            ("accept", GRAPHQL_RESPONSE),
        ],
        Some(&json!({"query": other}).to_string()),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let register = json!({"query": other, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(other)}}});
    let (_, body) = app.post_raw("/graphql", &register.to_string()).await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    let (_, body) = app
        .post_raw(
            "/graphql",
            &json!({"extensions": register["extensions"]}).to_string(),
        )
        .await;
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND", "{body}");
    // Over WebSocket too.
    let mut refused = app
        .subscribe(
            crate::common::Protocol::TransportWs,
            "subscription { fleet(lat: 0, lng: 0, radiusKm: 1) { kind } }",
            json!({}),
        )
        .await;
    assert_eq!(refused.expect_error_code().await, "FORBIDDEN");

    // The typed client (and so the simulator) runs on the manifest alone:
    // a driver reports, a rider asks and follows, the ride is matched.
    let api = &app.api;
    api.update_location("d1", DRIVER.0, DRIVER.1)
        .await
        .expect("updateLocation");
    let ride = api
        .request_driver("ana", RIDER.0, RIDER.1)
        .await
        .expect("requestDriver");
    let mut updates = api.ride_status(&ride.id).await.expect("rideStatus");
    let now = within(PATIENCE, "the ride", updates.next())
        .await
        .expect("an update")
        .expect("the ride");
    assert_eq!(now.driver_id.as_deref(), Some("d1"));
    api.cancel_request(&ride.id).await.expect("cancelRequest");
    // And the dashboard's documents are all in the manifest.
    let (status, script) = app.get("/dashboard/documents.js").await;
    assert_eq!(status, 200);
    let json = script
        .trim()
        .trim_start_matches("export default ")
        .trim_end_matches(';');
    let dashboard: BTreeMap<String, String> = serde_json::from_str(json).expect("the documents");
    for text in dashboard.values() {
        assert!(
            manifest.values().any(|t| t == text),
            "{text} is not in the manifest"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn cross_origin_access_only_for_the_listed_origins() {
    const APP: &str = "https://app.example.com";
    const EVIL: &str = "https://evil.example.net";
    let preflight = |app: &TestApp, origin: &'static str, path: &'static str| {
        let app: Client = (**app).clone();
        async move {
            raw(
                &app,
                reqwest::Method::OPTIONS,
                path,
                &[
                    ("origin", origin),
                    ("access-control-request-method", "POST"),
                    (
                        "access-control-request-headers",
                        "content-type, authorization",
                    ),
                ],
                None,
            )
            .await
        }
    };
    let closed = TestApp::spawn(StoreKind::Memory, |_| {}).await;
    let (status, headers, _) = preflight(&closed, APP, "/graphql").await;
    assert!(status >= 400, "no origin is listed by default: {status}");
    assert!(headers.get("access-control-allow-origin").is_none());

    let app = TestApp::spawn(StoreKind::Memory, |c| c.cors_origin = vec![APP.into()]).await;
    for path in ["/graphql", "/graphql/stream"] {
        let (status, headers, _) = preflight(&app, APP, path).await;
        assert_eq!(status, 204, "{path}");
        assert_eq!(header(&headers, "access-control-allow-origin"), APP);
        let methods = header(&headers, "access-control-allow-methods");
        assert!(
            methods.contains("POST") && methods.contains("GET"),
            "{methods}"
        );
        let allowed = header(&headers, "access-control-allow-headers");
        for name in ["content-type", "authorization", "apollographql-client-name"] {
            assert!(allowed.contains(name), "{name} not in {allowed}");
        }
        let (status, headers, _) = preflight(&app, EVIL, path).await;
        assert_eq!(status, 403, "{path}");
        assert!(headers.get("access-control-allow-origin").is_none());
    }
    // The request itself: the listed origin is named, another is not.
    let post = |origin: &'static str| {
        let app: Client = (*app).clone();
        async move {
            raw(
                &app,
                reqwest::Method::POST,
                "/graphql",
                &[("content-type", "application/json"), ("origin", origin)],
                Some(r#"{"query": "{ __typename }"}"#),
            )
            .await
        }
    };
    let (status, headers, _) = post(APP).await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "access-control-allow-origin"), APP);
    let (_, headers, _) = post(EVIL).await;
    assert!(headers.get("access-control-allow-origin").is_none());

    // The WebSocket upgrade: the listed origin, the service's own and no
    // origin pass; another is refused.
    let own = format!("http://{}", app.addr);
    for (origin, allowed) in [
        (Some(APP), true),
        (Some(own.as_str()), true),
        (None, true),
        (Some(EVIL), false),
    ] {
        let header = origin.map(|o| format!("Origin: {o}"));
        let headers: Vec<&str> = header.iter().map(String::as_str).collect();
        let result =
            crate::common::raw_ws::RawSocket::connect(app.addr, "graphql-transport-ws", &headers)
                .await;
        match (result, allowed) {
            (Ok(_), true) => {}
            (Err(head), false) => assert!(head.starts_with("HTTP/1.1 403"), "{head}"),
            (Ok(_), false) => panic!("{origin:?} opened a WebSocket"),
            (Err(head), true) => panic!("{origin:?} was refused: {head}"),
        }
    }
}
