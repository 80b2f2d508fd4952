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

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What a load run did.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub requests: usize,
    pub errors: usize,
    pub elapsed: Duration,
}

impl Run {
    pub fn per_sec(&self) -> f64 {
        (self.requests - self.errors) as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Posts `total` GraphQL bodies from `concurrency` workers (stopping early
/// after `limit`); `body(i)` makes the i-th.
pub async fn http_load(
    url: &str,
    concurrency: usize,
    total: usize,
    limit: Duration,
    body: impl Fn(usize) -> String + Send + Sync + 'static,
) -> Run {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap_or_default();
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let body = Arc::new(body);
    let url = format!("{url}/graphql");
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (http, next, errors, done, body, url) = (
            http.clone(),
            next.clone(),
            errors.clone(),
            done.clone(),
            body.clone(),
            url.clone(),
        );
        workers.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total || started.elapsed() > limit {
                    break;
                }
                let ok = match http
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body(i))
                    .send()
                    .await
                {
                    Ok(r) => {
                        r.status().is_success()
                            && r.bytes().await.is_ok_and(|b| !contains(&b, b"\"errors\""))
                    }
                    Err(_) => false,
                };
                if !ok {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    while workers.join_next().await.is_some() {}
    Run {
        requests: done.load(Ordering::Relaxed),
        errors: errors.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
    }
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
) -> Result<Value, String> {
    let body: Value = http
        .post(format!("{url}/graphql"))
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    match body.get("errors") {
        Some(errors) => Err(errors.to_string()),
        None => Ok(body["data"].clone()),
    }
}

/// Opens a graphql-transport-ws connection and waits for the ack.
pub async fn connect(ws_url: &str) -> Result<Socket, String> {
    let mut request = ws_url.into_client_request().map_err(|e| e.to_string())?;
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .map_err(|e| e.to_string())?;
    socket
        .send(Message::text(
            json!({"type": "connection_init"}).to_string(),
        ))
        .await
        .map_err(|e| e.to_string())?;
    loop {
        let message = next_json(&mut socket).await?;
        if message["type"] == "connection_ack" {
            return Ok(socket);
        }
    }
}

/// Sends `subscribe` with id `id`.
pub async fn subscribe(
    socket: &mut Socket,
    id: &str,
    query: &str,
    variables: Value,
) -> Result<(), String> {
    socket
        .send(Message::text(
            json!({"id": id, "type": "subscribe", "payload": {"query": query, "variables": variables}}).to_string(),
        ))
        .await
        .map_err(|e| e.to_string())
}

/// The next JSON message (answering pings).
pub async fn next_json(socket: &mut Socket) -> Result<Value, String> {
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => {
                let value: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
                if value["type"] == "ping" {
                    let _ = socket
                        .send(Message::text(json!({"type": "pong"}).to_string()))
                        .await;
                    continue;
                }
                return Ok(value);
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err("socket closed".into()),
        }
    }
}

/// The p-th percentile (0..=100) of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}
