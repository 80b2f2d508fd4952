//! The operations one socket runs: subscriptions (streams polled by the
//! socket's own task, so an idle subscriber costs no task of its own) and
//! queries or mutations (each on a task of its own, so one socket can use
//! every core).
//!
//! Subscriptions are counted from what actually runs: the
//! `tracking_subscriptions` gauge goes up when a stream is added and down
//! when that stream object is dropped: ended by the server, stopped by the
//! client, or dropped with the socket. Nothing is inferred from message
//! text.

use std::{collections::HashMap, future::Future, sync::Arc};

use async_graphql::Response;
use futures_util::{
    future::{AbortHandle, Abortable},
    stream::{BoxStream, FuturesUnordered, SelectAll},
    Stream, StreamExt,
};
use tokio::task::JoinHandle;

use super::shared::Payload;
use crate::telemetry;

/// What a running operation produced.
pub enum Output {
    /// A result of the subscription `id`.
    Next { id: Arc<str>, response: Payload },
    /// The subscription `id` ended on the server's side.
    Ended { id: Arc<str> },
    /// The query or mutation `id` finished with this result.
    Finished { id: Arc<str>, response: Response },
}

/// What a subscription's stream yields, tagged with its registration
/// (moved once per event, never stored: its size does not matter).
#[allow(clippy::large_enum_variant)]
enum Tagged {
    Next(Payload),
    Ended,
}

/// One live subscription's stream, counted while it exists.
struct Counted {
    id: Arc<str>,
    serial: u64,
    stream: BoxStream<'static, Tagged>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        metrics::gauge!(telemetry::SUBSCRIPTIONS).decrement(1.0);
    }
}

impl Stream for Counted {
    type Item = (Arc<str>, u64, Tagged);

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let (id, serial) = (self.id.clone(), self.serial);
        self.stream
            .poll_next_unpin(cx)
            .map(|item| item.map(|tagged| (id, serial, tagged)))
    }
}

/// A subscription the client can stop by its id.
struct Running {
    /// Tells this registration from a later one that reuses the id.
    serial: u64,
    stop: AbortHandle,
}

/// Everything one socket runs.
#[derive(Default)]
pub struct Operations {
    subscriptions: SelectAll<Counted>,
    by_id: HashMap<Arc<str>, Running>,
    serial: u64,
    queries: FuturesUnordered<JoinHandle<(Arc<str>, Response)>>,
}

impl Operations {
    /// Subscriptions registered and not yet ended.
    pub fn subscriptions(&self) -> usize {
        self.by_id.len()
    }

    /// Queries and mutations still running.
    pub fn queries(&self) -> usize {
        self.queries.len()
    }

    /// Whether a subscription with this id is running.
    pub fn has(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
    }

    /// Runs a subscription's stream under the client's `id`.
    pub fn subscribe(
        &mut self,
        id: Arc<str>,
        stream: impl Stream<Item = Payload> + Send + 'static,
    ) {
        self.serial += 1;
        let serial = self.serial;
        let (stop, registration) = AbortHandle::new_pair();
        let tagged = Abortable::new(stream, registration)
            .map(Tagged::Next)
            .chain(futures_util::stream::once(async { Tagged::Ended }))
            .boxed();
        metrics::gauge!(telemetry::SUBSCRIPTIONS).increment(1.0);
        self.subscriptions.push(Counted {
            id: id.clone(),
            serial,
            stream: tagged,
        });
        self.by_id.insert(id, Running { serial, stop });
    }

    /// Runs a query or mutation on a task of its own.
    pub fn run(&mut self, id: Arc<str>, work: impl Future<Output = Response> + Send + 'static) {
        self.queries
            .push(tokio::spawn(async move { (id, work.await) }));
    }

    /// Stops the client's subscription `id`; false when none runs.
    pub fn stop(&mut self, id: &str) -> bool {
        match self.by_id.remove(id) {
            Some(running) => {
                running.stop.abort();
                true
            }
            None => false,
        }
    }

    /// The next output of any operation; pending while nothing runs.
    pub async fn next(&mut self) -> Output {
        loop {
            tokio::select! {
                Some((id, serial, tagged)) = self.subscriptions.next(), if !self.subscriptions.is_empty() => {
                    // A stream the client stopped, or one whose id was
                    // reused since, is nobody's any more.
                    if self.by_id.get(&id).is_none_or(|r| r.serial != serial) {
                        continue;
                    }
                    match tagged {
                        Tagged::Next(response) => return Output::Next { id, response },
                        Tagged::Ended => {
                            self.by_id.remove(&id);
                            return Output::Ended { id };
                        }
                    }
                }
                Some(done) = self.queries.next(), if !self.queries.is_empty() => {
                    if let Ok((id, response)) = done {
                        return Output::Finished { id, response };
                    }
                }
                else => std::future::pending::<()>().await,
            }
        }
    }
}
