//! Traces over OTLP: one trace from an HTTP request to the store call,
//! and the standard `OTEL_*` variables (service name, sampler, endpoint).
//!
//! Scenarios: `export.rs` (one trace from a `traceparent` to the store
//! call, an offer's answer as one store call, the `OTEL_*` variables);
//! `secrets.rs` (no token, secret or position in spans or logs; a malformed
//! `traceparent` changes nothing). This file: the receiver and helpers.
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

mod export;
mod secrets;
