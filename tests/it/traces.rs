//! Traces over OTLP: one trace from an HTTP request to the store call,
//! and the standard `OTEL_*` variables (service name, sampler, endpoint).
//!
//! The service runs as a process exporting to a receiver the test serves
//! (`POST /v1/traces`, the OTLP/HTTP protobuf decoded with
//! `opentelemetry-proto`), and the assertions read what arrived.

use std::{
    collections::HashMap,
    net::SocketAddr,
    process::Command,
    sync::{Arc, Mutex},
};

use axum::{body::Bytes, http::HeaderMap, routing::post, Router};
use opentelemetry_proto::tonic::{
    collector::trace::v1::ExportTraceServiceRequest, common::v1::any_value, trace::v1::Span,
};
use prost::Message;
use serde_json::json;

use crate::common::{
    eventually, id_of, process::tracking_command, Client, ServiceProcess, DRIVER, PATIENCE, RIDER,
};

/// The caller's trace: the service's spans must join it.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
/// The caller's span: the parent of the service's request span.
const PARENT_SPAN: &str = "00f067aa0ba902b7";

/// A span as received, with the service that sent it.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    span: Span,
}

impl Received {
    fn trace_id(&self) -> String {
        hex(&self.span.trace_id)
    }

    fn id(&self) -> String {
        hex(&self.span.span_id)
    }

    fn parent(&self) -> String {
        hex(&self.span.parent_span_id)
    }

    /// A string attribute of the span.
    fn attribute(&self, key: &str) -> Option<String> {
        self.span
            .attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.as_ref()?.value.as_ref())
            .map(|value| match value {
                any_value::Value::StringValue(s) => s.clone(),
                other => format!("{other:?}"),
            })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An OTLP/HTTP receiver on a free port, keeping every span it is sent.
struct Receiver {
    addr: SocketAddr,
    spans: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start() -> Self {
        let spans: Arc<Mutex<Vec<Received>>> = Arc::default();
        let kept = spans.clone();
        let app = Router::new().route(
            "/v1/traces",
            post(move |headers: HeaderMap, body: Bytes| {
                let kept = kept.clone();
                async move {
                    let request = decode(&headers, &body);
                    let mut kept = kept.lock().unwrap();
                    for resource in request.resource_spans {
                        let service = resource
                            .resource
                            .iter()
                            .flat_map(|r| &r.attributes)
                            .find(|kv| kv.key == "service.name")
                            .and_then(|kv| kv.value.as_ref()?.value.as_ref())
                            .map(|v| match v {
                                any_value::Value::StringValue(s) => s.clone(),
                                other => format!("{other:?}"),
                            })
                            .unwrap_or_default();
                        for scope in resource.scope_spans {
                            for span in scope.spans {
                                kept.push(Received {
                                    service: service.clone(),
                                    span,
                                });
                            }
                        }
                    }
                    // An empty ExportTraceServiceResponse: all accepted.
                    (
                        [("content-type", "application/x-protobuf")],
                        Vec::<u8>::new(),
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, spans }
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn spans(&self) -> Vec<Received> {
        self.spans.lock().unwrap().clone()
    }
}

/// The request body, gunzipped when the exporter compressed it.
fn decode(headers: &HeaderMap, body: &[u8]) -> ExportTraceServiceRequest {
    let gzip = headers
        .get("content-encoding")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let bytes = if gzip {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(body), &mut out)
            .expect("a gzip body");
        out
    } else {
        body.to_vec()
    };
    ExportTraceServiceRequest::decode(bytes.as_slice()).expect("an OTLP protobuf body")
}

/// The binary with no `OTEL_*` variable inherited, the store's spans let
/// through, and batches sent every 100 ms (not every 5 s).
fn command() -> Command {
    let mut command = tracking_command();
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("OTEL_") {
            command.env_remove(name);
        }
    }
    command
        .env("RUST_LOG", "info,tracking::store::traced=debug")
        .env("OTEL_BSP_SCHEDULE_DELAY", "100");
    command
}

/// Posts `requestDriver` with a W3C `traceparent`; returns the ride's id.
async fn request_with_traceparent(client: &Client, traceparent: &str) -> String {
    let response = client
        .http()
        .post(client.url("/graphql"))
        .header("traceparent", traceparent)
        .json(&json!({
            "operationName": "RequestRide",
            "query": "mutation RequestRide($r: ID!, $lat: Float!, $lng: Float!) { requestDriver(riderId: $r, lat: $lat, lng: $lng) { id status } }",
            "variables": {"r": "r1", "lat": RIDER.0, "lng": RIDER.1},
        }))
        .timeout(PATIENCE)
        .send()
        .await
        .expect("POST /graphql");
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.expect("a JSON body");
    id_of(&body["data"]["requestDriver"])
}

/// The one span named `name` among `spans`, for the failure message all
/// that arrived.
fn named<'s>(spans: &'s [Received], name: &str) -> &'s Received {
    let found: Vec<&Received> = spans.iter().filter(|s| s.span.name == name).collect();
    assert_eq!(
        found.len(),
        1,
        "one `{name}` span in the trace; got: {:?}",
        spans.iter().map(|s| &s.span.name).collect::<Vec<_>>()
    );
    found[0]
}

/// One trace goes from the caller's `traceparent` through the HTTP request,
/// the resolver and the dispatcher into the background search and the
/// store calls it makes, every parent link intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_from_the_request_to_the_store_call() {
    let receiver = Receiver::start().await;
    let endpoint = receiver.endpoint();
    let service = ServiceProcess::launch_with(command(), &["--otlp-endpoint", endpoint.as_str()]);
    let client = Client::new(service.addr, None);
    client.update_location("d1", DRIVER).await;
    let ride = request_with_traceparent(&client, &format!("00-{TRACE_ID}-{PARENT_SPAN}-01")).await;
    client.ride_reaches(&ride, "DRIVER_FOUND").await;

