//! Deciding for one driver (a move between areas) or one rider (a request
//! over every area) at a time: this instance's striped lock first, so its
//! own callers queue here, then the lease across instances
//! ([`super::Directory::lease`], [`super::RiderLease::lease`]), given back
//! whatever the decision was.

use std::{
    collections::hash_map::RandomState,
    fmt::Display,
    future::Future,
    hash::{BuildHasher, Hash},
};

use tokio::sync::{Mutex, MutexGuard};

use crate::domain::error::Result;

/// Locks per kind of subject: a fixed number, whatever the fleet.
const STRIPES: usize = 64;

/// This instance's locks, one per stripe of subjects.
pub(super) struct Stripes {
    locks: Vec<Mutex<()>>,
    hasher: RandomState,
}

impl Stripes {
    pub(super) fn new() -> Self {
        Self {
            locks: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            hasher: RandomState::new(),
        }
    }

    /// The lock of `subject`'s stripe.
    pub(super) async fn lock(&self, subject: &impl Hash) -> MutexGuard<'_, ()> {
        let stripe = (self.hasher.hash_one(subject) % STRIPES as u64) as usize;
        self.locks[stripe].lock().await
    }
}

/// Runs `work` holding the lease `taken` (`None`: this instance's lock is
/// the whole lease), then gives it back with `give_back`, whatever `work`
/// answered. A lease not given back lapses by itself, so a failure there
/// is logged and the decision stands.
pub(super) async fn holding<T>(
    taken: Option<String>,
    work: impl Future<Output = Result<T>>,
    give_back: impl AsyncFnOnce(String) -> Result<()>,
    subject: &impl Display,
) -> Result<T> {
    let outcome = work.await;
    if let Some(lease) = taken {
        if let Err(error) = give_back(lease).await {
            tracing::warn!(%subject, %error, "could not give a lease back; it lapses by itself");
        }
    }
    outcome
}
