//! One (sink, area) lane of delivery: while this instance holds the lane's
//! delivery lease (renewed every third of it, also while a batch is in
//! flight), it first sends the sink's redelivery queue, then the area's log
//! after the sink's acknowledged id, ONE batch at a time, in log order.
//! A failed batch is re-sent as it was (same ids) with exponential backoff
//! and full jitter until the sink takes it, or, once its oldest event is
//! older than the sink's `max_age`, dead-lettered. A lost lease stops the
//! sending at once; another instance resumes from the stored id.

use std::{sync::Arc, time::Duration};

use rand::Rng;
use tokio::{sync::watch, time::Instant};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::sink::{Sink, SinkError};
use crate::{
    domain::error::Result,
    domain::{AreaId, Event, EventId},
    store::{DeliveryLease, Store},
    telemetry::{
        EVENTS_DEAD_LETTERED, EVENTS_DELIVERED, EVENT_DELIVERY_FAILURES, EVENT_DELIVERY_GAPS,
        EVENT_LAG,
    },
};

/// How often the log is read when nothing said it grew (a driver's change
/// on another instance is not always told).
pub const POLL: Duration = Duration::from_millis(250);
/// The first retry's bound.
pub const BACKOFF_START: Duration = Duration::from_millis(100);
/// The longest wait between retries.
pub const BACKOFF_CAP: Duration = Duration::from_secs(30);

/// What one lane needs.
pub(super) struct Lane {
    pub store: Arc<dyn Store>,
    pub sink: Arc<dyn Sink>,
    pub area: AreaId,
    pub holder: Arc<str>,
    pub lease: Duration,
    pub shutdown: CancellationToken,
}

/// How sending a batch ended.
enum Sent {
    /// The sink took it.
    Delivered,
    /// Its oldest event passed the sink's `max_age`: dead letters.
    GaveUp,
    /// The lease is gone, or the service is stopping: nothing acknowledged.
    Stopped,
}

/// The lease as held: when to renew it.
struct Held {
    renew_at: Instant,
}

/// Exponential backoff with full jitter: the n-th wait is uniform in
/// `[0, min(cap, start·2ⁿ)]`.
struct Backoff {
    attempt: u32,
}

impl Backoff {
    fn next(&mut self) -> Duration {
        let bound = BACKOFF_START
            .saturating_mul(2u32.saturating_pow(self.attempt))
            .min(BACKOFF_CAP);
        self.attempt = self.attempt.saturating_add(1).min(20);
        bound.mul_f64(rand::rng().random::<f64>())
    }
}

impl Lane {
    fn labels(&self) -> [(&'static str, String); 2] {
        [
            ("sink", self.sink.id().to_string()),
            ("area", self.area.to_string()),
        ]
    }

    /// Asks for the lease every third of it and delivers while held, until
    /// shutdown; then gives the lease up.
    pub async fn run(self) {
        let mut logged = self.store.events().subscribe_logged();
        let mut failing = false;
        while !self.shutdown.is_cancelled() {
            let asked = self
                .store
                .delivery_lease(&self.area, self.sink.id(), &self.holder, self.lease)
                .await;
            let outcome = match asked {
                Ok(DeliveryLease::Held { acked }) => self.deliver(acked, &mut logged).await,
                Ok(DeliveryLease::Elsewhere) => {
                    metrics::gauge!(EVENT_LAG, &self.labels()).set(0.0);
                    Ok(())
                }
                Err(error) => Err(error),
            };
            match outcome {
                Ok(()) if std::mem::take(&mut failing) => {
                    info!(sink = %self.sink.id(), area = %self.area, "event delivery works again")
                }
                Ok(()) => {}
                Err(error) => {
                    if !std::mem::replace(&mut failing, true) {
                        warn!(sink = %self.sink.id(), area = %self.area, %error,
                            "event delivery cannot reach the store; retrying");
                    }
                }
            }
            self.pause(self.lease / 3).await;
        }
        let _ = self
            .store
            .release_delivery(&self.area, self.sink.id(), &self.holder)
            .await;
    }

    /// Sleeps `d`, or less on shutdown.
    async fn pause(&self, d: Duration) {
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = self.shutdown.cancelled() => {}
        }
    }

    /// Renews the lease if due; false once it is lost. The cursor moves to
    /// the store's on renewal (it is the one truth across instances).
    async fn keep(&self, held: &mut Held, cursor: &mut Option<EventId>) -> Result<bool> {
        if Instant::now() < held.renew_at {
            return Ok(true);
        }
        match self
            .store
            .delivery_lease(&self.area, self.sink.id(), &self.holder, self.lease)
            .await?
        {
            DeliveryLease::Held { acked } => {
                *cursor = acked;
                held.renew_at = Instant::now() + self.lease / 3;
                Ok(true)
            }
            DeliveryLease::Elsewhere => Ok(false),
        }
    }