    // The search task's span ends when the ride is matched; the trace is
    // whole once the store call inside its round has arrived too.
    let trace = eventually("the search and its store call to be exported", || {
        let spans: Vec<Received> = receiver
            .spans()
            .into_iter()
            .filter(|s| s.trace_id() == TRACE_ID)
            .collect();
        let done = ["ride", "dispatch.search", "store.try_match", "request"]
            .iter()
            .all(|name| spans.iter().any(|s| s.span.name == *name));
        std::future::ready(done.then_some(spans))
    })
    .await;

    let request = named(&trace, "request");
    assert_eq!(
        request.parent(),
        PARENT_SPAN,
        "the caller's span is the parent"
    );
    assert_eq!(request.service, "tracking", "the default service name");
    let resolver = named(&trace, "Mutation.requestDriver");
    assert_eq!(
        resolver.parent(),
        request.id(),
        "resolver under the request"
    );
    assert_eq!(
        resolver.attribute("operation").as_deref(),
        Some("RequestRide")
    );
    let dispatch = named(&trace, "request_driver");
    assert_eq!(
        dispatch.parent(),
        resolver.id(),
        "dispatch under the resolver"
    );
    assert_eq!(dispatch.attribute("rider").as_deref(), Some("r1"));
    let created = named(&trace, "store.create_ride");
    assert_eq!(
        created.parent(),
        dispatch.id(),
        "store call under the dispatch step"
    );
    let search = named(&trace, "ride");
    assert_eq!(
        search.parent(),
        dispatch.id(),
        "the search under the request's dispatch step"
    );
    assert_eq!(search.attribute("ride_id").as_deref(), Some(ride.as_str()));
    let round = trace
        .iter()
        .find(|s| s.span.name == "dispatch.search" && s.parent() == search.id())
        .expect("a search round under the search");
    let store_call = trace
        .iter()
        .find(|s| s.span.name == "store.try_match" && s.parent() == round.id())
        .expect("the round's store call under it");
    assert_eq!(store_call.attribute("ride").as_deref(), Some(ride.as_str()));

    // No secret and no position rides along: only ids and names.
    let attributes: HashMap<String, usize> = trace
        .iter()
        .flat_map(|s| s.span.attributes.iter().map(|kv| kv.key.clone()))
        .fold(HashMap::new(), |mut seen, key| {
            *seen.entry(key).or_default() += 1;
            seen
        });
    for forbidden in ["lat", "lng", "token", "authorization", "at", "center"] {
        assert!(
            !attributes.contains_key(forbidden),
            "{forbidden} in {attributes:?}"
        );
    }
    service.kill();
}

/// An offer's answer is one store call: the store's atomic step says
/// whether the ride and its offer exist and when the offer was made, so
/// the dispatcher reads nothing before it (it used to read the ride first:
/// one Redis round trip more per answer). Seen in the trace: under the
/// `answer_offer` step, `store.answer_offer` is the only store span.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_answer_is_one_store_call() {
    const ANSWER_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
    let receiver = Receiver::start().await;
    let endpoint = receiver.endpoint();
    let service = ServiceProcess::launch_with(
        command(),
        &[
            "--otlp-endpoint",
            endpoint.as_str(),
            "--offer-timeout",
            "60s",
        ],
    );
    let client = Client::new(service.addr, None);
    client.update_location("d1", DRIVER).await;
    let ride = request_with_traceparent(&client, &format!("00-{TRACE_ID}-{PARENT_SPAN}-01")).await;
    // Offered: the driver is held (the ride itself stays SEARCHING).
    eventually("the driver to be offered the ride", || async {
        (client.driver("d1").await["status"] == "OFFERED").then_some(())
    })
    .await;

