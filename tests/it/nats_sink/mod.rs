//! The NATS JetStream sink against a real `nats-server -js` of each test's
//! own: what arrives in the stream (each event once, with its
//! `Nats-Msg-Id`, on `tracking.<area>.<TYPE>`), re-sent batches not stored
//! twice, a server that dies and comes back, the start-up stream check, TLS
//! with `--nats-ca`.
//!
//! `service.rs` (the whole service publishing, on every store) needs the
//! delivery runner: add `mod service;` here once the runner drives sinks.

mod helpers;
mod sink;
mod tls;
