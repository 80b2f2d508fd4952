//! What a sink is to the delivery runner: somewhere a batch of one area's
//! events is sent, in log order, that says whether it took them.

use std::time::Duration;

use async_trait::async_trait;

use crate::{
    domain::{AreaId, Event, EventType},
    store::SinkId,
};

/// Why a batch was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    /// Worth trying again (a 5xx, a 429, a timeout, a refused connection,
    /// no JetStream ack): the runner backs off and re-sends the same batch.
    #[error("{0}")]
    Retry(String),
    /// Worth trying again, but not before this long (a `Retry-After`).
    #[error("{message} (retry after {after:?})")]
    RetryAfter { message: String, after: Duration },
}

/// A destination of events.
#[async_trait]
pub trait Sink: Send + Sync + 'static {
    /// Its name in the store (cursors, leases, dead letters) and in metric
    /// labels: from the operator's configuration, never from a client.
    fn id(&self) -> &SinkId;

    /// Whether it wants events of this type (the rest are acknowledged
    /// without being sent).
    fn wants(&self, kind: EventType) -> bool;

    /// Most events in one batch.
    fn max_batch(&self) -> usize;

    /// How long an event may go undelivered before it is dead-lettered
    /// (`None`: forever: the sink holds the log back instead).
    fn max_age(&self) -> Option<Duration>;

    /// Sends `events` (of `area`, in log order, at least one): `Ok` once
    /// the sink has taken all of them. Re-sending a batch sends the same
    /// ids, so a sink can drop what it has seen.
    async fn send(&self, area: &AreaId, events: &[Event]) -> Result<(), SinkError>;
}
