//! The event-log side of a store: each area's log of ride and driver
//! changes (written by the store in the same atomic step as the change, see
//! [`crate::domain::Event`]), read back by position, and what delivering it
//! to the operator's sinks needs: one delivery lease and one acknowledged
//! position per (sink, area), trimming that never passes what a sink has
//! not acknowledged, and a bounded dead-letter of what could not be
//! delivered.

use std::time::Duration;

use async_trait::async_trait;

use crate::{
    domain::error::Result,
    domain::{AreaId, Event, EventId},
};

/// Most events one read returns.
pub const MAX_EVENT_PAGE: usize = 1000;
/// Most bytes of a sink's id.
pub const MAX_SINK_ID_LEN: usize = 40;

/// A sink's name in the store (its cursor, its lease, its dead letters):
/// `[a-z0-9-]`, made from the operator's configuration, never from a
/// client's text (`webhook-<8 hex of the URL's SHA-256>`, `nats`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SinkId(String);

impl SinkId {
    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        if crate::domain::is_config_name(s, MAX_SINK_ID_LEN) {
            Ok(Self(s.to_owned()))
        } else {
            Err(format!(
                "sink id {s:?} must be 1 to {MAX_SINK_ID_LEN} bytes of [a-z0-9-]"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SinkId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether a store writes its event log, and what its reports check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogSettings {
    /// Whether changes are logged at all (`--event-log`, or any sink).
    pub enabled: bool,
    /// An assigned driver's first report within this many metres of the
    /// pickup is DRIVER_APPROACHING (`--approach-meters`, per area).
    pub approach_meters: f64,
    /// Most dead letters kept per area (`--max-dead-letters`).
    pub max_dead_letters: usize,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            approach_meters: 300.0,
            max_dead_letters: 100_000,
        }
    }
}

/// How long an area's log keeps its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRetention {
    /// Events older than this are trimmed (once every sink has them).
    pub max_age: Duration,
    /// The hard cap on events kept per area: past it, the oldest go (to
    /// the dead letters, for each sink that had not acknowledged them).
    pub max_events: usize,
    /// Most dead letters kept per area (the oldest go past it, counted).
    pub max_dead_letters: usize,
}

impl Default for EventRetention {
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(3600),
            max_events: 1_000_000,
            max_dead_letters: 100_000,
        }
    }
}

/// A page of an area's log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventPage {
    /// In log order.
    pub events: Vec<Event>,
    /// The area's epoch (`None`: the area has logged nothing yet).
    pub epoch: Option<String>,
    /// False when `after` was of another epoch, or older than the oldest
    /// event kept: events may have been missed (the page then starts at
    /// the oldest kept).
    pub recovered: bool,
}

/// A (sink, area) delivery lease, as asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryLease {
    /// Held by the asker until the lease runs out; delivery resumes after
    /// `acked` (the sink's last acknowledged event; `None`: nothing yet, or
    /// of a past epoch: from the oldest kept).
    Held { acked: Option<EventId> },
    /// Another instance holds it.
    Elsewhere,
}

/// What one trim did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Trimmed {
    /// Events removed that every sink had.
    pub trimmed: usize,
    /// Events removed past the hard cap that some sink had not
    /// acknowledged: moved to the dead letters.
    pub dead_lettered: usize,
    /// Dead letters dropped past their own cap.
    pub dead_letters_dropped: usize,
    /// Events the area's log holds now.
    pub kept: usize,
}

/// What a store does for the event log.
#[async_trait]
pub trait EventLog: Send + Sync + 'static {
    /// Up to `max` (≤ [`MAX_EVENT_PAGE`]) events of `area`'s log after
    /// `after` (`None`: from the oldest kept), in log order.
    async fn read_events(
        &self,
        area: &AreaId,
        after: Option<&EventId>,
        max: usize,
    ) -> Result<EventPage>;

    /// The id of the newest event `area`'s log has written (`None`: none
    /// yet): where a reader that wants only what comes next starts.
    async fn newest_event(&self, area: &AreaId) -> Result<Option<EventId>>;

    /// Takes or renews the delivery lease of (`sink`, `area`) for `holder`
    /// for `lease`.
    async fn delivery_lease(
        &self,
        area: &AreaId,
        sink: &SinkId,
        holder: &str,
        lease: Duration,
    ) -> Result<DeliveryLease>;

    /// Gives the lease up, if `holder` holds it (on shutdown).
    async fn release_delivery(&self, area: &AreaId, sink: &SinkId, holder: &str) -> Result<()>;

    /// Stores `id` as the sink's last acknowledged event, if `holder` still
    /// holds the lease (false: it does not; nothing changed). With
    /// `dead`, the events after the one acknowledged before, through `id`,
    /// were not delivered: they are copied to the dead letters, for `sink`.
    async fn acknowledge(
        &self,
        area: &AreaId,
        sink: &SinkId,
        holder: &str,
        id: &EventId,
        dead: &[Event],
    ) -> Result<bool>;

    /// Trims `area`'s log: events older than the retention's age, and past
    /// its cap, but never one a sink of `sinks` has not acknowledged,
    /// except past the hard cap, where the oldest go to the dead letters
    /// of the sinks that lacked them. Bounded work per call.
    async fn trim_events(
        &self,
        area: &AreaId,
        sinks: &[SinkId],
        retention: &EventRetention,
    ) -> Result<Trimmed>;

    /// Moves up to `max` of `area`'s dead letters (those of `sink`, or
    /// all) to their sinks' redelivery queues; returns how many.
    async fn redeliver(&self, area: &AreaId, sink: Option<&SinkId>, max: usize) -> Result<usize>;

    /// The oldest `max` events queued for redelivery to `sink`.
    async fn redeliveries(&self, area: &AreaId, sink: &SinkId, max: usize) -> Result<Vec<Event>>;

    /// Moves events of `sink`'s redelivery queue back to the dead letters
    /// (a redelivery the sink still refused past its max age).
    async fn rebury(&self, area: &AreaId, sink: &SinkId, ids: &[EventId]) -> Result<()>;

    /// Removes redelivered events from `sink`'s queue.
    async fn redelivered(&self, area: &AreaId, sink: &SinkId, ids: &[EventId]) -> Result<()>;

    /// How many dead letters `area` holds.
    async fn dead_letter_count(&self, area: &AreaId) -> Result<usize>;
}
