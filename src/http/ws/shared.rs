//! Live maps shared between subscribers. Every dashboard watching the same
//! area with the same document would resolve the same drivers and rides
//! into the same JSON, thousands a second each: instead one execution per
//! distinct `fleet` subscription (same text, operation and variables) runs
//! for all of them, and each result is serialised once and handed to every
//! subscriber. Only `fleet` is shared, and only among callers who may
//! watch it (dispatchers, or everyone when no tokens are configured): its
//! results do not depend on which of them asks.
//!
//! The first event (a SNAPSHOT) is shared too, among those who join
//! together ([`super::firsts`]): a subscriber listens to the shared results
//! first, then takes a snapshot resolved after that, so no change is lost;
//! the shared execution's own first result is the snapshot of those who
//! joined before it came. One that reads too slowly to keep up skips to
//! the newest results and gets a fresh snapshot marked as a resync, as a
//! lagging `fleet` subscriber always did (shared with others resyncing
//! together).
//!
//! A shared execution ends when its last subscriber has gone (checked at
//! each result and every few seconds), or when its stream ends (shutdown):
//! then its subscribers' streams end too. There is at most one per
//! distinct subscription running, so their number is bounded by the
//! subscriptions the sockets may hold.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_graphql::Response;
use futures_util::{future::BoxFuture, stream::BoxStream, FutureExt, Stream, StreamExt};
use tokio::sync::broadcast::{self, error::RecvError};

use super::firsts::{First, Firsts, Opening};
use crate::{
    api::{prepare::Replay, TrackingSchema as Schema},
    telemetry,
};

/// The data a socket's operations run with (its caller).
type Session = Arc<async_graphql::Data>;

/// Results a subscriber may fall behind by before it skips to the newest:
/// with changes gathered over an interval, a few seconds' worth (each may
/// hold thousands of drivers); with one result per change, a burst (one
/// `updateLocations` call moves up to 1,000 drivers at once). The channel
/// keeps that many of the latest results, so this bounds its memory too.
const GATHERED_BACKLOG: usize = 16;
const EACH_CHANGE_BACKLOG: usize = 2048;
/// How often an idle shared execution checks whether anyone still listens.
const IDLE_CHECK: Duration = Duration::from_secs(5);

/// One result of a subscription: resolved for this subscriber, or
/// serialised once for all of them (a snapshot with its outcome, or a
/// later result). Moved once per event, never stored: its size does not
/// matter.
#[allow(clippy::large_enum_variant)]
pub enum Payload {
    Own(Response),
    First(Arc<First>),
    Shared(Arc<str>),
}

/// The shared executions running, by what tells them apart.
pub struct SharedSubscriptions {
    running: Mutex<HashMap<String, Hub>>,
    backlog: usize,
}

/// One shared execution, as its subscribers reach it.
#[derive(Clone)]
struct Hub {
    results: broadcast::Sender<Arc<str>>,
    /// Its snapshots, shared by the subscribers asking together.
    firsts: Arc<Firsts>,
}

impl SharedSubscriptions {
    /// For a service whose `fleet` gathers changes over `interval` (zero:
    /// one result per change).
    pub fn new(interval: Duration) -> Self {
        Self {
            running: Mutex::default(),
            backlog: if interval.is_zero() {
                EACH_CHANGE_BACKLOG
            } else {
                GATHERED_BACKLOG
            },
        }
    }

    /// Whether a subscription is shared (its root field is `fleet`).
    pub fn shares(label: &str) -> bool {
        label == "fleet"
    }

