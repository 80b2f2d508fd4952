//! The lease on a rider's requests, with an areas file on Redis:
//! `{prefix:rider:<id>}:requesting`, in the rider's own slot, taken with
//! `SET NX PX` and given back only by its holder (see
//! [`crate::store::areas::RiderLease`]). Its TTL outlasts every step a
//! holder takes, so a live holder never loses it; a killed one's lapses.

use async_trait::async_trait;

use super::{
    connection::Conn,
    keys::Keys,
    pointers::{give_lease_back, take_lease},
};
use crate::{domain::error::Result, domain::RiderId, store::areas::RiderLease};

/// Riders' leases on Redis.
pub struct RiderLeases {
    conn: Conn,
    prefix: String,
}

impl RiderLeases {
    pub fn new(conn: Conn, prefix: &str) -> Self {
        Self {
            conn,
            prefix: prefix.to_owned(),
        }
    }
}

#[async_trait]
impl RiderLease for RiderLeases {
    async fn lease(&self, rider: &RiderId) -> Result<Option<String>> {
        take_lease(&self.conn, &Keys::rider_lease(&self.prefix, rider), || {
            format!("another request of rider {rider} is being decided; try again")
        })
        .await
        .map(Some)
    }

    async fn release(&self, rider: &RiderId, lease: String) -> Result<()> {
        give_lease_back(&self.conn, &Keys::rider_lease(&self.prefix, rider), lease).await
    }
}
