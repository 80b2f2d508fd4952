//! The lease on a rider's requests across instances, and the lease of a
//! process that is the only one (its own lock is enough).

use async_trait::async_trait;

use crate::{domain::error::Result, domain::RiderId};

/// The lease on a rider's requests across instances.
#[async_trait]
pub trait RiderLease: Send + Sync {
    /// Takes the lease on `rider`'s requests: while it is held, no request
    /// of the rider on another instance decides. Waits a bounded time
    /// while another holds it, then fails `UNAVAILABLE`. Returns what
    /// [`RiderLease::release`] needs; `None` where one instance is all there
    /// is (its own lock is enough).
    async fn lease(&self, rider: &RiderId) -> Result<Option<String>>;
    /// Gives the lease back (only if it is still the one taken).
    async fn release(&self, rider: &RiderId, lease: String) -> Result<()>;
}

/// One process serves every request: its own lock is the whole lease.
pub struct OneProcess;

#[async_trait]
impl RiderLease for OneProcess {
    async fn lease(&self, _rider: &RiderId) -> Result<Option<String>> {
        Ok(None)
    }

    async fn release(&self, _rider: &RiderId, _lease: String) -> Result<()> {
        Ok(())
    }
}
