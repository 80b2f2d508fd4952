//! The ways in: WebSocket (both subprotocols, keep-alive, shutdown), GraphQL
//! over HTTP as the GraphQL Foundation's spec has it, subscriptions
//! streamed over HTTP (multipart and Server-Sent Events), persisted
//! documents, the seed's REST API, and the typed Rust client. The spec's
//! own audit suite runs from node (`tests/clients/`); these are what it
//! does not check.

mod client;
mod http;
mod persisted;
mod rest;
mod streams;
mod websocket;

use persisted::*;
use streams::*;
use websocket::*;

use crate::common::for_each_store;

for_each_store!(
    // websocket.rs: both WebSocket subprotocols
    both_subprotocols_follow_a_ride_to_its_end,
    // streams.rs: multipart and SSE
    streams_follow_a_ride,
    // persisted.rs: persisted documents
    persisted_queries_round_trip,
);
