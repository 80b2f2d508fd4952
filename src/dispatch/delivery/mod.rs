//! Delivering each area's event log to the operator's sinks (webhooks,
//! NATS JetStream), in log order, never losing an event.

mod sink;

pub use sink::{Sink, SinkError};
