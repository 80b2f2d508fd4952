//! Where each driver is: which area's store holds it.

use async_trait::async_trait;

use crate::{
    domain::error::Result,
    domain::{AreaId, DriverId},
};

/// Which area holds which driver.
#[async_trait]
pub trait Directory: Send + Sync {
    /// The area holding the driver; `None` when it is held nowhere, or when
    /// this directory keeps nothing (then every area is asked).
    async fn locate(&self, id: &DriverId) -> Result<Option<AreaId>>;
    /// The driver is now held by `area`.
    async fn place(&self, id: &DriverId, area: &AreaId) -> Result<()>;
    /// The drivers were removed from `area`.
    async fn forget(&self, ids: &[DriverId], area: &AreaId) -> Result<()>;
    /// Whether `locate`'s `None` means the driver is held nowhere.
    fn keeps_track(&self) -> bool;
    /// Takes the lease on moving `id` between areas (or starting it in
    /// one): while it is held, no caller on any instance does either. Waits
    /// a bounded time while another holds it, then fails `UNAVAILABLE`.
    /// Returns what [`Directory::release`] needs; `None` where one instance
    /// is all there is (its own lock is enough).
    async fn lease(&self, id: &DriverId) -> Result<Option<String>>;
    /// Gives the lease back (only if it is still the one taken).
    async fn release(&self, id: &DriverId, lease: String) -> Result<()>;
}

/// A directory that keeps nothing: every area is asked (in memory, where
/// asking is cheap).
pub struct AskEveryArea;

#[async_trait]
impl Directory for AskEveryArea {
    async fn locate(&self, _id: &DriverId) -> Result<Option<AreaId>> {
        Ok(None)
    }

    async fn place(&self, _id: &DriverId, _area: &AreaId) -> Result<()> {
        Ok(())
    }

    async fn forget(&self, _ids: &[DriverId], _area: &AreaId) -> Result<()> {
        Ok(())
    }

    fn keeps_track(&self) -> bool {
        false
    }

    async fn lease(&self, _id: &DriverId) -> Result<Option<String>> {
        Ok(None)
    }

    async fn release(&self, _id: &DriverId, _lease: String) -> Result<()> {
        Ok(())
    }
}
