//! Subscriptions over plain HTTP, for clients that do not open WebSockets:
//!
//! - [`multipart`]: Apollo's multipart protocol (`POST /graphql` with
//!   `Accept: multipart/mixed;subscriptionSpec=1.0`), what Apollo Client's
//!   `HttpLink` and Apollo Router speak;
//! - [`sse`]: GraphQL over Server-Sent Events, the `graphql-sse`
//!   protocol's distinct-connections mode (`/graphql/stream`).
//!
//! Both are one response per operation, streamed until the operation ends,
//! the client goes (its subscription is dropped with the response body), the
//! token of the request expires, or the service shuts down; with a
//! heartbeat so that proxies keep an idle stream open. They obey what every
//! transport does: the `Authorization` header, the gate (validation,
//! persisted documents), role rules in the resolvers, the operation
//! metrics, and the connection cap (each stream holds one connection).

pub mod multipart;
pub mod sse;

use async_graphql::{Response, ServerError};
use futures_util::{stream::BoxStream, StreamExt};

use super::AppState;
use crate::{
    api::{
        coded,
        limits::record_operation,
        prepare::{Kind, Prepared},
    },
    auth::Session,
    domain::error::codes,
    telemetry,
};

/// What a stream sends.
#[allow(clippy::large_enum_variant)]
pub enum Event {
    /// A result of the operation.
    Next(Response),
    /// Nothing happened for a heartbeat's time.
    Heartbeat,
    /// The operation ended.
    Complete,
    /// The stream ends for a reason of the transport's (shutdown, the
    /// token's expiry), not the operation's.
    Fail(ServerError),
}

/// Counts an open stream while it lives.
struct Open {
    transport: &'static str,
    subscription: bool,
}

impl Open {
    fn new(transport: &'static str, subscription: bool) -> Self {
        metrics::gauge!(telemetry::HTTP_STREAMS, "transport" => transport).increment(1.0);
        if subscription {
            metrics::gauge!(telemetry::SUBSCRIPTIONS).increment(1.0);
        }
        Self {
            transport,
            subscription,
        }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        metrics::gauge!(telemetry::HTTP_STREAMS, "transport" => self.transport).decrement(1.0);
        if self.subscription {
            metrics::gauge!(telemetry::SUBSCRIPTIONS).decrement(1.0);
        }
    }
}

/// The events of one operation, run for `session`, until it ends or the
/// stream must.
pub fn events(
    state: &AppState,
    session: Session,
    prepared: Prepared,
    transport: &'static str,
) -> BoxStream<'static, Event> {
    let label = prepared.label;
    let subscription = prepared.kind == Kind::Subscription;
    let expires = session.remaining().unwrap_or(crate::auth::FOREVER);
    let mut responses = state
        .schemas
        .of(&prepared)
        .execute_stream(prepared.request.data(session.caller));
    let shutdown = state.lifecycle.shutdown.clone();
    let every = state.limits.stream_heartbeat;
    async_stream::stream! {
        let _open = Open::new(transport, subscription);
        let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let expiry = tokio::time::sleep(expires);
        tokio::pin!(expiry);
        let mut first = true;
        loop {
            tokio::select! {
                response = responses.next() => match response {
                    Some(response) => {
                        if std::mem::take(&mut first) {
                            record_operation(label, &response);
                        }
                        yield Event::Next(response);
                    }
                    None => {
                        yield Event::Complete;
                        break;
                    }
                },
                _ = heartbeat.tick() => yield Event::Heartbeat,
                _ = shutdown.cancelled() => {
                    yield Event::Fail(coded(codes::UNAVAILABLE, "the service is shutting down: subscribe again"));
                    break;
                }
                _ = &mut expiry => {
                    yield Event::Fail(coded(codes::UNAUTHENTICATED, "the token of this stream has expired: subscribe again with a new one"));
                    break;
                }
            }
        }
    }
    .boxed()
}
