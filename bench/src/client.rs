//! Load generators: GraphQL over HTTP at a set concurrency, and
//! graphql-transport-ws clients.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;
use tracking_client::{Event, Protocol, Socket, Subscription};

use crate::error::{BenchError, Result};

/// What a load run did.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub requests: usize,
    pub errors: usize,
    /// What the answers said was done (updates, positions accepted).
    pub units: usize,
    pub elapsed: Duration,
}

impl Run {
    /// Units done per second.
    pub fn per_sec(&self) -> f64 {
        self.units as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Posts `total` GraphQL bodies from `concurrency` workers (stopping early
/// after `limit`); `body(i)` makes the i-th; `units(answer)` says how much
/// an answer reports done, `None` when it is an error.
pub async fn http_load(
    url: &str,
    concurrency: usize,
    total: usize,
    limit: Duration,
    body: impl Fn(usize) -> String + Send + Sync + 'static,
    units: fn(&[u8]) -> Option<usize>,
) -> Run {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap_or_default();
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let counted = Arc::new(AtomicUsize::new(0));
    let body = Arc::new(body);
    let url = format!("{url}/graphql");
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (http, next, errors, done, counted, body, url) = (
            http.clone(),
            next.clone(),
            errors.clone(),
            done.clone(),
            counted.clone(),
            body.clone(),
            url.clone(),
        );
        workers.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total || started.elapsed() > limit {
                    break;
                }
                let answer = match http
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body(i))
                    .send()
                    .await
                {
                    Ok(r) if r.status().is_success() => r.bytes().await.ok(),
                    _ => None,
                };
                match answer.as_deref().and_then(units) {
                    Some(n) => {
                        counted.fetch_add(n, Ordering::Relaxed);
                    }
                    None => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    while workers.join_next().await.is_some() {}
    Run {
        requests: done.load(Ordering::Relaxed),
        errors: errors.load(Ordering::Relaxed),
        units: counted.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
    }
}

/// One unit for an answer without errors.
pub fn one_unless_errors(answer: &[u8]) -> Option<usize> {
    (!contains(answer, b"\"errors\"")).then_some(1)
}

/// The `accepted` count of an `updateLocations` answer.
pub fn accepted(answer: &[u8]) -> Option<usize> {
    let value: Value = serde_json::from_slice(answer).ok()?;
    if value.get("errors").is_some() {
        return None;
    }
    value["data"]["updateLocations"]["accepted"]
        .as_u64()
        .and_then(|n| usize::try_from(n).ok())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// One GraphQL request over HTTP (`tracking-client`); the `data`, or the
/// error text.
pub async fn gql(
    http: &reqwest::Client,
    url: &str,
    query: &str,
    variables: Value,
) -> Result<Value> {
    tracking_client::Client::with_http(url, http.clone())
        .data(query, variables)
        .await
        .map_err(|e| BenchError::Request(e.to_string()))
}

/// Opens a `graphql-transport-ws` subscription (`tracking-client`) and
/// waits for its first result, so that the subscription is live.
pub async fn subscribe(ws_url: &str, query: &str, variables: Value) -> Result<Subscription> {
    let mut subscription =
        Subscription::open(ws_url, Protocol::TransportWs, json!({}), query, variables)
            .await
            .map_err(ws_error)?;
    next_data(&mut subscription).await?;
    Ok(subscription)
}

/// The `data` of a subscription's next result.
pub async fn next_data(subscription: &mut Subscription) -> Result<Value> {
    match subscription.next_event().await {
        Event::Next(payload) if payload.get("errors").is_none() => Ok(payload["data"].clone()),
        other => Err(ws_error(format!("{other:?}"))),
    }
}

fn ws_error(e: impl std::fmt::Display) -> BenchError {
    BenchError::Request(format!("WebSocket: {e}"))
}

/// Opens a bare `graphql-transport-ws` connection (for several operations
/// on one socket) and waits for the ack.
pub async fn connect(ws_url: &str) -> Result<Socket> {
    let mut socket = Subscription::connect(ws_url, Protocol::TransportWs)
        .await
        .map_err(ws_error)?;
    socket
        .send(Message::text(
            json!({"type": "connection_init"}).to_string(),
        ))
        .await
        .map_err(ws_error)?;
    loop {
        let message = next_json(&mut socket).await?;
        if message["type"] == "connection_ack" {
            return Ok(socket);
        }
    }
}

/// The next JSON message on a bare connection (answering pings).
pub async fn next_json(socket: &mut Socket) -> Result<Value> {
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => {
                let value: Value = serde_json::from_str(&text).map_err(ws_error)?;
                if value["type"] == "ping" {
                    let _ = socket
                        .send(Message::text(json!({"type": "pong"}).to_string()))
                        .await;
                    continue;
                }
                return Ok(value);
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(ws_error(e)),
            None => return Err(ws_error("socket closed")),
        }
    }
}
