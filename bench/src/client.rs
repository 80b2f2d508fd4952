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
use tokio::net::TcpStream;
use tokio_tungstenite::{
    tungstenite::{client::IntoClientRequest, http::HeaderValue, Message},
    MaybeTlsStream, WebSocketStream,
};

use crate::error::{BenchError, Result};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

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

/// One GraphQL request over HTTP; the `data`, or the error text.
pub async fn gql(
    http: &reqwest::Client,
    url: &str,
    query: &str,
    variables: Value,
) -> Result<Value> {
    let request = |e: reqwest::Error| BenchError::Request(e.to_string());
    let body: Value = http
        .post(format!("{url}/graphql"))
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .map_err(request)?
        .json()
        .await
        .map_err(request)?;
    match body.get("errors") {
        Some(errors) => Err(BenchError::Request(errors.to_string())),
        None => Ok(body["data"].clone()),
    }
}

fn ws_error(e: impl std::fmt::Display) -> BenchError {
    BenchError::Request(format!("WebSocket: {e}"))
}

/// Opens a graphql-transport-ws connection and waits for the ack.
pub async fn connect(ws_url: &str) -> Result<Socket> {
    let mut request = ws_url.into_client_request().map_err(ws_error)?;
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
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

/// Sends `subscribe` with id `id`.
pub async fn subscribe(socket: &mut Socket, id: &str, query: &str, variables: Value) -> Result<()> {
    socket
        .send(Message::text(
            json!({"id": id, "type": "subscribe", "payload": {"query": query, "variables": variables}}).to_string(),
        ))
        .await
        .map_err(ws_error)
}

/// The next JSON message (answering pings).
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
