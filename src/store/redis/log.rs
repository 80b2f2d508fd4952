//! The Redis store's event log: each area's stream `T:log`, appended by
//! the very function that makes a change (see `lua/common.lua`,
//! `log_event`), and read, leased, acknowledged, trimmed and redelivered
//! through the functions of `lua/log.lua`.

use std::{collections::HashMap, sync::Arc, time::Duration};

use async_trait::async_trait;

use super::{
    fields::{driver_from_fields, parse_time, ride_from_fields},
    util::duration_ms,
    RedisStore,
};
use crate::{
    domain::error::{Error, Result},
    domain::{AreaId, DriverId, Event, EventId, EventType, NewEvent, OfferEndReason, RideId, Seq},
    store::{DeliveryLease, EventLog, EventPage, EventRetention, SinkId, Trimmed, MAX_EVENT_PAGE},
};

/// A stream entry as XRANGE returns it.
type Entry = (String, Vec<String>);

/// Most entries one trim moves past the cap (the rest wait for the next).
const TRIM_BUDGET: usize = 10_000;
/// Most dead letters one call moves to the redelivery queues.
const REDELIVER_STEP: usize = 10_000;

/// A snapshot (ride or driver) from its JSON, and the id its fields name;
/// `None` for a snapshot that does not decode (warned).
fn snapshot<T>(
    position: &str,
    json: &str,
    make: impl FnOnce(&HashMap<String, String>) -> Result<T>,
) -> (Option<T>, Option<String>) {
    let fields: HashMap<String, String> = match serde_json::from_str(json) {
        Ok(f) => f,
        Err(error) => {
            tracing::warn!(position, %error, "an event's snapshot is not JSON: left out");
            return (None, None);
        }
    };
    let id = fields.get("id").cloned();
    match make(&fields) {
        Ok(made) => (Some(made), id),
        Err(error) => {
            tracing::warn!(position, %error, "an event's snapshot does not decode: left out");
            (None, id)
        }
    }
}

impl RedisStore {
    fn area_id(&self) -> Result<AreaId> {
        match &self.settings.area {
            Some(area) => Ok(area.clone()),
            None => AreaId::parse(crate::domain::DEFAULT_AREA).map_err(Error::internal),
        }
    }

    fn check_area(&self, area: &AreaId) -> Result<()> {
        if self.area_id()? == *area {
            Ok(())
        } else {
            Err(Error::not_found(format!("no area {area} here")))
        }
    }

    /// An event from a stream entry: `position` and `epoch` name it, unless
    /// its fields do (a dead letter's).
    fn event_from_entry(&self, epoch: &str, position: &str, fields: &[String]) -> Result<Event> {
        let map: HashMap<&str, &str> = fields
            .chunks_exact(2)
            .map(|kv| (kv[0].as_str(), kv[1].as_str()))
            .collect();
        let corrupt = |what: &str| Error::internal(format!("corrupt event {position}: {what}"));
        let position = map.get("id").copied().unwrap_or(position);
        let epoch = map.get("epoch").copied().unwrap_or(epoch);
        let id = EventId {
            area: self.area_id()?,
            epoch: epoch.to_owned(),
            seq: Seq::parse(position).ok_or_else(|| corrupt("position"))?,
        };
        let kind = map
            .get("type")
            .and_then(|t| EventType::parse(t))
            .ok_or_else(|| corrupt("type"))?;
        let at = parse_time(map.get("at").ok_or_else(|| corrupt("at"))?)?;
        // A snapshot that does not decode (a hash with fields missing, an
        // entry written by hand) is left out, warned: one such entry never
        // stops the log from being read; the event still names its ride
        // or driver.
        let (ride, ride_hint) = match map.get("ride") {
            Some(json) => snapshot(position, json, |f| ride_from_fields(f).map(Arc::new)),
            None => (None, None),
        };
        let (driver, driver_hint) = match map.get("driver") {
            Some(json) => snapshot(position, json, |f| {
                let driver_id = f
                    .get("id")
                    .and_then(|d| DriverId::parse(d).ok())
                    .ok_or_else(|| corrupt("driver id"))?;
                driver_from_fields(&driver_id, f, at, self.settings.driver_ttl).map(Arc::new)
            }),
            None => (None, None),
        };
        let mut event = NewEvent {
            kind,
            reason: None,
            ride,
            driver,
        }
        .logged(id, at);
        if event.ride_id.is_none() {
            event.ride_id = ride_hint.and_then(|r| RideId::parse(&r).ok());
        }
        if event.driver_id.is_none() {
            event.driver_id = driver_hint.and_then(|d| DriverId::parse(&d).ok());
        }
        event.reason = map
            .get("reason")
            .and_then(|r| OfferEndReason::from_stored(r));
        Ok(event)
    }

    fn events_from(&self, epoch: &str, entries: Vec<Entry>) -> Result<Vec<Event>> {
        entries
            .iter()
            .map(|(position, fields)| self.event_from_entry(epoch, position, fields))
            .collect()
    }

    /// The acknowledged position a lease reply names, if of `epoch`.
    fn acked(area: &AreaId, stored: &str, epoch: &str) -> Option<EventId> {
        let (e, position) = stored.split_once('|')?;
        if e != epoch || e.is_empty() {
            return None;
        }
        Some(EventId {
            area: area.clone(),
            epoch: e.to_owned(),
            seq: Seq::parse(position)?,
        })
    }
}

