//! Delivering each area's event log to the operator's sinks (webhooks,
//! NATS JetStream), in log order, never losing an event.

mod nats;
mod nats_check;
mod sink;

pub use nats::{subject, NatsSettings, NatsSink, NATS_MAX_BATCH, NATS_SINK_ID, PUBLISH_TIMEOUT};
pub use nats_check::{check_streams, spawn_check, StreamCheck};
pub use sink::{Sink, SinkError};
