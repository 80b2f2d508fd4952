//! Webhook receivers the tests run themselves on 127.0.0.1:0: one that
//! records each POST it takes (headers and body) and answers as it is told
//! (200, 503 for a while, always 500), and one that accepts connections and
//! never answers.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
    Router,
};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use tokio::net::TcpListener;

/// How a receiver answers.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    /// 200 to everything.
    Ok,
    /// 503 with `Retry-After: 1` until this long after it started, then 200.
    UnavailableFor(Duration),
    /// 500 to everything.
    Failing,
}

/// One POST taken (answered 200).
#[derive(Debug, Clone)]
pub struct Post {
    pub timestamp: String,
    pub signature: String,
    pub content_type: String,
    pub body: Bytes,
}

impl Post {
    /// The events it carried.
    pub fn events(&self) -> Vec<Value> {
        match serde_json::from_slice(&self.body) {
            Ok(Value::Array(events)) => events,
            other => panic!("a webhook body is a JSON array: {other:?}"),
        }
    }

    /// Whether one of its `v1=` signatures is `secret`'s over
    /// "<timestamp>.<body>".
    pub fn signed_with(&self, secret: &str) -> bool {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(self.timestamp.as_bytes());
        mac.update(b".");
        mac.update(&self.body);
        let expected: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        self.signature
            .split(',')
            .any(|part| part.trim() == format!("v1={expected}"))
    }
}

struct Shared {
    answer: Answer,
    started: Instant,
    taken: Mutex<Vec<Post>>,
    refused: AtomicUsize,
}

/// A receiver that records what it takes.
pub struct Receiver {
    pub url: String,
    shared: Arc<Shared>,
}

impl Receiver {
    pub async fn start(answer: Answer) -> Self {
        let shared = Arc::new(Shared {
            answer,
            started: Instant::now(),
            taken: Mutex::new(Vec::new()),
            refused: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/hook", post(take))
            .with_state(shared.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url: format!("http://{addr}/hook"),
            shared,
        }
    }

    /// The POSTs taken so far.
    pub fn posts(&self) -> Vec<Post> {
        self.shared.taken.lock().unwrap().clone()
    }

    /// Every event taken so far, in the order received.
    pub fn events(&self) -> Vec<Value> {
        self.posts().iter().flat_map(Post::events).collect()
    }

    /// How many POSTs it refused.
    pub fn refused(&self) -> usize {
        self.shared.refused.load(Ordering::SeqCst)
    }
}

async fn take(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let refuse = match shared.answer {
        Answer::Ok => None,
        Answer::UnavailableFor(d) if shared.started.elapsed() < d => {
            Some((StatusCode::SERVICE_UNAVAILABLE, true))
        }
        Answer::UnavailableFor(_) => None,
        Answer::Failing => Some((StatusCode::INTERNAL_SERVER_ERROR, false)),
    };
    if let Some((status, retry_after)) = refuse {
        shared.refused.fetch_add(1, Ordering::SeqCst);
        return if retry_after {
            (status, [("retry-after", "1")], "try later").into_response()
        } else {
            (status, "no").into_response()
        };
    }
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    shared.taken.lock().unwrap().push(Post {
        timestamp: text("x-tracking-timestamp"),
        signature: text("x-tracking-signature"),
        content_type: text("content-type"),
        body,
    });
    StatusCode::OK.into_response()
}

/// A receiver that accepts connections and never answers.
pub struct Hung {
    pub url: String,
    accepted: Arc<AtomicUsize>,
}

impl Hung {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counted = accepted.clone();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                held.push(socket);
            }
        });
        Self {
            url: format!("http://{addr}/hook"),
            accepted,
        }
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}
