//! Delivering each area's event log to the operator's sinks (webhooks,
//! NATS JetStream), in log order, never losing an event.
//!
//! [`Delivery`] runs one task per (sink, area) ([`runner`]: the lane's
//! lease, one batch in flight, retries, dead letters) and one trimming task
//! per area (the log trimmed to its retention, never past what a sink of
//! that area has not acknowledged). It is started when the log is on and
//! stopped (leases given up) at shutdown. [`webhook`] is the webhook sink.

mod nats;
mod nats_check;
mod runner;
mod sink;
pub mod webhook;

use std::{sync::Arc, time::Duration};

use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::{info, warn};

pub use nats::{subject, NatsSettings, NatsSink, NATS_MAX_BATCH, NATS_SINK_ID, PUBLISH_TIMEOUT};
pub use nats_check::{check_streams, spawn_check, StreamCheck};
pub use sink::{Sink, SinkError};
pub use webhook::{Webhook, WebhookRules};

use crate::{
    domain::AreaId,
    store::{EventRetention, SinkId, Store},
    telemetry::{EVENTS_OVERFLOWED, EVENTS_TRIMMED, EVENT_DEAD_LETTERS_DROPPED},
};

/// How often each area's log is trimmed.
pub const TRIM_EVERY: Duration = Duration::from_secs(1);

/// A trim that removed at least this many goes again at once (a store
/// trims a bounded number per call).
const MORE_AFTER: usize = 1000;

/// A sink and the areas whose events it gets.
#[derive(Clone)]
pub struct Route {
    pub sink: Arc<dyn Sink>,
    pub areas: Vec<AreaId>,
}

/// What to deliver where.
#[derive(Clone)]
pub struct DeliveryPlan {
    pub routes: Vec<Route>,
    /// Every area (each one's log is trimmed, with or without sinks).
    pub areas: Vec<AreaId>,
    pub retention: EventRetention,
    /// A lane's delivery lease (`--instance-lease`).
    pub lease: Duration,
}

/// The running delivery: stopped with [`Delivery::stop`].
pub struct Delivery {
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

/// The NATS sink's retries back off up to this (its stream's
/// `duplicate_window` must cover it plus the lease).
pub const RETRY_CAP: Duration = runner::BACKOFF_CAP;

/// This process's name as a lease holder: its pid and start time.
fn holder() -> Arc<str> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}-{:x}", std::process::id(), nanos).into()
}

impl Delivery {
    /// Starts every lane of `plan` and every area's trimming on `store`;
    /// [`Self::stop`] cancels `shutdown` (which other delivery tasks, such
    /// as the NATS stream check, may hold too).
    pub fn start(store: Arc<dyn Store>, plan: DeliveryPlan, shutdown: CancellationToken) -> Self {
        let tasks = TaskTracker::new();
        let holder = holder();
        let lease = plan.lease.max(Duration::from_millis(100));
        for route in &plan.routes {
            for area in &route.areas {
                let lane = runner::Lane {
                    store: store.clone(),
                    sink: route.sink.clone(),
                    area: area.clone(),
                    holder: holder.clone(),
                    lease,
                    shutdown: shutdown.clone(),
                };
                tasks.spawn(lane.run());
            }
        }
        for area in &plan.areas {
            let sinks: Vec<SinkId> = plan
                .routes
                .iter()
                .filter(|r| r.areas.contains(area))
                .map(|r| r.sink.id().clone())
                .collect();
            let trim = trim(
                store.clone(),
                area.clone(),
                sinks,
                plan.retention,
                shutdown.clone(),
            );
            tasks.spawn(trim);
        }
        tasks.close();
        info!(
            sinks = plan.routes.len(),
            areas = plan.areas.len(),
            "event delivery started"
        );
        Self { shutdown, tasks }
    }

    /// Stops every lane (an in-flight batch is abandoned, unacknowledged:
    /// whoever takes the lease next re-sends it) and gives the leases up.
    pub async fn stop(&self) {
        self.shutdown.cancel();
        self.tasks.wait().await;
    }
}

/// Trims `area`'s log every [`TRIM_EVERY`] (at once again while a trim hit
/// its budget), counting what went.
async fn trim(
    store: Arc<dyn Store>,
    area: AreaId,
    sinks: Vec<SinkId>,
    retention: EventRetention,
    shutdown: CancellationToken,
) {
    let label = area.to_string();
    let mut failing = false;
    let mut tick = tokio::time::interval(TRIM_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        loop {
            match store.trim_events(&area, &sinks, &retention).await {
                Ok(done) => {
                    if std::mem::take(&mut failing) {
                        info!(area = %area, "trimming the event log works again");
                    }
                    metrics::counter!(EVENTS_TRIMMED, "area" => label.clone())
                        .increment(done.trimmed as u64);
                    metrics::counter!(EVENTS_OVERFLOWED, "area" => label.clone())
                        .increment(done.dead_lettered as u64);
                    metrics::counter!(EVENT_DEAD_LETTERS_DROPPED, "area" => label.clone())
                        .increment(done.dead_letters_dropped as u64);
                    if done.dead_lettered > 0 {
                        warn!(area = %area, events = done.dead_lettered,
                            "the event log passed --max-events: its oldest undelivered events went to the dead letters");
                    }
                    if done.trimmed + done.dead_lettered < MORE_AFTER || shutdown.is_cancelled() {
                        break;
                    }
                    tokio::task::yield_now().await;
                }
                Err(error) => {
                    if !std::mem::replace(&mut failing, true) {
                        warn!(area = %area, %error, "trimming the event log failed; retrying");
                    }
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "runner_tests.rs"]
mod runner_tests;
