//! Each area's event log is its own store's: [`EventLog`] calls go to the
//! store of the area they name (the outside store logs nothing anyone
//! asks for: it holds no rides).

use std::time::Duration;

use async_trait::async_trait;

use super::AreaStores;
use crate::{
    domain::error::{Error, Result},
    domain::{AreaId, Event, EventId},
    store::{DeliveryLease, EventLog, EventPage, EventRetention, SinkId, Store, Trimmed},
};

impl AreaStores {
    fn log_of(&self, area: &AreaId) -> Result<&dyn Store> {
        self.store_of(area)
            .map(|(_, store)| store.as_ref())
            .ok_or_else(|| Error::not_found(format!("no service area {area}")))
    }
}

#[async_trait]
impl EventLog for AreaStores {
    async fn read_events(
        &self,
        area: &AreaId,
        after: Option<&EventId>,
        max: usize,
    ) -> Result<EventPage> {
        self.log_of(area)?.read_events(area, after, max).await
    }

    async fn newest_event(&self, area: &AreaId) -> Result<Option<EventId>> {
        self.log_of(area)?.newest_event(area).await
    }

    async fn delivery_lease(
        &self,
        area: &AreaId,
        sink: &SinkId,
        holder: &str,
        lease: Duration,
    ) -> Result<DeliveryLease> {
        self.log_of(area)?
            .delivery_lease(area, sink, holder, lease)
            .await
    }

    async fn release_delivery(&self, area: &AreaId, sink: &SinkId, holder: &str) -> Result<()> {
        self.log_of(area)?
            .release_delivery(area, sink, holder)
            .await
    }

    async fn acknowledge(
        &self,
        area: &AreaId,
        sink: &SinkId,
        holder: &str,
        id: &EventId,
        dead: &[Event],
    ) -> Result<bool> {
        self.log_of(area)?
            .acknowledge(area, sink, holder, id, dead)
            .await
    }

    async fn trim_events(
        &self,
        area: &AreaId,
        sinks: &[SinkId],
        retention: &EventRetention,
    ) -> Result<Trimmed> {
        self.log_of(area)?.trim_events(area, sinks, retention).await
    }

    async fn redeliver(&self, area: &AreaId, sink: Option<&SinkId>, max: usize) -> Result<usize> {
        self.log_of(area)?.redeliver(area, sink, max).await
    }

    async fn redeliveries(&self, area: &AreaId, sink: &SinkId, max: usize) -> Result<Vec<Event>> {
        self.log_of(area)?.redeliveries(area, sink, max).await
    }

    async fn rebury(&self, area: &AreaId, sink: &SinkId, ids: &[EventId]) -> Result<()> {
        self.log_of(area)?.rebury(area, sink, ids).await
    }

    async fn redelivered(&self, area: &AreaId, sink: &SinkId, ids: &[EventId]) -> Result<()> {
        self.log_of(area)?.redelivered(area, sink, ids).await
    }

    async fn dead_letter_count(&self, area: &AreaId) -> Result<usize> {
        self.log_of(area)?.dead_letter_count(area).await
    }
}
