//! The `events` scenario's receiving ends: a webhook receiver in the bench
//! process (127.0.0.1:0; notes when each event id first arrived, answers
//! 200, or 503 while told to refuse) and a `nats-server -js` of the
//! scenario's own with the operator's stream (`tracking.>`), read back by an
//! ordered JetStream consumer. Both time an arrival with this machine's
//! clock, as the service stamps an event's `at`.

use std::{
    collections::HashMap,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex, PoisonError,
    },
    time::{Duration, Instant},
};

use async_nats::jetstream::{self, consumer::push, stream};
use axum::{body::Bytes, extract::State, http::StatusCode, routing::post, Router};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde_json::Value;

use crate::{
    error::{BenchError, Result},
    report::percentile,
};

/// The stream the scenario makes for the service's events, as an operator would.
pub const STREAM: &str = "TRACKING";

/// When an event was committed (its `at`, the store's clock) and when a
/// receiver first got it.
#[derive(Debug, Clone, Copy)]
pub struct Receipt {
    pub at: DateTime<Utc>,
    pub received: DateTime<Utc>,
}

/// What a receiver got: each id's first arrival, ids that came again (a
/// re-sent batch), ids that came before an id already seen of their area.
#[derive(Debug, Default)]
pub struct Received {
    first: HashMap<String, Receipt>,
    last: HashMap<String, (u64, u64)>,
    latest_at: Option<DateTime<Utc>>,
    pub duplicates: usize,
    pub out_of_order: usize,
    pub malformed: usize,
}

/// An id's area and log position (`<area>:<epoch>:<ms>-<n>`).
fn position(id: &str) -> Option<(&str, (u64, u64))> {
    let (area, rest) = id.split_once(':')?;
    let (_epoch, seq) = rest.rsplit_once(':')?;
    let (ms, n) = seq.split_once('-')?;
    Some((area, (ms.parse().ok()?, n.parse().ok()?)))
}

impl Received {
    /// Notes one event (its JSON as the sinks send it) arriving at `received`.
    pub fn note(&mut self, event: &Value, received: DateTime<Utc>) {
        let at = event["at"]
            .as_str()
            .and_then(|a| DateTime::parse_from_rfc3339(a).ok());
        let (Some(id), Some(at)) = (event["id"].as_str(), at) else {
            self.malformed += 1;
            return;
        };
        if self.first.contains_key(id) {
            self.duplicates += 1;
            return;
        }
        if let Some((area, seq)) = position(id) {
            match self.last.get_mut(area) {
                Some(last) if seq < *last => self.out_of_order += 1,
                Some(last) => *last = seq,
                None => {
                    self.last.insert(area.to_owned(), seq);
                }
            }
        }
        let at = at.with_timezone(&Utc);
        self.latest_at = self.latest_at.max(Some(at));
        self.first.insert(id.to_owned(), Receipt { at, received });
    }

    /// Distinct events received.
    pub fn len(&self) -> usize {
        self.first.len()
    }

    /// The latest `at` of the events received.
    pub fn latest_at(&self) -> Option<DateTime<Utc>> {
        self.latest_at
    }

    /// Every distinct event's first arrival.
    pub fn receipts(&self) -> Vec<Receipt> {
        self.first.values().copied().collect()
    }
}

/// A shared [`Received`].
pub type Shared = Arc<Mutex<Received>>;

/// Locks a [`Shared`] (a panicked holder leaves figures worth reading).
pub fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Received> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Change-to-receipt figures, in ms.
#[derive(Debug, Clone, Copy)]
pub struct Latency {
    pub count: usize,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

/// The latency of the events committed within `[from, to)`.
pub fn latency(receipts: &[Receipt], from: DateTime<Utc>, to: DateTime<Utc>) -> Latency {
    let mut ms: Vec<f64> = receipts
        .iter()
        .filter(|r| r.at >= from && r.at < to)
        .map(|r| (r.received - r.at).num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0)
        .collect();
    ms.sort_by(f64::total_cmp);
    Latency {
        count: ms.len(),
        p50: percentile(&ms, 50.0),
        p99: percentile(&ms, 99.0),
        max: ms.last().copied().unwrap_or(f64::NAN),
    }
}

/// Distinct events that arrived within `[from, to)`.
pub fn arrived_between(receipts: &[Receipt], from: DateTime<Utc>, to: DateTime<Utc>) -> usize {
    receipts
        .iter()
        .filter(|r| r.received >= from && r.received < to)
        .count()
}

struct HookState {
    refusing: AtomicBool,
    received: Shared,
    accepted: AtomicU64,
    refused: AtomicU64,
}

/// The webhook receiver, stopped when dropped.
pub struct Webhook {
    pub url: String,
    state: Arc<HookState>,
    server: tokio::task::JoinHandle<()>,
}

impl Webhook {
    pub async fn start() -> Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| BenchError::Process(format!("webhook receiver: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| BenchError::Process(format!("webhook receiver: {e}")))?;
        let state = Arc::new(HookState {
            refusing: AtomicBool::new(false),
            received: Shared::default(),
            accepted: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        });
        let app = Router::new()
            .route("/hook", post(hook))
            .with_state(state.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            url: format!("http://{addr}/hook"),
            state,
            server,
        })
    }

    /// From now on answer 503 (`true`) or take batches again (`false`).
    pub fn refuse(&self, refusing: bool) {
        self.state.refusing.store(refusing, Ordering::SeqCst);
    }

    pub fn received(&self) -> &Shared {
        &self.state.received
    }

