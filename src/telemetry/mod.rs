//! What the service tells operators: metrics and traces.
//!
//! - [`metrics`]: the Prometheus metric names and the recorder behind
//!   `GET /metrics` (its items are re-exported here, so code records with
//!   `telemetry::NAME`);
//! - [`traces`]: the `tracing` subscriber (logs) and the OTLP exporter of
//!   spans, with the W3C `traceparent` a request's span continues.

pub mod event_log;
pub mod metrics;
pub mod traces;

pub use self::event_log::dead_letters_dropped;
pub use self::metrics::*;
