//! What traces and logs must not carry (tokens, secrets, positions), and a malformed `traceparent` changing nothing.

use super::*;

/// Every string value among a span's attributes and its events' attributes.
fn all_values(s: &Received) -> Vec<String> {
    let of = |kvs: &[opentelemetry_proto::tonic::common::v1::KeyValue]| -> Vec<String> {
        kvs.iter()
            .filter_map(|kv| kv.value.as_ref()?.value.as_ref())
            .map(|v| match v {
                any_value::Value::StringValue(s) => s.clone(),
                other => format!("{other:?}"),
            })
            .collect()
    };
    let mut out = of(&s.span.attributes);
    out.push(s.span.name.clone());
    for event in &s.span.events {
        out.push(event.name.clone());
        out.extend(of(&event.attributes));
    }
    out
}

/// With `--jwt-secret`, bearer tokens and everything at `debug`: no exported
/// span (attributes or events) and no log line carries the token, the
/// secret, or a position.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_secret_or_position_in_spans_or_logs() {
    use crate::common::tokens::{token, SECRET};
    use tracking::auth::Role;
    let receiver = Receiver::start().await;
    let endpoint = receiver.endpoint();
    let mut cmd = command();
    cmd.env("RUST_LOG", "debug,redis=off");
    let service = ServiceProcess::launch_with(
        cmd,
        &["--otlp-endpoint", endpoint.as_str(), "--jwt-secret", SECRET],
    );
    let driver_token = token("d1", Role::Driver);
    let rider_token = token("r1", Role::Rider);
    let driver = Client::new(service.addr, Some(driver_token.clone()));
    driver.update_location("d1", DRIVER).await;
    let rider = Client::new(service.addr, Some(rider_token.clone()));
    let response = rider
        .http()
        .post(rider.url("/graphql"))
        .bearer_auth(&rider_token)
        .header("traceparent", format!("00-{TRACE_ID}-{PARENT_SPAN}-01"))
        .json(&json!({
            "operationName": "RequestRide",
            "query": "mutation RequestRide($r: ID!, $lat: Float!, $lng: Float!) { requestDriver(riderId: $r, lat: $lat, lng: $lng) { id status } }",
            "variables": {"r": "r1", "lat": RIDER.0, "lng": RIDER.1},
        }))
        .timeout(PATIENCE)
        .send()
        .await
        .expect("POST /graphql");
    let body: serde_json::Value = response.json().await.expect("JSON");
    let ride = id_of(&body["data"]["requestDriver"]);
    // A bad token too: its text must not be logged either.
    let bogus = format!("{}x", &driver_token[..driver_token.len() - 1]);
    let _ = Client::new(service.addr, Some(bogus.clone()))
        .http()
        .post(driver.url("/graphql"))
        .bearer_auth(&bogus)
        .json(&json!({"query": "{ __typename }"}))
        .send()
        .await;
    driver.ride_reaches(&ride, "DRIVER_FOUND").await;
    let spans = eventually("the trace's store spans", || {
        let spans = receiver.spans();
        let done = spans.iter().any(|s| s.span.name == "store.try_match");
        std::future::ready(done.then_some(spans))
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let spans = {
        let mut all = spans;
        all.extend(receiver.spans());
        all
    };
    let secrets = [
        driver_token.as_str(),
        rider_token.as_str(),
        bogus.as_str(),
        SECRET,
    ];
    let positions = [
        format!("{}", DRIVER.0),
        format!("{}", DRIVER.1),
        format!("{}", RIDER.0),
        format!("{}", RIDER.1),
    ];
    for s in &spans {
        for v in all_values(s) {
            for secret in secrets {
                assert!(!v.contains(secret), "a secret in span {}: {v}", s.span.name);
            }
            for p in &positions {
                assert!(
                    !v.contains(p.as_str()),
                    "a position in span {}: {v}",
                    s.span.name
                );
            }
        }
    }
    let log = service.log.lock().unwrap().text();
    for secret in secrets {
        // The signature part alone is enough to leak it.
        let tail = &secret[secret.len().saturating_sub(20)..];
        assert!(!log.contains(tail), "a secret in the logs:\n{log}");
    }
    for p in &positions {
        assert!(
            !log.contains(p.as_str()),
            "a position {p} in the logs:\n{log}"
        );
    }
    service.kill();
}

/// A malformed or huge `traceparent`/`tracestate` answers exactly as no
/// header does, and the service stays up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_traceparent_changes_nothing() {
    let receiver = Receiver::start().await;
    let endpoint = receiver.endpoint();
    let service = ServiceProcess::launch_with(command(), &["--otlp-endpoint", endpoint.as_str()]);
    let client = Client::new(service.addr, None);
    let ask = |tp: Option<(String, String)>| {
        let client = &client;
        async move {
            let mut req = client.http().post(client.url("/graphql")).json(
                &json!({"query": "{ nearbyDrivers(lat: 1, lng: 1, radiusKm: 1) { distanceKm } }"}),
            );
            if let Some((name, value)) = tp {
                req = req.header(name, value);
            }
            let r = req.timeout(PATIENCE).send().await.expect("a response");
            (r.status().as_u16(), r.text().await.unwrap_or_default())
        }
    };
    let plain = ask(None).await;
    let huge = "a".repeat(60_000);
    let cases: Vec<(&str, String)> = vec![
        ("traceparent", String::new()),
        ("traceparent", "00".into()),
        ("traceparent", format!("00-{TRACE_ID}-{PARENT_SPAN}")),
        (
            "traceparent",
            format!("00-{TRACE_ID}-{PARENT_SPAN}-01-extra"),
        ),
        ("traceparent", format!("ff-{TRACE_ID}-{PARENT_SPAN}-01")),
        (
            "traceparent",
            format!("00-{}-{PARENT_SPAN}-01", "0".repeat(32)),
        ),
        (
            "traceparent",
            format!("00-{TRACE_ID}-{}-01", "0".repeat(16)),
        ),
        ("traceparent", format!("00-{TRACE_ID}-{PARENT_SPAN}-zz")),
        (
            "traceparent",
            format!("00-{}-{PARENT_SPAN}-01", "é".repeat(16)),
        ),
        ("traceparent", format!("00-{huge}-{PARENT_SPAN}-01")),
        ("traceparent", huge.clone()),
        ("traceparent", "-".repeat(5000)),
        ("tracestate", format!("k={huge}")),
        ("tracestate", ",".repeat(10_000)),
    ];
    for (name, value) in cases {
        let got = ask(Some((name.to_owned(), value.clone()))).await;
        assert_eq!(got, plain, "{name}: {}", &value[..value.len().min(80)]);
    }
    // Both at once: a valid parent with a huge tracestate.
    let client2 = &client;
    let r = client2
        .http()
        .post(client2.url("/graphql"))
        .header("traceparent", format!("00-{TRACE_ID}-{PARENT_SPAN}-01"))
        .header("tracestate", format!("a={}", "b".repeat(60_000)))
        .json(&json!({"query": "{ nearbyDrivers(lat: 1, lng: 1, radiusKm: 1) { distanceKm } }"}))
        .send()
        .await
        .expect("a response");
    assert_eq!(r.status().as_u16(), plain.0);
    assert_eq!(ask(None).await, plain, "still up");
    service.kill();
}