    /// Delivers while the lease is held: the redeliveries, then the log.
    async fn deliver(
        &self,
        acked: Option<EventId>,
        logged: &mut watch::Receiver<u64>,
    ) -> Result<()> {
        let mut cursor = acked;
        let mut held = Held {
            renew_at: Instant::now() + self.lease / 3,
        };
        let max = self.sink.max_batch().max(1);
        let labels = self.labels();
        loop {
            if self.shutdown.is_cancelled() || !self.keep(&mut held, &mut cursor).await? {
                return Ok(());
            }
            let queued = self
                .store
                .redeliveries(&self.area, self.sink.id(), max)
                .await?;
            if !queued.is_empty() {
                let ids: Vec<EventId> = queued.iter().map(|e| e.id.clone()).collect();
                let wanted: Vec<Event> = queued
                    .into_iter()
                    .filter(|e| self.sink.wants(e.kind))
                    .collect();
                if !wanted.is_empty() {
                    match self.send(&mut held, &mut cursor, &wanted, false).await? {
                        Sent::Delivered => metrics::counter!(EVENTS_DELIVERED, &labels)
                            .increment(wanted.len() as u64),
                        Sent::GaveUp | Sent::Stopped => return Ok(()),
                    }
                }
                self.store
                    .redelivered(&self.area, self.sink.id(), &ids)
                    .await?;
                continue;
            }
            let page = self
                .store
                .read_events(&self.area, cursor.as_ref(), max)
                .await?;
            if !page.recovered {
                metrics::counter!(EVENT_DELIVERY_GAPS, &labels).increment(1);
                warn!(sink = %self.sink.id(), area = %self.area,
                    after = ?cursor.as_ref().map(ToString::to_string),
                    "the log no longer holds the events after the sink's last acknowledged one \
                     (trimmed, or the store lost its data): delivery resumes from the oldest kept");
            }
            let Some(last) = page.events.last().map(|e| e.id.clone()) else {
                metrics::gauge!(EVENT_LAG, &labels).set(0.0);
                tokio::select! {
                    _ = logged.changed() => {}
                    _ = tokio::time::sleep(POLL) => {}
                    _ = tokio::time::sleep_until(held.renew_at) => {}
                    _ = self.shutdown.cancelled() => {}
                }
                continue;
            };
            let wanted: Vec<Event> = page
                .events
                .into_iter()
                .filter(|e| self.sink.wants(e.kind))
                .collect();
            let dead: &[Event] = if wanted.is_empty() {
                &[]
            } else {
                match self.send(&mut held, &mut cursor, &wanted, true).await? {
                    Sent::Delivered => {
                        metrics::counter!(EVENTS_DELIVERED, &labels).increment(wanted.len() as u64);
                        &[]
                    }
                    Sent::GaveUp => &wanted,
                    Sent::Stopped => return Ok(()),
                }
            };
            if !self
                .store
                .acknowledge(&self.area, self.sink.id(), &self.holder, &last, dead)
                .await?
            {
                return Ok(());
            }
            if !dead.is_empty() {
                metrics::counter!(EVENTS_DEAD_LETTERED, &labels).increment(dead.len() as u64);
                warn!(sink = %self.sink.id(), area = %self.area, events = dead.len(),
                    "events the sink refused past its max age went to the dead letters");
            }
            cursor = Some(last);
        }
    }

    /// Sends `events` until the sink takes them, the lease is lost, the
    /// service stops, or (with `may_give_up`) their oldest is past the
    /// sink's max age. The lease is renewed while a send is in flight and
    /// between tries.
    async fn send(
        &self,
        held: &mut Held,
        cursor: &mut Option<EventId>,
        events: &[Event],
        may_give_up: bool,
    ) -> Result<Sent> {
        let labels = self.labels();
        let oldest = events
            .first()
            .map(|e| e.at)
            .unwrap_or_else(chrono::Utc::now);
        let age = || (chrono::Utc::now() - oldest).to_std().unwrap_or_default();
        let mut backoff = Backoff { attempt: 0 };
        let mut logged_failure = false;
        loop {
            metrics::gauge!(EVENT_LAG, &labels).set(age().as_secs_f64());
            let attempt = self.sink.send(&self.area, events);
            tokio::pin!(attempt);
            let result = loop {
                tokio::select! {
                    result = &mut attempt => break result,
                    _ = tokio::time::sleep_until(held.renew_at) => {
                        if !self.keep(held, cursor).await? {
                            return Ok(Sent::Stopped);
                        }
                    }
                    _ = self.shutdown.cancelled() => return Ok(Sent::Stopped),
                }
            };
            let error = match result {
                Ok(()) => {
                    if logged_failure {
                        info!(sink = %self.sink.id(), area = %self.area, "the sink takes events again");
                    }
                    return Ok(Sent::Delivered);
                }
                Err(error) => error,
            };
            metrics::counter!(EVENT_DELIVERY_FAILURES, &labels).increment(1);
            if !std::mem::replace(&mut logged_failure, true) {
                warn!(sink = %self.sink.id(), area = %self.area, %error,
                    "a sink refused a batch; retrying the same batch with backoff");
            }
            if may_give_up && self.sink.max_age().is_some_and(|max| age() >= max) {
                return Ok(Sent::GaveUp);
            }
            let wait = match error {
                SinkError::RetryAfter { after, .. } => after,
                SinkError::Retry(_) => backoff.next(),
            };
            let until = Instant::now() + wait;
            loop {
                tokio::select! {
                    _ = tokio::time::sleep_until(until) => break,
                    _ = tokio::time::sleep_until(held.renew_at) => {
                        if !self.keep(held, cursor).await? {
                            return Ok(Sent::Stopped);
                        }
                    }
                    _ = self.shutdown.cancelled() => return Ok(Sent::Stopped),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_jittered_below_a_doubling_bound_up_to_the_cap() {
        let mut backoff = Backoff { attempt: 0 };
        for n in 0..40u32 {
            let bound = BACKOFF_START
                .saturating_mul(2u32.saturating_pow(n.min(20)))
                .min(BACKOFF_CAP);
            assert!(backoff.next() <= bound);
        }
    }
}
