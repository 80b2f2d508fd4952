//! Who may do what: each role's operations, rides and streams, tokens
//! (signed, expiring, from a JWKS, at the edges of their claims), a right
//! lost mid-stream, introspection behind tokens, and no other origin's
//! page calling the API.

mod cross_site;
mod following;
mod introspection;
mod jwks;
mod rights;
mod roles;
pub(crate) mod setup;
mod token_edges;
mod tokens;

use rights::*;

use crate::common::for_each_store;

for_each_store!(
    // rights.rs: a right lost mid-stream
    a_declined_driver_loses_every_stream_of_the_ride,
    a_driver_whose_offer_timed_out_loses_the_ride_stream,
);
