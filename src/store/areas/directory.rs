//! Where each driver is: which area's store holds it.

use async_trait::async_trait;

use crate::{
    domain::{AreaId, DriverId},
    error::Result,
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
}
