//! Logs and traces: the `tracing` subscriber, and its OTLP exporter.
//!
//! [`init`] installs one subscriber for the process: the `RUST_LOG` filter
//! (default `info`, Redis's reconnect chatter off unless named), log lines
//! as text or JSON, and, when an endpoint is given (`--otlp-endpoint`, or
//! the standard `OTEL_EXPORTER_OTLP_ENDPOINT` /
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), a layer that turns the spans the
//! filter lets through into OpenTelemetry spans, batched (the SDK's bounded
//! queue, 2,048 spans by default, `OTEL_BSP_*`) and sent over OTLP/HTTP
//! (protobuf) from the SDK's own thread. The SDK itself reads
//! `OTEL_TRACES_SAMPLER`/`OTEL_TRACES_SAMPLER_ARG`, `OTEL_SERVICE_NAME` and
//! `OTEL_RESOURCE_ATTRIBUTES`, and the exporter its `OTEL_EXPORTER_OTLP_*`
//! headers, timeout and path rules; the service name defaults to
//! `tracking` here.
//!
//! [`remote_parent`] reads a request's W3C `traceparent`, so a request's
//! span continues the caller's trace.

use std::io::IsTerminal;

use opentelemetry::{
    propagation::{Extractor, TextMapPropagator},
    trace::TracerProvider as _,
    Context,
};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::{propagation::TraceContextPropagator, trace::SdkTracerProvider, Resource};
use tracing_subscriber::{
    filter::{filter_fn, Targets},
    layer::SubscriberExt,
    util::SubscriberInitExt,
    EnvFilter, Layer, Registry,
};

/// The service name traces carry unless `OTEL_SERVICE_NAME` (or
/// `service.name` in `OTEL_RESOURCE_ATTRIBUTES`) says otherwise.
pub const SERVICE_NAME: &str = "tracking";

/// What [`init`] sets up.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Log lines as JSON objects rather than text.
    pub json_logs: bool,
    /// Where to send traces: the collector's base URL (`/v1/traces` is
    /// appended, as for `OTEL_EXPORTER_OTLP_ENDPOINT`). `None`: the
    /// `OTEL_EXPORTER_OTLP_*` variables decide, and without them no traces
    /// leave the process.
    pub otlp_endpoint: Option<String>,
}

/// Why tracing could not start.
#[derive(Debug, thiserror::Error)]
pub enum TracesError {
    /// The OTLP exporter refused its configuration (a bad endpoint URL).
    #[error("cannot export traces: {0}")]
    Exporter(String),
    /// Another subscriber was installed first.
    #[error("cannot install the log subscriber: {0}")]
    Subscriber(String),
}

/// Keeps the exporter running; [`Guard::shutdown`] (or dropping it) sends
/// the spans still queued. Drop it after the runtime has ended.
#[must_use = "dropping the guard stops the exporter"]
#[derive(Debug, Default)]
pub struct Guard {
    provider: Option<SdkTracerProvider>,
}

impl Guard {
    /// Sends what is queued and stops the exporter (bounded by the
    /// exporter's timeout).
    pub fn shutdown(&mut self) {
        if let Some(provider) = self.provider.take() {
            if let Err(error) = provider.shutdown() {
                eprintln!("tracking: flushing traces: {error}");
            }
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Installs the process's subscriber (see the module's doc); call once,
/// before the runtime starts.
pub fn init(options: &Options) -> Result<Guard, TracesError> {
    let provider = match exporter_wanted(options) {
        true => Some(provider(options.otlp_endpoint.as_deref())?),
        false => None,
    };
    let otel = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer(SERVICE_NAME))
            .with_tracked_inactivity(false)
    });
    let text = (!options.json_logs).then(|| {
        tracing_subscriber::fmt::layer()
            .with_ansi(std::io::stdout().is_terminal())
            .with_filter(filter_fn(logged))
    });
    let json = options.json_logs.then(|| {
        tracing_subscriber::fmt::layer()
            .json()
            .with_filter(filter_fn(logged))
    });
    tracing_subscriber::registry()
        .with(filter())
        .with(text)
        .with(json)
        .with(otel)
        .try_init()
        .map_err(|error| TracesError::Subscriber(error.to_string()))?;
    Ok(Guard { provider })
}

/// The spans a log line names as its context: a request's and a ride's
/// search, as before traces were added. The others (resolvers, dispatcher
/// steps, store calls) go to the exporter only: formatting their fields for
/// logs that rarely print inside them would cost every request (measured:
/// docs/benchmarks.md, traces' cost).
const LOGGED_SPANS: &[&str] = &["ride"];

/// Whether the log layers see `meta`: every event, and the [`LOGGED_SPANS`].
fn logged(meta: &tracing::Metadata<'_>) -> bool {
    meta.is_event() || LOGGED_SPANS.contains(&meta.name())
}

