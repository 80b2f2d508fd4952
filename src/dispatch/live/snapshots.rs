//! Area snapshots for live maps, read once for everyone who asks at the
//! same time. When every dashboard reconnects at once (after a restart or
//! a deploy), each asks for the same area's snapshot, thousands of drivers
//! each: read fifty times, they hold up the reports behind them. Here the
//! requests for one area (same centre, same radius) share one read.
//!
//! A subscriber must get a snapshot read *after* it asked, or a change
//! made between the start of an older read and its own subscription to
//! the events would be lost. So a request joins a read that has not
//! started yet, or else queues the next one, which starts when the current
//! one lands: at most two reads per area at a time (one reading, one
//! waiting for it), however many ask. Each read runs as a task of its own,
//! so a subscriber that leaves never cancels a read others wait for; it
//! ends within the store's timeout, and its entry is removed when it lands.
//! The entries are bounded ([`MAX_AREAS`]): past that, a request reads on
//! its own, as it would without this module.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use tokio::sync::watch;

use crate::{
    domain::error::{Error, Result},
    domain::{AreaSnapshot, Coordinates, RadiusKm},
    store::Store,
    telemetry,
};

/// Most distinct areas whose reads are shared at once.
const MAX_AREAS: usize = 256;

/// A read's result, once it lands.
type Landing = watch::Receiver<Option<Result<Arc<AreaSnapshot>>>>;

/// An area, as its snapshots are told apart (exact centre and radius).
type Key = (u64, u64, u64);

/// The newest read of one area.
struct Round {
    id: u64,
    landing: Landing,
    /// Whether it has begun reading (then a newcomer queues the next).
    started: bool,
}

/// Shared area snapshots over one store.
pub(in crate::dispatch) struct Snapshots {
    store: Arc<dyn Store>,
    rounds: Mutex<HashMap<Key, Round>>,
    next_id: std::sync::atomic::AtomicU64,
}

impl Snapshots {
    pub(in crate::dispatch) fn new(store: Arc<dyn Store>) -> Arc<Self> {
        Arc::new(Self {
            store,
            rounds: Mutex::default(),
            next_id: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// The area within `radius` of `center`, read after this call began.
    pub(in crate::dispatch) async fn take(
        self: &Arc<Self>,
        center: Coordinates,
        radius: RadiusKm,
    ) -> Result<Arc<AreaSnapshot>> {
        let key = (
            center.lat().to_bits(),
            center.lng().to_bits(),
            radius.km().to_bits(),
        );
        let Some(mut landing) = self.join(key, center, radius) else {
            return read(self.store.as_ref(), center, radius)
                .await
                .map(Arc::new);
        };
        let landed = landing
            .wait_for(Option::is_some)
            .await
            .map_err(|_| Error::internal("an area snapshot's read stopped"))?;
        landed
            .clone()
            .unwrap_or_else(|| Err(Error::internal("an area snapshot's read stopped")))
    }

    /// The landing of a read not started yet for `key`, queued (and
    /// spawned) if there is none; `None` when too many areas are in flight.
    fn join(self: &Arc<Self>, key: Key, center: Coordinates, radius: RadiusKm) -> Option<Landing> {
        let mut rounds = self.rounds.lock().unwrap_or_else(|e| e.into_inner());
        let after = match rounds.get(&key) {
            Some(round) if !round.started => return Some(round.landing.clone()),
            Some(round) => Some(round.landing.clone()),
            None if rounds.len() >= MAX_AREAS => return None,
            None => None,
        };
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (land, landing) = watch::channel(None);
        rounds.insert(
            key,
            Round {
                id,
                landing: landing.clone(),
                started: false,
            },
        );
        let this = self.clone();
        tokio::spawn(async move {
            if let Some(mut before) = after {
                // Whatever it read, this round reads afresh.
                let _ = before.wait_for(Option::is_some).await;
            }
            this.start(key, id);
            let read = read(this.store.as_ref(), center, radius).await;
            land.send_replace(Some(read.map(Arc::new)));
            let mut rounds = this.rounds.lock().unwrap_or_else(|e| e.into_inner());
            if rounds.get(&key).is_some_and(|round| round.id == id) {
                rounds.remove(&key);
            }
        });
        Some(landing)
    }

    /// Round `id` of `key` marked started, if it is still the newest.
    fn start(&self, key: Key, id: u64) {
        let mut rounds = self.rounds.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(round) = rounds.get_mut(&key).filter(|round| round.id == id) {
            round.started = true;
        }
    }
}

/// One read of the store, counted.
async fn read(store: &dyn Store, center: Coordinates, radius: RadiusKm) -> Result<AreaSnapshot> {
    metrics::counter!(telemetry::AREA_SNAPSHOTS).increment(1);
    store.area_snapshot(center, radius, store.now()).await
}