#[async_trait]
impl EventLog for RedisStore {
    async fn read_events(
        &self,
        area: &AreaId,
        after: Option<&EventId>,
        max: usize,
    ) -> Result<EventPage> {
        self.check_area(area)?;
        let (epoch, position) = match after {
            Some(a) if a.area == *area => (a.epoch.clone(), a.seq.to_string()),
            // Another area's id: nothing of this log follows it.
            Some(_) => ("-".to_owned(), "0-0".to_owned()),
            None => (String::new(), "0-0".to_owned()),
        };
        let count = max.min(MAX_EVENT_PAGE).to_string();
        let (epoch, recovered, entries): (String, String, Vec<Entry>) = self
            .call("events_read", None, &[epoch, position, count])
            .await?;
        Ok(EventPage {
            events: self.events_from(&epoch, entries)?,
            epoch: (!epoch.is_empty()).then_some(epoch),
            recovered: recovered == "1",
        })
    }

    async fn newest_event(&self, area: &AreaId) -> Result<Option<EventId>> {
        self.check_area(area)?;
        let (epoch, position): (String, String) = self.call("events_newest", None, &[]).await?;
        Ok(Seq::parse(&position)
            .filter(|_| !epoch.is_empty())
            .map(|seq| EventId {
                area: area.clone(),
                epoch,
                seq,
            }))
    }

    async fn delivery_lease(
        &self,
        area: &AreaId,
        sink: &SinkId,
        holder: &str,
        lease: Duration,
    ) -> Result<DeliveryLease> {
        self.check_area(area)?;
        let own = [
            sink.to_string(),
            holder.to_owned(),
            duration_ms(lease).max(1).to_string(),
        ];
        let reply: Vec<String> = self.call("events_lease", None, &own).await?;
        match reply.as_slice() {
            [tag] if tag == "ELSEWHERE" => Ok(DeliveryLease::Elsewhere),
            [tag, acked, epoch] if tag == "HELD" => Ok(DeliveryLease::Held {
                acked: Self::acked(area, acked, epoch),
            }),
            other => Err(Error::internal(format!("unexpected lease reply {other:?}"))),
        }
    }

    async fn release_delivery(&self, area: &AreaId, sink: &SinkId, holder: &str) -> Result<()> {
        self.check_area(area)?;
        let own = [sink.to_string(), holder.to_owned()];
        let _: String = self.call("events_release", None, &own).await?;
        Ok(())
    }

    async fn acknowledge(
        &self,
        area: &AreaId,
        sink: &SinkId,
        holder: &str,
        id: &EventId,
        dead: &[Event],
    ) -> Result<bool> {
        self.check_area(area)?;
        let mut own = vec![
            sink.to_string(),
            holder.to_owned(),
            id.epoch.clone(),
            id.seq.to_string(),
            self.settings.log.max_dead_letters.to_string(),
        ];
        own.extend(dead.iter().map(|e| e.id.seq.to_string()));
        let reply: Vec<String> = self.call("events_ack", None, &own).await?;
        match reply.first().map(String::as_str) {
            Some("OK") => {
                let dropped: u64 = reply.get(1).and_then(|n| n.parse().ok()).unwrap_or(0);
                crate::telemetry::dead_letters_dropped(area, dropped);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn trim_events(
        &self,
        area: &AreaId,
        sinks: &[SinkId],
        retention: &EventRetention,
    ) -> Result<Trimmed> {
        self.check_area(area)?;
        let mut own = vec![
            duration_ms(retention.max_age).to_string(),
            retention.max_events.to_string(),
            retention.max_dead_letters.max(1).to_string(),
            TRIM_BUDGET.to_string(),
        ];
        own.extend(sinks.iter().map(SinkId::to_string));
        let (trimmed, dead_lettered, dropped, kept): (usize, usize, usize, usize) =
            self.call("events_trim", None, &own).await?;
        Ok(Trimmed {
            trimmed,
            dead_lettered,
            dead_letters_dropped: dropped,
            kept,
        })
    }

    async fn redeliver(&self, area: &AreaId, sink: Option<&SinkId>, max: usize) -> Result<usize> {
        self.check_area(area)?;
        let mut moved = 0;
        while moved < max {
            let step = (max - moved).min(REDELIVER_STEP);
            let own = [
                sink.map(SinkId::to_string).unwrap_or_default(),
                step.to_string(),
                self.settings.log.max_dead_letters.to_string(),
            ];
            let n: usize = self.call("events_redeliver", None, &own).await?;
            moved += n;
            if n < step {
                break;
            }
        }
        Ok(moved)
    }

    async fn redeliveries(&self, area: &AreaId, sink: &SinkId, max: usize) -> Result<Vec<Event>> {
        self.check_area(area)?;
        let own = [sink.to_string(), max.min(MAX_EVENT_PAGE).to_string()];
        let entries: Vec<Entry> = self.call("events_retries", None, &own).await?;
        // Each queued entry names its own epoch and position.
        self.events_from("", entries)
    }

    async fn rebury(&self, area: &AreaId, sink: &SinkId, ids: &[EventId]) -> Result<()> {
        self.check_area(area)?;
        if ids.is_empty() {
            return Ok(());
        }
        let mut own = vec![
            sink.to_string(),
            self.settings.log.max_dead_letters.max(1).to_string(),
        ];
        own.extend(ids.iter().map(|id| id.seq.to_string()));
        let dropped: u64 = self.call("events_rebury", None, &own).await?;
        crate::telemetry::dead_letters_dropped(area, dropped);
        Ok(())
    }

    async fn redelivered(&self, area: &AreaId, sink: &SinkId, ids: &[EventId]) -> Result<()> {
        self.check_area(area)?;
        if ids.is_empty() {
            return Ok(());
        }
        let mut own = vec![sink.to_string()];
        own.extend(ids.iter().map(|id| id.seq.to_string()));
        let _: String = self.call("events_retried", None, &own).await?;
        Ok(())
    }

    async fn dead_letter_count(&self, area: &AreaId) -> Result<usize> {
        self.check_area(area)?;
        self.call("events_dead", None, &[]).await
    }
}
