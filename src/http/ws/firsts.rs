//! The first results of one shared live map (its SNAPSHOTs), resolved and
//! serialised once for every subscriber who joins it together. When fifty
//! dashboards open the same map at once, each would otherwise resolve its
//! own snapshot of thousands of drivers and write it to JSON: seconds of CPU
//! each in a debug build, during which reports wait.
//!
//! A subscriber must get a snapshot taken *after* it began listening to
//! the shared results, or a change made in between would be lost. So, as
//! the store's snapshot reads do (`dispatch::live::snapshots`), a request
//! joins a round that has not started yet, or else queues the next one,
//! which starts when the current one lands: at most two rounds at a time
//! per kind of snapshot (plain, or a resync after falling behind), however
//! many ask. The shared execution's own first result is the first plain
//! round: every result it sends comes after it, so whoever listens before it
//! lands may take it. Each round runs as a task of its own, so a subscriber
//! that leaves never cancels a round others wait for, and a round starts
//! only once the shared execution listens to changes. A round's entry is
//! removed when it lands; the rounds live as long as their shared
//! execution's registry entry, so they are bounded with it.

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc, Mutex,
};

use async_graphql::Response;
use futures_util::future::BoxFuture;
use tokio::sync::watch;

use crate::api::limits::outcome;

/// A first result, serialised, with its outcome (as the operation metrics
/// count it; anything but `ok` ends the subscriber's stream).
pub struct First {
    pub json: Arc<str>,
    pub outcome: &'static str,
}

impl First {
    pub fn of(response: &Response) -> Self {
        let json = serde_json::to_string(response)
            .unwrap_or_else(|_| r#"{"errors":[{"message":"unserializable result"}]}"#.into());
        Self {
            json: json.into(),
            outcome: outcome(response),
        }
    }

    /// Whether it ends the subscription (it holds errors).
    pub fn refused(&self) -> bool {
        self.outcome != "ok"
    }
}

/// A round's result, once it lands (the sender dropped: it never will).
type Landing = watch::Receiver<Option<Arc<First>>>;

/// The kinds of snapshot: plain (a subscriber's first), or a resync.
const KINDS: usize = 2;

/// The newest round of one kind.
struct Round {
    id: u64,
    landing: Landing,
    /// Whether it has begun resolving (then a newcomer queues the next).
    started: bool,
}

/// The snapshot rounds of one shared execution.
pub struct Firsts {
    rounds: Mutex<[Option<Round>; KINDS]>,
    next_id: AtomicU64,
    /// True once the shared execution listens to changes.
    ready: watch::Receiver<bool>,
}

/// The shared execution's own first result, to be landed as the first
/// plain round (dropped unlanded: that round's subscribers end).
pub struct Opening {
    id: u64,
    land: watch::Sender<Option<Arc<First>>>,
    ready: watch::Sender<bool>,
    firsts: Arc<Firsts>,
}

impl Opening {
    /// The shared execution listens to changes, and its first result is
    /// `first`.
    pub fn land(self, first: First) {
        self.ready.send_replace(true);
        self.land.send_replace(Some(Arc::new(first)));
        self.firsts.landed(0, self.id);
    }
}

impl Firsts {
    /// The rounds of a shared execution about to start, with its opening
    /// round waiting for its first result.
    pub fn open() -> (Arc<Self>, Opening) {
        let (land, landing) = watch::channel(None);
        let (ready, listening) = watch::channel(false);
        let firsts = Arc::new(Self {
            rounds: Mutex::new([
                Some(Round {
                    id: 0,
                    landing,
                    started: false,
                }),
                None,
            ]),
            next_id: AtomicU64::new(1),
            ready: listening,
        });
        let opening = Opening {
            id: 0,
            land,
            ready,
            firsts: firsts.clone(),
        };
        (firsts, opening)
    }

    /// A snapshot (a `resync` one, or plain) resolved after this call
    /// began; `resolve` starts a round when none may be joined. `None`
    /// when the shared execution ended first.
    pub async fn take(
        self: &Arc<Self>,
        resync: bool,
        resolve: impl FnOnce() -> BoxFuture<'static, Option<First>>,
    ) -> Option<Arc<First>> {
        let mut landing = self.join(usize::from(resync), resolve);
        let landed = landing.wait_for(Option::is_some).await.ok()?;
        landed.clone()
    }

    /// The landing of a round of `kind` not started yet, queued (and
    /// spawned) if there is none.
    fn join(
        self: &Arc<Self>,
        kind: usize,
        resolve: impl FnOnce() -> BoxFuture<'static, Option<First>>,
    ) -> Landing {
        let mut rounds = self.rounds.lock().unwrap_or_else(|e| e.into_inner());
        // A round that landed, or whose sender is gone (it never will), is
        // no round to join or to wait for.
        let pending = |r: &&Round| r.landing.has_changed().is_ok() && r.landing.borrow().is_none();
        let after = match rounds[kind].as_ref().filter(pending) {
            Some(round) if !round.started => return round.landing.clone(),
            Some(round) => Some(round.landing.clone()),
            None => None,
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (land, landing) = watch::channel(None);
        rounds[kind] = Some(Round {
            id,
            landing: landing.clone(),
            started: false,
        });
        let (this, work, mut ready) = (self.clone(), resolve(), self.ready.clone());
        tokio::spawn(async move {
            if let Some(mut before) = after {
                // Whatever it resolved, this round resolves afresh.
                let _ = before.wait_for(Option::is_some).await;
            }
            if ready.wait_for(|ready| *ready).await.is_ok() {
                this.start(kind, id);
                if let Some(first) = work.await {
                    land.send_replace(Some(Arc::new(first)));
                }
            }
            this.landed(kind, id);
        });
        landing
    }

    /// Round `id` of `kind` marked started, if it is still the newest.
    fn start(&self, kind: usize, id: u64) {
        let mut rounds = self.rounds.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(round) = rounds[kind].as_mut().filter(|round| round.id == id) {
            round.started = true;
        }
    }

    /// Round `id` of `kind` forgotten, if it is still the newest.
    fn landed(&self, kind: usize, id: u64) {
        let mut rounds = self.rounds.lock().unwrap_or_else(|e| e.into_inner());
        if rounds[kind].as_ref().is_some_and(|round| round.id == id) {
            rounds[kind] = None;
        }
    }
}
