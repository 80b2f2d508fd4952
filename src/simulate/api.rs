//! The simulator's calls to the service, counted: the typed client with
//! the counters behind the [`Summary`] a simulation reports.

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc,
};

/// What a simulation did, as counted by the simulator itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Position reports sent.
    pub reports: u64,
    /// Rides requested.
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
}

impl Counters {
    /// What was counted so far.
    pub(super) fn summary(&self) -> Summary {
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Summary {
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
            "reports {}  rides requested {}  offers accepted {} declined {} ignored {}  cancelled {}  completed {}  conflicts {}  errors {}",
            self.reports,
            self.requests,
            self.accepted,
            self.declined,
            self.ignored,
            self.cancelled,
            self.completed,
            self.conflicts,
            self.errors
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
