//! What mutations take as input objects: a position report, a point.

use async_graphql::{InputObject, ID};
use chrono::{DateTime, Utc};

use crate::domain;

/// One position report in `updateLocations`.
#[derive(InputObject)]
pub struct LocationUpdate {
    /// The driver.
    pub driver_id: ID,
    /// Latitude in degrees, within ±85.05112878.
    pub lat: f64,
    /// Longitude in degrees, within ±180.
    pub lng: f64,
    /// When the position was taken (default: now). A report older than the
    /// driver's stored position is ignored.
    pub at: Option<DateTime<Utc>>,
}

impl LocationUpdate {
    pub(in crate::api) fn report(
        &self,
    ) -> Result<crate::domain::LocationReport, crate::domain::error::Error> {
        Ok(crate::domain::LocationReport {
            driver: domain::DriverId::parse(&self.driver_id)?,
            at: domain::Coordinates::parse(self.lat, self.lng)?,
            taken_at: self.at.unwrap_or_else(Utc::now),
        })
    }
}

/// A point given as input.
#[derive(InputObject)]
pub struct LocationInput {
    /// Latitude in degrees, within ±85.05112878.
    pub lat: f64,
    /// Longitude in degrees, within ±180.
    pub lng: f64,
}
