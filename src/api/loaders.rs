//! Batched reads for fields many objects of a response ask at once: the
//! drivers of a `fleet` snapshot's rides are read in one store call (on
//! Redis, one round trip) instead of one per ride. Nothing is cached: a
//! driver read is always the driver now.

use std::{collections::HashMap, time::Duration};

use async_graphql::dataloader::{DataLoader, Loader};

use crate::{
    dispatch::Dispatcher,
    domain::error::Error,
    domain::{Driver, DriverId},
};

/// How long a batch waits for more keys before it is read.
const GATHER: Duration = Duration::from_micros(200);

/// Drivers by id, as they are now.
pub struct Drivers(Dispatcher);

impl Loader<DriverId> for Drivers {
    type Value = Driver;
    type Error = Error;

    async fn load(&self, ids: &[DriverId]) -> Result<HashMap<DriverId, Driver>, Error> {
        Ok(self
            .0
            .drivers_now(ids)
            .await?
            .into_iter()
            .map(|driver| (driver.id.clone(), driver))
            .collect())
    }
}

/// The loader the schema holds.
pub fn drivers(dispatcher: Dispatcher) -> DataLoader<Drivers> {
    DataLoader::new(Drivers(dispatcher), tokio::spawn).delay(GATHER)
}
