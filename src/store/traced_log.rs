//! [`Traced`]'s [`EventLog`] calls, each a `debug` span like the others.

use std::time::Duration;

use async_trait::async_trait;
use tracing::instrument;

use super::{
    traced::Traced, DeliveryLease, EventLog, EventPage, EventRetention, SinkId, Store, Trimmed,
};
use crate::{
    domain::error::Result,
    domain::{AreaId, Event, EventId},
};

#[async_trait]
impl<S: Store + ?Sized> EventLog for Traced<S> {
    #[instrument(name = "store.read_events", level = "debug", skip_all, fields(area = %area))]
    async fn read_events(
        &self,
        area: &AreaId,
        after: Option<&EventId>,
        max: usize,
    ) -> Result<EventPage> {
        self.inner().read_events(area, after, max).await
    }

    #[instrument(name = "store.newest_event", level = "debug", skip_all, fields(area = %area))]
    async fn newest_event(&self, area: &AreaId) -> Result<Option<EventId>> {
        self.inner().newest_event(area).await
    }

    #[instrument(name = "store.delivery_lease", level = "debug", skip_all, fields(area = %area, sink = %sink))]
    async fn delivery_lease(
        &self,
        area: &AreaId,
        sink: &SinkId,
        holder: &str,
        lease: Duration,
    ) -> Result<DeliveryLease> {
        self.inner().delivery_lease(area, sink, holder, lease).await
    }

    #[instrument(name = "store.release_delivery", level = "debug", skip_all, fields(area = %area, sink = %sink))]
    async fn release_delivery(&self, area: &AreaId, sink: &SinkId, holder: &str) -> Result<()> {
        self.inner().release_delivery(area, sink, holder).await
    }

    #[instrument(name = "store.acknowledge", level = "debug", skip_all, fields(area = %area, sink = %sink))]
    async fn acknowledge(
        &self,
        area: &AreaId,
        sink: &SinkId,
        holder: &str,
        id: &EventId,
        dead: &[Event],
    ) -> Result<bool> {
        self.inner().acknowledge(area, sink, holder, id, dead).await
    }

    #[instrument(name = "store.trim_events", level = "debug", skip_all, fields(area = %area))]
    async fn trim_events(
        &self,
        area: &AreaId,
        sinks: &[SinkId],
        retention: &EventRetention,
    ) -> Result<Trimmed> {
        self.inner().trim_events(area, sinks, retention).await
    }

    #[instrument(name = "store.redeliver", level = "debug", skip_all, fields(area = %area))]
    async fn redeliver(&self, area: &AreaId, sink: Option<&SinkId>, max: usize) -> Result<usize> {
        self.inner().redeliver(area, sink, max).await
    }

    #[instrument(name = "store.redeliveries", level = "debug", skip_all, fields(area = %area, sink = %sink))]
    async fn redeliveries(&self, area: &AreaId, sink: &SinkId, max: usize) -> Result<Vec<Event>> {
        self.inner().redeliveries(area, sink, max).await
    }

    #[instrument(name = "store.rebury", level = "debug", skip_all, fields(area = %area, sink = %sink))]
    async fn rebury(&self, area: &AreaId, sink: &SinkId, ids: &[EventId]) -> Result<()> {
        self.inner().rebury(area, sink, ids).await
    }

    #[instrument(name = "store.redelivered", level = "debug", skip_all, fields(area = %area, sink = %sink))]
    async fn redelivered(&self, area: &AreaId, sink: &SinkId, ids: &[EventId]) -> Result<()> {
        self.inner().redelivered(area, sink, ids).await
    }

    #[instrument(name = "store.dead_letter_count", level = "debug", skip_all, fields(area = %area))]
    async fn dead_letter_count(&self, area: &AreaId) -> Result<usize> {
        self.inner().dead_letter_count(area).await
    }
}
