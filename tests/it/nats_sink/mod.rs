//! The NATS JetStream sink against a real `nats-server -js` of each test's
//! own: what arrives in the stream (each event once, with its
//! `Nats-Msg-Id`, on `tracking.<area>.<TYPE>`), re-sent batches not stored
//! twice, a server that dies and comes back, the start-up stream check, TLS
//! with `--nats-ca`; and the whole service publishing, on every store
//! (`service.rs`).

mod attacks;
mod helpers;
mod service;
mod sink;
mod tls;
