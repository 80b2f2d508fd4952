//! Per-driver limit on location updates: a token bucket per driver.
//!
//! Each instance keeps its own buckets (a driver's updates normally reach one
//! instance through its connection; behind a round-robin balancer the limit
//! is per instance). Idle buckets are swept when the map has doubled, so
//! memory follows the drivers that report, not every driver ever seen.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
    time::Instant,
};

use crate::{
    domain::error::{Error, Result},
    domain::DriverId,
};

/// Token buckets, one per driver.
#[derive(Debug)]
pub struct UpdateRate {
    per_sec: f64,
    buckets: Mutex<Buckets>,
}

#[derive(Debug, Default)]
struct Buckets {
    by_driver: HashMap<DriverId, (f64, Instant)>,
    swept_at: usize,
}

impl UpdateRate {
    /// At most `per_sec` updates per second per driver, with bursts of the
    /// same size; 0 turns the limit off.
    pub fn new(per_sec: f64) -> Self {
        Self {
            per_sec,
            buckets: Mutex::new(Buckets::default()),
        }
    }

    /// Takes one token for `driver`, or refuses with `TOO_MANY_REQUESTS`.
    pub fn check(&self, driver: &DriverId, now: Instant) -> Result<()> {
        if self.per_sec <= 0.0 {
            return Ok(());
        }
        let capacity = self.per_sec.max(1.0);
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.by_driver.len() >= 2 * buckets.swept_at.max(1024) {
            let per_sec = self.per_sec;
            buckets.by_driver.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * per_sec < capacity
            });
            buckets.swept_at = buckets.by_driver.len();
        }
        let (tokens, at) = buckets
            .by_driver
            .entry(driver.clone())
            .or_insert((capacity, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.per_sec).min(capacity);
        *at = now;
        if *tokens < 1.0 {
            return Err(Error::TooManyRequests(format!(
                "driver {driver} sends more than {} location updates per second",
                self.per_sec
            )));
        }
        *tokens -= 1.0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_burst_beyond_the_rate_is_refused_and_time_refills() {
        let rate = UpdateRate::new(2.0);
        let d = DriverId::parse("d").unwrap();
        let t0 = Instant::now();
        assert!(rate.check(&d, t0).is_ok());
        assert!(rate.check(&d, t0).is_ok());
        assert!(matches!(rate.check(&d, t0), Err(Error::TooManyRequests(_))));
        assert!(rate.check(&d, t0 + Duration::from_millis(500)).is_ok());
        let other = DriverId::parse("e").unwrap();
        assert!(rate.check(&other, t0).is_ok(), "buckets are per driver");
        assert!(UpdateRate::new(0.0).check(&d, t0).is_ok(), "0 is off");
    }
}
