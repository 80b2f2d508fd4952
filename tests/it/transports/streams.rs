//! Subscriptions streamed over HTTP (Apollo's multipart protocol and
//! Server-Sent Events): they follow a ride, across instances too, obey
//! tokens, roles and limits, send heartbeats, end cleanly, and count
//! against the connection cap.

use std::time::Duration;

use serde_json::json;
use tracking::auth::{mint, Role};

use crate::common::{
    error_code_of, eventually, id_of,
    instances::two_instances,
    metric,
    streams::{HttpStream, Part, Streaming},
    within, ServiceProcess, StoreKind, TestApp, DRIVER, RIDER,
};

const SECRET: &str = "a-test-secret-of-enough-bytes";

pub(super) const STATUS: &str = "subscription($id: ID!) { rideStatus(rideId: $id) { id status } }";

/// A ride followed over both HTTP streams at once, from SEARCHING through
/// DRIVER_FOUND to CANCELLED, each stream ending with the ride.
pub(super) async fn streams_follow_a_ride(store: StoreKind) {
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
    let (first, second) = two_instances(StoreKind::Redis, |_| {}).await;
    streams_cross_instances(first, second).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_on_one_instance_sees_a_ride_matched_by_another_on_a_cluster() {
    let (first, second) = two_instances(StoreKind::Cluster, |_| {}).await;
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
                    assert_eq!(error_code_of(&payload), expected, "{protocol:?}: {payload}")
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
        assert_eq!(
            error_code_of(&body),
            "BAD_USER_INPUT",
            "{protocol:?}: {body}"
        );
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
        assert_eq!(
            error_code_of(&failure),
            "UNAUTHENTICATED",
            "{protocol:?}: {failure}"
        );
        assert_eq!(stream.next().await, Part::End, "{protocol:?}");
    }
}

#[tokio::test]
async fn streams_send_heartbeats_and_are_freed_the_moment_the_client_goes() {
    // A process of its own, so that its gauges count its streams alone.
    let service = ServiceProcess::start(&["--stream-heartbeat", "100ms"]);
    let app = TestApp::attach(service.addr);
    let id = id_of(&app.request_driver("ana", RIDER).await);
    let gauge = |metrics: &str, transport: &str| {
        metric(
            metrics,
            &format!("tracking_http_streams{{transport=\"{transport}\"}}"),
        )
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
        Part::Next(payload) => assert_eq!(error_code_of(&payload), "UNAVAILABLE", "{payload}"),
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