    let response = client
        .http()
        .post(client.url("/graphql"))
        .header("traceparent", format!("00-{ANSWER_TRACE}-{PARENT_SPAN}-01"))
        .json(&json!({
            "query": "mutation($id: ID!) { acceptOffer(rideId: $id) { id status } }",
            "variables": {"id": ride},
        }))
        .timeout(PATIENCE)
        .send()
        .await
        .expect("POST /graphql");
    let body: serde_json::Value = response.json().await.expect("a JSON body");
    assert_eq!(
        body["data"]["acceptOffer"]["status"], "DRIVER_FOUND",
        "{body}"
    );

    // The request's span ends last: once it is here, the answer's are too.
    let trace = eventually("the answer's request span to be exported", || {
        let spans: Vec<Received> = receiver
            .spans()
            .into_iter()
            .filter(|s| s.trace_id() == ANSWER_TRACE)
            .collect();
        let done = spans.iter().any(|s| s.span.name == "request");
        std::future::ready(done.then_some(spans))
    })
    .await;
    let step = named(&trace, "answer_offer");
    let store_calls: Vec<&str> = trace
        .iter()
        .filter(|s| s.span.name.starts_with("store.") && s.parent() == step.id())
        .map(|s| s.span.name.as_str())
        .collect();
    assert_eq!(
        store_calls,
        ["store.answer_offer"],
        "the answer's store calls"
    );
    service.kill();
}

/// `OTEL_EXPORTER_OTLP_ENDPOINT` alone turns export on and
/// `OTEL_SERVICE_NAME` names the service; `OTEL_TRACES_SAMPLER=always_off`
/// exports nothing, even for a caller's sampled trace (checked after the
/// process has flushed and exited).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_otel_variables_name_the_service_and_choose_the_sampler() {
    let receiver = Receiver::start().await;
    let endpoint = receiver.endpoint();

    let mut named_command = command();
    named_command
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
        .env("OTEL_SERVICE_NAME", "dispatch-eu");
    let on = ServiceProcess::launch_with(named_command, &[]);
    let on_client = Client::new(on.addr, None);
    request_with_traceparent(&on_client, &format!("00-{TRACE_ID}-{PARENT_SPAN}-01")).await;
    eventually("the named service's request span", || {
        let seen = receiver
            .spans()
            .iter()
            .any(|s| s.service == "dispatch-eu" && s.span.name == "request");
        std::future::ready(seen.then_some(()))
    })
    .await;

    let mut off_command = command();
    off_command
        .env("OTEL_SERVICE_NAME", "sampled-off")
        .env("OTEL_TRACES_SAMPLER", "always_off");
    let mut off = ServiceProcess::launch_with(off_command, &["--otlp-endpoint", &endpoint]);
    let off_client = Client::new(off.addr, None);
    off_client.update_location("d2", DRIVER).await;
    request_with_traceparent(
        &off_client,
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    )
    .await;
    // A graceful stop sends whatever is queued before the process exits.
    off.terminate();
    let status = off.wait(PATIENCE).expect("the service stops on SIGTERM");
    assert!(status.success(), "clean exit: {status:?}");
    let leaked: Vec<String> = receiver
        .spans()
        .iter()
        .filter(|s| s.service == "sampled-off")
        .map(|s| s.span.name.clone())
        .collect();
    assert!(leaked.is_empty(), "always_off exported {leaked:?}");
    on.kill();
}

// ---- attacks (branch atk) ----

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
async fn atk_no_token_secret_or_position_in_spans_or_logs() {
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
                assert!(!v.contains(p.as_str()), "a position in span {}: {v}", s.span.name);
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
        assert!(!log.contains(p.as_str()), "a position {p} in the logs:\n{log}");
    }
    service.kill();
}

/// A malformed or huge `traceparent`/`tracestate` answers exactly as no
/// header does, and the service stays up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atk_malformed_traceparent_changes_nothing() {
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
        ("traceparent", format!("00-{TRACE_ID}-{PARENT_SPAN}-01-extra")),
        ("traceparent", format!("ff-{TRACE_ID}-{PARENT_SPAN}-01")),
        ("traceparent", format!("00-{}-{PARENT_SPAN}-01", "0".repeat(32))),
        ("traceparent", format!("00-{TRACE_ID}-{}-01", "0".repeat(16))),
        ("traceparent", format!("00-{TRACE_ID}-{PARENT_SPAN}-zz")),
        ("traceparent", format!("00-{}-{PARENT_SPAN}-01", "é".repeat(16))),
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
