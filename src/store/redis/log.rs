//! The Redis store's event log: each area's stream (see `lua/log.lua`).

use std::time::Duration;

use async_trait::async_trait;

use super::RedisStore;
use crate::{
    domain::error::{Error, Result},
    domain::{AreaId, Event, EventId},
    store::{DeliveryLease, EventLog, EventPage, EventRetention, SinkId, Trimmed},
};

#[async_trait]
impl EventLog for RedisStore {
    async fn read_events(
        &self,
        _area: &AreaId,
        _after: Option<&EventId>,
        _max: usize,
    ) -> Result<EventPage> {
        Err(Error::internal("not yet"))
    }

    async fn delivery_lease(
        &self,
        _area: &AreaId,
        _sink: &SinkId,
        _holder: &str,
        _lease: Duration,
    ) -> Result<DeliveryLease> {
        Err(Error::internal("not yet"))
    }

    async fn release_delivery(&self, _area: &AreaId, _sink: &SinkId, _holder: &str) -> Result<()> {
        Err(Error::internal("not yet"))
    }

    async fn acknowledge(
        &self,
        _area: &AreaId,
        _sink: &SinkId,
        _holder: &str,
        _id: &EventId,
        _dead: &[Event],
    ) -> Result<bool> {
        Err(Error::internal("not yet"))
    }

    async fn trim_events(
        &self,
        _area: &AreaId,
        _sinks: &[SinkId],
        _retention: &EventRetention,
    ) -> Result<Trimmed> {
        Err(Error::internal("not yet"))
    }

    async fn redeliver(
        &self,
        _area: &AreaId,
        _sink: Option<&SinkId>,
        _max: usize,
    ) -> Result<usize> {
        Err(Error::internal("not yet"))
    }

    async fn redeliveries(
        &self,
        _area: &AreaId,
        _sink: &SinkId,
        _max: usize,
    ) -> Result<Vec<Event>> {
        Err(Error::internal("not yet"))
    }

    async fn redelivered(&self, _area: &AreaId, _sink: &SinkId, _ids: &[EventId]) -> Result<()> {
        Err(Error::internal("not yet"))
    }

    async fn dead_letter_count(&self, _area: &AreaId) -> Result<usize> {
        Err(Error::internal("not yet"))
    }
}