    /// POSTs answered 200, and refused with 503.
    pub fn posts(&self) -> (u64, u64) {
        (
            self.state.accepted.load(Ordering::Relaxed),
            self.state.refused.load(Ordering::Relaxed),
        )
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn hook(State(state): State<Arc<HookState>>, body: Bytes) -> StatusCode {
    let received = Utc::now();
    if state.refusing.load(Ordering::SeqCst) {
        state.refused.fetch_add(1, Ordering::Relaxed);
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let Ok(Value::Array(events)) = serde_json::from_slice::<Value>(&body) else {
        lock(&state.received).malformed += 1;
        return StatusCode::BAD_REQUEST;
    };
    let mut got = lock(&state.received);
    for event in &events {
        got.note(event, received);
    }
    state.accepted.fetch_add(1, Ordering::Relaxed);
    StatusCode::OK
}

/// A `nats-server -js` of the scenario's own, with the stream, read back
/// by an ordered consumer; stopped (and its store removed) when dropped.
pub struct Nats {
    pub url: String,
    js: jetstream::Context,
    received: Shared,
    reader: tokio::task::JoinHandle<()>,
    _server: Server,
}

impl Nats {
    /// `None` when `nats-server` is not installed (the scenario then has no
    /// NATS row, and says so).
    pub async fn start() -> Result<Option<Self>> {
        if Command::new("nats-server")
            .arg("--version")
            .output()
            .is_err()
        {
            return Ok(None);
        }
        let port = test_support::free_port();
        let dir =
            std::env::temp_dir().join(format!("tracking-bench-nats-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| BenchError::Process(format!("cannot start nats-server: {e}")))?;
        // Killed when dropped, also if anything below fails.
        let mut server = Server { child, dir };
        let url = format!("nats://127.0.0.1:{port}");
        let started = Instant::now();
        let client = loop {
            match async_nats::connect(url.as_str()).await {
                Ok(client) => break client,
                Err(_) if started.elapsed() < Duration::from_secs(10) => {
                    if let Ok(Some(status)) = server.child.try_wait() {
                        return Err(BenchError::Process(format!(
                            "nats-server exited at start ({status})"
                        )));
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(BenchError::Process(format!("nats-server: {e}"))),
            }
        };
        let js = jetstream::new(client.clone());
        let nats = |e: &dyn std::fmt::Display| BenchError::Process(format!("NATS: {e}"));
        let stream = js
            .create_stream(stream::Config {
                name: STREAM.into(),
                subjects: vec!["tracking.>".into()],
                // Covers the service's retry horizon (its longest backoff
                // and a delivery lease).
                duplicate_window: Duration::from_secs(300),
                ..Default::default()
            })
            .await
            .map_err(|e| nats(&e))?;
        let mut messages = stream
            .create_consumer(push::OrderedConfig {
                deliver_subject: client.new_inbox(),
                ..Default::default()
            })
            .await
            .map_err(|e| nats(&e))?
            .messages()
            .await
            .map_err(|e| nats(&e))?;
        let received = Shared::default();
        let reader = {
            let received = received.clone();
            tokio::spawn(async move {
                while let Some(message) = messages.next().await {
                    let now = Utc::now();
                    let Ok(message) = message else { continue };
                    match serde_json::from_slice::<Value>(&message.payload) {
                        Ok(event) => lock(&received).note(&event, now),
                        Err(_) => lock(&received).malformed += 1,
                    }
                }
            })
        };
        Ok(Some(Self {
            url,
            js,
            received,
            reader,
            _server: server,
        }))
    }

    pub fn received(&self) -> &Shared {
        &self.received
    }

    /// Messages the stream holds (JetStream's de-duplication applied).
    pub async fn stored(&self) -> u64 {
        match self.js.get_stream(STREAM).await {
            Ok(mut stream) => stream.info().await.map(|i| i.state.messages).unwrap_or(0),
            Err(_) => 0,
        }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// The `nats-server` process: killed, and its store removed, when dropped.
struct Server {
    child: Child,
    dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(seq: &str, at: &str) -> Value {
        json!({"id": format!("default:k3x9q2:{seq}"), "at": at, "type": "RIDE_REQUESTED"})
    }

    /// Each id counts once (a re-sent batch is counted apart), an id below
    /// one already seen of its area is out of order, and the latency is
    /// the first receipt less the event's `at`.
    #[test]
    fn a_receiver_counts_each_id_once_and_notices_order() {
        let mut got = Received::default();
        let t = |ms: u32| {
            DateTime::parse_from_rfc3339("2026-12-04T15:00:00Z")
                .map(|t| t.with_timezone(&Utc) + chrono::TimeDelta::milliseconds(ms.into()))
                .unwrap_or_default()
        };
        got.note(&event("1764860400000-0", "2026-12-04T15:00:00.000Z"), t(10));
        got.note(&event("1764860400000-1", "2026-12-04T15:00:00.000Z"), t(30));
        got.note(&event("1764860400000-1", "2026-12-04T15:00:00.000Z"), t(90));
        got.note(&event("1764860399999-5", "2026-12-04T14:59:59.999Z"), t(40));
        got.note(&json!({"id": 3}), t(50));
        assert_eq!(got.len(), 3);
        assert_eq!((got.duplicates, got.out_of_order, got.malformed), (1, 1, 1));
        let l = latency(&got.receipts(), t(0), t(1));
        assert_eq!(l.count, 2, "only the events committed in the window");
        assert_eq!((l.p99, l.max), (30.0, 30.0));
        assert_eq!(got.latest_at(), Some(t(0)));
    }
}