    /// The results of `replay` for one subscriber: a snapshot resolved
    /// after it joined, then the shared results.
    pub fn subscribe(
        self: &Arc<Self>,
        schema: Schema,
        session: Session,
        replay: Replay,
    ) -> impl Stream<Item = Payload> + Send + 'static {
        let key = replay.key();
        let (mut results, mut firsts) = self.join(&key, &schema, &session, &replay);
        let registry = self.clone();
        async_stream::stream! {
            let resolve = || snapshot(&schema, &session, &replay, false);
            let Some(first) = firsts.take(false, resolve).await else { return };
            let refused = first.refused();
            yield Payload::First(first);
            if refused {
                return;
            }
            loop {
                match results.recv().await {
                    Ok(json) => yield Payload::Shared(json),
                    Err(RecvError::Closed) => return,
                    Err(RecvError::Lagged(_)) => {
                        (results, firsts) = registry.join(&key, &schema, &session, &replay);
                        let resolve = || snapshot(&schema, &session, &replay, true);
                        let Some(resync) = firsts.take(true, resolve).await else { return };
                        yield Payload::First(resync);
                    }
                }
            }
        }
    }

    /// A receiver of the shared execution for `key` and its snapshots,
    /// started if none runs.
    fn join(
        self: &Arc<Self>,
        key: &str,
        schema: &Schema,
        session: &Session,
        replay: &Replay,
    ) -> (broadcast::Receiver<Arc<str>>, Arc<Firsts>) {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(hub) = running.get(key) {
            return (hub.results.subscribe(), hub.firsts.clone());
        }
        let (sender, receiver) = broadcast::channel(self.backlog);
        let (firsts, opening) = Firsts::open();
        running.insert(
            key.to_owned(),
            Hub {
                results: sender.clone(),
                firsts: firsts.clone(),
            },
        );
        metrics::gauge!(telemetry::SHARED_SUBSCRIPTIONS).increment(1.0);
        let stream = schema
            .execute_stream_with_session_data(replay.request(), session.clone())
            .boxed();
        tokio::spawn(run(self.clone(), key.to_owned(), sender, opening, stream));
        (receiver, firsts)
    }

    /// Ends the shared execution for `key` if nobody listens (under the
    /// lock `join` takes, so that nobody joins one that is ending).
    fn retire(&self, key: &str, sender: &broadcast::Sender<Arc<str>>, ended: bool) -> bool {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if !ended && sender.receiver_count() > 0 {
            return false;
        }
        if running
            .get(key)
            .is_some_and(|hub| hub.results.same_channel(sender))
        {
            running.remove(key);
        }
        metrics::gauge!(telemetry::SHARED_SUBSCRIPTIONS).decrement(1.0);
        true
    }
}

/// A snapshot of `replay` resolved for `session` (marked as a `resync`),
/// serialised: the first result of an execution of its own, which then
/// ends.
fn snapshot(
    schema: &Schema,
    session: &Session,
    replay: &Replay,
    resync: bool,
) -> BoxFuture<'static, Option<First>> {
    let mut stream = schema.execute_stream_with_session_data(replay.request(), session.clone());
    async move {
        let mut response = stream.next().await?;
        drop(stream);
        if resync {
            mark_resync(&mut response);
        }
        Some(First::of(&response))
    }
    .boxed()
}

/// Marks a snapshot taken because its subscriber fell behind as a resync,
/// as an unshared `fleet` stream marks it (`fleet.resync`, when selected).
fn mark_resync(response: &mut Response) {
    if let async_graphql::Value::Object(data) = &mut response.data {
        for (_, event) in data.iter_mut() {
            if let async_graphql::Value::Object(event) = event {
                if let Some(resync) = event.get_mut("resync") {
                    *resync = async_graphql::Value::Boolean(true);
                }
            }
        }
    }
}

/// Runs one shared execution: its first result (a snapshot) is the
/// opening round of its snapshots, every later one is serialised and sent
/// to all.
async fn run(
    registry: Arc<SharedSubscriptions>,
    key: String,
    sender: broadcast::Sender<Arc<str>>,
    opening: Opening,
    mut stream: BoxStream<'static, Response>,
) {
    let mut opening = Some(opening);
    let mut idle = tokio::time::interval(IDLE_CHECK);
    loop {
        tokio::select! {
            next = stream.next() => {
                let Some(response) = next else {
                    registry.retire(&key, &sender, true);
                    return;
                };
                if let Some(opening) = opening.take() {
                    opening.land(First::of(&response));
                    continue;
                }
                let json: Arc<str> = serde_json::to_string(&response)
                    .unwrap_or_else(|_| r#"{"errors":[{"message":"unserializable result"}]}"#.into())
                    .into();
                if sender.send(json).is_err() && registry.retire(&key, &sender, false) {
                    return;
                }
            }
            _ = idle.tick() => {
                if sender.receiver_count() == 0 && registry.retire(&key, &sender, false) {
                    return;
                }
            }
        }
    }
}
