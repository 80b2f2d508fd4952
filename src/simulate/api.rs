//! The simulator's calls to the service, counted: the typed client with
//! the counters behind the [`Summary`] a simulation reports, and the rides
//! and pickup times it keeps for the end.

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc, Mutex, OnceLock,
};

use tokio::time::Instant;

/// The most rides (and pickup times) a simulation keeps for its summary.
pub(super) const MAX_KEPT: usize = 100_000;

/// What a simulation did, as counted by the simulator itself.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Summary {
    /// The seed of its random choices (`--seed`).
    pub seed: u64,
    /// Position reports sent.
    pub reports: u64,
    /// Rides requested (that the service created).
    pub requests: u64,
    /// Offers the drivers accepted, declined, and ignored.
    pub accepted: u64,
    pub declined: u64,
    pub ignored: u64,
    /// Rides their riders cancelled.
    pub cancelled: u64,
    /// Rides the simulated drivers completed.
    pub completed: u64,
    /// Calls refused with `CONFLICT`: a race the city is full of (a rider
    /// cancels as its driver arrives, an answer comes after the deadline).
    pub conflicts: u64,
    /// Calls that failed otherwise (transport errors, other refusals).
    pub errors: u64,
    /// Of the rides requested (asked of the service at the end): those that
    /// got a driver, those that expired, those still searching.
    pub matched: u64,
    pub expired: u64,
    pub searching: u64,
    /// Pickups driven to the end: how many, and the simulated seconds from
    /// the driver hearing of its ride to its arrival at the pickup (as
    /// driven: by road with `--roads`), mean and 90th percentile.
    pub pickups: u64,
    pub pickup_mean_secs: f64,
    pub pickup_p90_secs: f64,
    /// Legs driven in a straight line although there were roads (an end off
    /// the network, or no route).
    pub off_road: u64,
    /// Of the rides that got a driver: the time from request to match
    /// (the service's `matchedAt - createdAt`, in simulated seconds),
    /// median and 90th percentile.
    pub match_p50_secs: f64,
    pub match_p90_secs: f64,
    /// The share of the drivers' time spent free (roaming, AVAILABLE to
    /// the service), as the simulated drivers lived it.
    pub idle_share: f64,
}

/// The counts behind a [`Summary`], shared by every simulated driver and rider.
#[derive(Default)]
pub(super) struct Counters {
    pub(super) reports: AtomicU64,
    pub(super) requests: AtomicU64,
    pub(super) accepted: AtomicU64,
    pub(super) declined: AtomicU64,
    pub(super) ignored: AtomicU64,
    pub(super) cancelled: AtomicU64,
    pub(super) completed: AtomicU64,
    pub(super) conflicts: AtomicU64,
    pub(super) errors: AtomicU64,
    pub(super) off_road: AtomicU64,
    /// Ids of the rides requested (at most [`MAX_KEPT`]).
    pub(super) rides: Mutex<Vec<String>>,
    /// Simulated seconds of each pickup driven (at most [`MAX_KEPT`]).
    pub(super) pickups: Mutex<Vec<f64>>,
    /// Simulated milliseconds the drivers drove, and of them free.
    pub(super) driver_ms: AtomicU64,
    pub(super) idle_ms: AtomicU64,
    /// When the warm-up ends (`--warm-up`): before it, requests, pickups
    /// and the drivers' time are not counted.
    pub(super) counting_from: OnceLock<Instant>,
}

/// The median and 90th percentile of `values` (0 when empty).
pub(super) fn p50_p90(mut values: Vec<f64>) -> (f64, f64) {
    values.sort_by(f64::total_cmp);
    let at = |q: f64| {
        values
            .get(((values.len() as f64 - 1.0) * q).round().max(0.0) as usize)
            .copied()
            .unwrap_or(0.0)
    };
    (at(0.5), at(0.9))
}

impl Counters {
    /// Whether the warm-up is over (what happens now counts).
    pub(super) fn counting(&self) -> bool {
        self.counting_from
            .get()
            .is_none_or(|from| Instant::now() >= *from)
    }

    /// Keeps `value` in `list` while it holds fewer than [`MAX_KEPT`].
    pub(super) fn keep<T>(list: &Mutex<Vec<T>>, value: T) {
        if let Ok(mut list) = list.lock() {
            if list.len() < MAX_KEPT {
                list.push(value);
            }
        }
    }

    /// What was counted so far (the rides' fates are filled in at the end).
    pub(super) fn summary(&self) -> Summary {
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let pickups = self.pickups.lock().map(|p| p.clone()).unwrap_or_default();
        let mean = pickups.iter().sum::<f64>() / pickups.len().max(1) as f64;
        let count = pickups.len() as u64;
        let (_, p90) = p50_p90(pickups);
        Summary {
            match_p50_secs: 0.0,
            match_p90_secs: 0.0,
            idle_share: n(&self.idle_ms) as f64 / n(&self.driver_ms).max(1) as f64,
            seed: 0,
            matched: 0,
            expired: 0,
            searching: 0,
            pickups: count,
            pickup_mean_secs: mean,
            pickup_p90_secs: p90,
            off_road: n(&self.off_road),
            reports: n(&self.reports),
            requests: n(&self.requests),
            accepted: n(&self.accepted),
            declined: n(&self.declined),
            ignored: n(&self.ignored),
            cancelled: n(&self.cancelled),
            completed: n(&self.completed),
            conflicts: n(&self.conflicts),
            errors: n(&self.errors),
        }
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "reports {}  rides requested {}  offers accepted {} declined {} ignored {}  cancelled {}  completed {}  conflicts {}  errors {}  pickups {} (mean {:.0} s, p90 {:.0} s)  idle share {:.2}",
            self.reports,
            self.requests,
            self.accepted,
            self.declined,
            self.ignored,
            self.cancelled,
            self.completed,
            self.conflicts,
            self.errors,
            self.pickups,
            self.pickup_mean_secs,
            self.pickup_p90_secs,
            self.idle_share
        )
    }
}

/// The service's API as the simulated city calls it, counting what fails.
#[derive(Clone)]
pub(super) struct Api {
    pub(super) client: tracking_client::Client,
    pub(super) counters: Arc<Counters>,
}

impl Api {
    /// Counts a failed call; the value of one that succeeded.
    pub(super) fn counted<T>(&self, result: tracking_client::Result<T>) -> Option<T> {
        match &result {
            Err(e) if e.code() == Some("CONFLICT") => {
                self.counters.conflicts.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                self.counters.errors.fetch_add(1, Ordering::Relaxed);
            }
            Ok(_) => {}
        }
        result.ok()
    }

    /// Adds one to a counter.
    pub(super) fn count(&self, counter: impl Fn(&Counters) -> &AtomicU64) {
        counter(&self.counters).fetch_add(1, Ordering::Relaxed);
    }
}
