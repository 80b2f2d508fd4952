//! The integration suite: one binary, real servers, real clients.

// A test that meets the unexpected should fail loudly, right there.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod areas;
mod areas_start;
mod behaviour;
mod bounds;
mod chaos;
mod chaos_areas;
mod client;
mod cluster;
mod common;
mod cross_site;
mod faults;
mod fuzz;
mod introspection;
mod jwks;
mod live;
mod migrate;
mod offers;
mod offers_shared;
mod readme;
mod recovery;
mod redis_cluster;
mod rest;
mod riders;
mod rights;
mod schema;
mod security;
mod simulate;
mod tls;
mod token_edges;
mod tokens;
mod transports;