/// `RUST_LOG` (default `info`), with redis-rs's reconnect logging off unless
/// named: it logs every try of a Cluster connection (hundreds a second in a
/// failover), and the service says once what fails and recovers.
///
/// Plain `target=level` directives (the usual case) make a [`Targets`]
/// filter, which decides once per call site; only directives that name a
/// span or a field (`[…]`, `{…}`) need an [`EnvFilter`], which also looks
/// at every span entered (measured: docs/benchmarks.md, traces' cost).
fn filter() -> Box<dyn Layer<Registry> + Send + Sync> {
    let wanted = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
    let wanted = if wanted.contains("redis") {
        wanted
    } else {
        format!("{wanted},redis=off")
    };
    if !wanted.contains(['[', '{']) {
        if let Ok(targets) = wanted.parse::<Targets>() {
            return Box::new(targets);
        }
    }
    Box::new(EnvFilter::new(wanted))
}

/// The flag, or one of the standard endpoint variables.
fn exporter_wanted(options: &Options) -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    options.otlp_endpoint.is_some()
        || set("OTEL_EXPORTER_OTLP_ENDPOINT")
        || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
}

/// The tracer provider: OTLP/HTTP protobuf, batched.
fn provider(endpoint: Option<&str>) -> Result<SdkTracerProvider, TracesError> {
    let mut exporter = opentelemetry_otlp::SpanExporter::builder().with_http();
    if let Some(base) = endpoint {
        exporter = exporter.with_endpoint(traces_url(base));
    }
    let exporter = exporter
        .build()
        .map_err(|error| TracesError::Exporter(error.to_string()))?;
    let mut resource = Resource::builder();
    if !service_named_by_environment() {
        resource = resource.with_service_name(SERVICE_NAME);
    }
    Ok(SdkTracerProvider::builder()
        .with_resource(resource.build())
        .with_batch_exporter(exporter)
        .build())
}

/// `base` with the traces path, as the OTLP spec builds it from
/// `OTEL_EXPORTER_OTLP_ENDPOINT`.
fn traces_url(base: &str) -> String {
    format!("{}/v1/traces", base.trim_end_matches('/'))
}

fn service_named_by_environment() -> bool {
    std::env::var("OTEL_SERVICE_NAME").is_ok_and(|name| !name.is_empty())
        || std::env::var("OTEL_RESOURCE_ATTRIBUTES").is_ok_and(|attributes| {
            attributes
                .split(',')
                .any(|pair| pair.trim_start().starts_with("service.name="))
        })
}

/// The caller's trace context from a W3C `traceparent` (and `tracestate`)
/// header, as `header` looks a header up by name (this layer names no HTTP
/// type); `None` without one (or with one that does not parse).
pub fn remote_parent<'h>(header: impl Fn(&str) -> Option<&'h str>) -> Option<Context> {
    header("traceparent")?;
    let context = TraceContextPropagator::new().extract(&Headers(header, std::marker::PhantomData));
    use opentelemetry::trace::TraceContextExt as _;
    context.span().span_context().is_valid().then_some(context)
}

/// Makes `span` a child of `parent` in the exported trace, without making
/// it `parent`'s child in `tracing`: a task that outlives the request that
/// started it (a ride's search) stays in the request's trace, while the
/// request's span still ends (and is exported) when the request does.
/// Without an exporter it does nothing.
pub fn continue_trace(span: &tracing::Span, parent: &tracing::Span) {
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    // Fails only when no exporter runs: there is no trace to continue.
    let _ = span.set_parent(parent.context());
}

/// The trace-context headers, as the propagator reads them.
/// (The marker ties the headers' lifetime to the extractor's, so what `get`
/// returns outlives the borrow of the extractor.)
struct Headers<'h, F>(F, std::marker::PhantomData<&'h str>);

impl<'h, F: Fn(&str) -> Option<&'h str>> Extractor for Headers<'h, F> {
    fn get(&self, key: &str) -> Option<&str> {
        (self.0)(key)
    }

    fn keys(&self) -> Vec<&str> {
        vec!["traceparent", "tracestate"]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_traces_path_follows_the_base_url() {
        assert_eq!(
            traces_url("http://127.0.0.1:4318"),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(traces_url("http://c:4318/"), "http://c:4318/v1/traces");
    }

    #[test]
    fn a_traceparent_becomes_the_parent() {
        let header =
            |value: &'static str| move |name: &str| (name == "traceparent").then_some(value);
        assert!(remote_parent(|_| None).is_none());
        let context = remote_parent(header(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ))
        .expect("a valid traceparent");
        use opentelemetry::trace::TraceContextExt as _;
        assert_eq!(
            context.span().span_context().trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert!(remote_parent(header("nonsense")).is_none());
    }
}
