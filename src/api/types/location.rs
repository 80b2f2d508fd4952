//! A point on Earth as GraphQL shows it.

use async_graphql::Object;

use crate::domain;

pub struct Location(pub domain::Coordinates);

/// A point on Earth in degrees (WGS 84).
#[Object]
impl Location {
    /// Latitude in degrees, within ±85.05112878.
    async fn lat(&self) -> f64 {
        self.0.lat()
    }

    /// Longitude in degrees, within ±180.
    async fn lng(&self) -> f64 {
        self.0.lng()
    }
}
