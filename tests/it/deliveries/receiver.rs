//! A webhook receiver of the tests' own: records every event it takes, in
//! the order it took them, and answers as the test says (200, or holding
//! the request until told otherwise).

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{extract::State, http::StatusCode, routing::post, Json, Router};
use serde_json::Value;
use tokio::sync::{watch, Notify};

/// How the receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Ok,
    /// Holds each request until the answer changes.
    Hold,
}

#[derive(Default)]
pub struct Seen {
    /// Every event taken, in the order taken (re-sent ones again).
    pub events: Vec<Value>,
    /// Requests being answered now.
    pub in_flight: usize,
    pub posts: usize,
}

struct Inner {
    seen: Mutex<Seen>,
    changed: Notify,
    answer: watch::Sender<Answer>,
}

pub struct Receiver {
    pub url: String,
    inner: Arc<Inner>,
}

async fn take(State(inner): State<Arc<Inner>>, Json(batch): Json<Vec<Value>>) -> StatusCode {
    let mut answer = inner.answer.subscribe();
    {
        let mut seen = inner.seen.lock().expect("lock");
        seen.posts += 1;
        seen.in_flight += 1;
    }
    inner.changed.notify_waiters();
    while *answer.borrow_and_update() == Answer::Hold {
        if answer.changed().await.is_err() {
            break;
        }
    }
    let status = {
        let mut seen = inner.seen.lock().expect("lock");
        seen.in_flight -= 1;
        if *answer.borrow() == Answer::Ok {
            seen.events.extend(batch);
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        }
    };
    inner.changed.notify_waiters();
    status
}

impl Receiver {
    pub async fn start(answer: Answer) -> Self {
        let inner = Arc::new(Inner {
            seen: Mutex::new(Seen::default()),
            changed: Notify::new(),
            answer: watch::channel(answer).0,
        });
        let app = Router::new()
            .route("/hook", post(take))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the receiver");
        let addr = listener.local_addr().expect("its address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url: format!("http://{addr}/hook"),
            inner,
        }
    }

    pub fn answer(&self, answer: Answer) {
        self.inner.answer.send_replace(answer);
    }

    /// Waits, at most `limit`, until `done` holds of what was seen.
    pub async fn until<T>(
        &self,
        limit: Duration,
        what: &str,
        mut done: impl FnMut(&Seen) -> Option<T>,
    ) -> T {
        test_support::within(limit, what, async {
            loop {
                let changed = self.inner.changed.notified();
                if let Some(value) = done(&self.inner.seen.lock().expect("lock")) {
                    return value;
                }
                // Changes are notified; a timer only bounds a missed one.
                let _ = tokio::time::timeout(Duration::from_millis(200), changed).await;
            }
        })
        .await
    }

    pub fn events(&self) -> Vec<Value> {
        self.inner.seen.lock().expect("lock").events.clone()
    }
}

/// The position in its log of an event id, `<area>:<epoch>:<ms>-<n>`.
fn position(id: &str) -> (String, String, u64, u64) {
    let mut parts = id.splitn(3, ':');
    let (area, epoch, seq) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let (ms, n) = seq.split_once('-').unwrap_or_default();
    (
        area.to_owned(),
        epoch.to_owned(),
        ms.parse().unwrap_or_default(),
        n.parse().unwrap_or_default(),
    )
}

/// Checks that each area's events came in log order (an id not above the
/// last one seen is only ever a re-sent one); returns the distinct ids.
pub fn in_log_order(events: &[Value]) -> BTreeSet<String> {
    let mut last: HashMap<(String, String), (u64, u64)> = HashMap::new();
    let mut seen = BTreeSet::new();
    for event in events {
        let id = event["id"].as_str().expect("an event id").to_owned();
        let (area, epoch, ms, n) = position(&id);
        let top = last.entry((area, epoch)).or_default();
        if (ms, n) > *top {
            *top = (ms, n);
        } else {
            assert!(
                seen.contains(&id),
                "{id} arrived after a later event of its area and was not a re-send"
            );
        }
        seen.insert(id);
    }
    seen
}
