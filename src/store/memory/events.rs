//! The memory store's event log: what each change logs (called under the
//! store's lock, so a change and its event happen together), and the
//! [`EventLog`] operations.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{chrono_duration, fleet::DriverRecord, fleet::DriverState, Inner, MemoryStore};
use crate::{
    domain::error::{Error, Result},
    domain::{
        driver_change_event, ride_change_events, AreaId, Driver, DriverStatus, EventId, EventType,
        NewEvent, Ride, RideStatus,
    },
    store::{DeliveryLease, EventLog, EventPage, EventRetention, SinkId, Trimmed, MAX_EVENT_PAGE},
};

impl MemoryStore {
    /// Logs what a ride's change made (the ride before is still stored).
    pub(super) fn log_ride(&self, inner: &mut Inner, ride: &Arc<Ride>) {
        let before = inner.rides.get(&ride.id).cloned();
        let now = Utc::now();
        for kind in ride_change_events(before.as_deref(), ride) {
            inner.log.append(NewEvent::ride(kind, ride.clone()), now);
            self.events.logged();
        }
        let was = before.as_ref().map(|r| r.status);
        if let Some(driver) = &ride.driver_id {
            if ride.status == RideStatus::DriverFound && was != Some(RideStatus::DriverFound) {
                inner
                    .log
                    .approach
                    .insert(driver.clone(), (ride.id.clone(), ride.pickup));
            } else if ride.status != RideStatus::DriverFound
                && inner
                    .log
                    .approach
                    .get(driver)
                    .is_some_and(|(r, _)| *r == ride.id)
            {
                inner.log.approach.remove(driver);
            }
        }
    }

    /// Logs a driver's change of status, and an assigned driver's first
    /// report within the approach distance of its pickup.
    pub(super) fn log_driver(
        &self,
        inner: &mut Inner,
        driver: &Arc<Driver>,
        record: &DriverRecord,
        was: Option<DriverStatus>,
        now: DateTime<Utc>,
    ) {
        if let Some(kind) = driver_change_event(was, record.state.status()) {
            inner
                .log
                .append(NewEvent::driver(kind, driver.clone()), now);
            self.events.logged();
        }
        let DriverState::Assigned(ride_id) = &record.state else {
            return;
        };
        if was != Some(DriverStatus::Assigned) {
            return;
        }
        let near = inner
            .log
            .approach
            .get(&driver.id)
            .is_some_and(|(r, pickup)| {
                r == ride_id
                    && record.location.distance_km(pickup) * 1000.0 <= self.log.approach_meters
            });
        if near {
            inner.log.approach.remove(&driver.id);
            let event = NewEvent {
                kind: EventType::DriverApproaching,
                reason: None,
                ride: inner.rides.get(ride_id).cloned(),
                driver: Some(driver.clone()),
            };
            inner.log.append(event, now);
            self.events.logged();
        }
    }

    fn check_area(&self, inner: &Inner, area: &AreaId) -> Result<()> {
        if inner.log.area == *area {
            Ok(())
        } else {
            Err(Error::not_found(format!("no area {area} here")))
        }
    }
}

#[async_trait]
impl EventLog for MemoryStore {
    async fn read_events(
        &self,
        area: &AreaId,
        after: Option<&EventId>,
        max: usize,
    ) -> Result<EventPage> {
        let inner = self.lock();
        self.check_area(&inner, area)?;
        Ok(inner.log.read(after, max.min(MAX_EVENT_PAGE)))
    }

    async fn delivery_lease(
        &self,
        area: &AreaId,
        sink: &SinkId,
        holder: &str,
        lease: Duration,
    ) -> Result<DeliveryLease> {
        let mut inner = self.lock();
        self.check_area(&inner, area)?;
        let now = Utc::now();
        Ok(
            match inner
                .log
                .lease(sink, holder, now + chrono_duration(lease), now)
            {
                Some(acked) => DeliveryLease::Held { acked },
                None => DeliveryLease::Elsewhere,
            },
        )
    }

    async fn release_delivery(&self, area: &AreaId, sink: &SinkId, holder: &str) -> Result<()> {
        let mut inner = self.lock();
        self.check_area(&inner, area)?;
        inner.log.release(sink, holder);
        Ok(())
    }

    async fn acknowledge(
        &self,
        area: &AreaId,
        sink: &SinkId,
        holder: &str,
        id: &EventId,
        dead: &[crate::domain::Event],
    ) -> Result<bool> {
        let mut inner = self.lock();
        self.check_area(&inner, area)?;
        if !inner.log.holds(sink, holder, Utc::now()) {
            return Ok(false);
        }
        inner.log.acknowledge(sink, id, dead);
        Ok(true)
    }

    async fn trim_events(
        &self,
        area: &AreaId,
        sinks: &[SinkId],
        retention: &EventRetention,
    ) -> Result<Trimmed> {
        let mut inner = self.lock();
        self.check_area(&inner, area)?;
        Ok(inner.log.trim(sinks, retention, Utc::now(), TRIM_BUDGET))
    }

    async fn redeliver(&self, area: &AreaId, sink: Option<&SinkId>, max: usize) -> Result<usize> {
        let mut inner = self.lock();
        self.check_area(&inner, area)?;
        Ok(inner.log.redeliver(sink, max))
    }

    async fn redeliveries(
        &self,
        area: &AreaId,
        sink: &SinkId,
        max: usize,
    ) -> Result<Vec<crate::domain::Event>> {
        let inner = self.lock();
        self.check_area(&inner, area)?;
        Ok(inner.log.redeliveries(sink, max.min(MAX_EVENT_PAGE)))
    }

    async fn redelivered(&self, area: &AreaId, sink: &SinkId, ids: &[EventId]) -> Result<()> {
        let mut inner = self.lock();
        self.check_area(&inner, area)?;
        inner.log.redelivered(sink, ids);
        Ok(())
    }

    async fn dead_letter_count(&self, area: &AreaId) -> Result<usize> {
        let inner = self.lock();
        self.check_area(&inner, area)?;
        Ok(inner.log.dead_letters())
    }
}

/// Most events one trim removes (as many as a Redis trim does per call).
pub(crate) const TRIM_BUDGET: usize = 10_000;
