//! The webhook sink: a batch of one area's events POSTed as a JSON array of
//! [`Event::to_json`], signed so the receiver can tell it came from here
//! (`X-Tracking-Signature: v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`,
//! one `v1=` per active secret, so a secret can be rotated). Each webhook
//! has its own small connection pool and tight timeouts, so one that hangs
//! holds at most the one request the runner has in flight per area.

use std::{collections::HashSet, sync::Arc, time::Duration};

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use reqwest::{header, StatusCode, Url};
use sha2::{Digest, Sha256};

use super::sink::{Sink, SinkError};
use crate::{
    domain::{AreaId, Event, EventType},
    store::SinkId,
};

/// How long connecting to a receiver may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one POST may take, from connecting to the response's headers.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Most bytes of a response body read (the rest is never read).
pub const MAX_RESPONSE_BYTES: usize = 4096;
/// Idle connections kept per webhook.
const MAX_IDLE: usize = 2;
/// The longest `Retry-After` honoured (a longer one waits this long).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// Header carrying the signing time (unix seconds).
pub const TIMESTAMP_HEADER: &str = "x-tracking-timestamp";
/// Header carrying the signatures.
pub const SIGNATURE_HEADER: &str = "x-tracking-signature";

/// What every webhook shares: its secrets, the types it wants, its batch
/// size and how long an event may go undelivered.
#[derive(Debug, Clone)]
pub struct WebhookRules {
    /// At least one: each signs every body.
    pub secrets: Arc<[String]>,
    /// `None`: every type.
    pub types: Option<Arc<HashSet<EventType>>>,
    pub max_batch: usize,
    pub max_age: Duration,
}

/// One receiver's URL, and how to reach it.
pub struct Webhook {
    id: SinkId,
    url: Url,
    http: reqwest::Client,
    rules: WebhookRules,
}

impl Webhook {
    /// A webhook to `url` (http or https) under `rules`; an error says what
    /// is wrong with the URL or the rules in one line.
    pub fn new(url: &str, rules: WebhookRules) -> Result<Self, String> {
        let parsed = check_url(url)?;
        if rules.secrets.is_empty() || rules.secrets.iter().any(String::is_empty) {
            return Err(format!(
                "--webhook {}: needs a --webhook-secret (not empty) to sign with",
                shown(&parsed)
            ));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .pool_max_idle_per_host(MAX_IDLE)
            .pool_idle_timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .use_preconfigured_tls(tls()?)
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        Ok(Self {
            id: sink_id(url),
            url: parsed,
            http,
            rules,
        })
    }

    /// The URL without its user info, path or query (for logs).
    pub fn shown(&self) -> String {
        shown(&self.url)
    }
}

/// The URL, if it is an absolute http or https URL with a host.
pub fn check_url(url: &str) -> Result<Url, String> {
    let parsed = Url::parse(url).map_err(|e| format!("--webhook {url:?} is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(format!(
            "--webhook {:?} must be an http:// or https:// URL with a host",
            shown(&parsed)
        ));
    }
    Ok(parsed)
}

/// A URL as logs show it: scheme, host and port only (a path or query may
/// hold a token).
fn shown(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{}://{host}:{port}", url.scheme()),
        (Some(host), None) => format!("{}://{host}", url.scheme()),
        _ => url.scheme().to_owned(),
    }
}

/// `webhook-<first 8 hex of the URL's SHA-256>`: stable across restarts,
/// never the URL itself (it may hold a token).
pub fn sink_id(url: &str) -> SinkId {
    let digest = Sha256::digest(url.as_bytes());
    let id = format!("webhook-{}", &hex(&digest)[..8]);
    SinkId::parse(&id).unwrap_or_else(|_| unreachable!("webhook-<8 hex> is a valid sink id"))
}

/// The value of `X-Tracking-Signature` for `body` signed at `timestamp`.
pub fn signature(secrets: &[String], timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|secret| {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
                .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
            mac.update(timestamp.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            format!("v1={}", hex(&mac.finalize().into_bytes()))
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// rustls on `ring` (as the Redis TLS and the JWKS fetch) trusting the
/// system's roots.
fn tls() -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map(|builder| builder.with_root_certificates(roots).with_no_client_auth())
        .map_err(|e| format!("cannot set up TLS: {e}"))
}

/// How long a `Retry-After` of whole seconds asks to wait (an HTTP date is
/// not read: the runner's own backoff applies).
fn retry_after(headers: &header::HeaderMap) -> Option<Duration> {
    let text = headers.get(header::RETRY_AFTER)?.to_str().ok()?;
    let seconds: u64 = text.trim().parse().ok()?;
    Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER))
}

/// Reads at most [`MAX_RESPONSE_BYTES`] of the body (so a 2xx's connection
/// can be reused), never more; what is past it is dropped with the
/// connection.
async fn drain(mut response: reqwest::Response) {
    let mut read = 0;
    while read < MAX_RESPONSE_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => read += chunk.len(),
            _ => break,
        }
    }
}

#[async_trait]
impl Sink for Webhook {
    fn id(&self) -> &SinkId {
        &self.id
    }

    fn wants(&self, kind: EventType) -> bool {
        self.rules.types.as_ref().is_none_or(|t| t.contains(&kind))
    }

    fn max_batch(&self) -> usize {
        self.rules.max_batch
    }

    fn max_age(&self) -> Option<Duration> {
        Some(self.rules.max_age)
    }

    async fn send(&self, _area: &AreaId, events: &[Event]) -> Result<(), SinkError> {
        let body = serde_json::to_vec(&serde_json::Value::Array(
            events.iter().map(Event::to_json).collect(),
        ))
        .map_err(|e| SinkError::Retry(format!("cannot encode the batch: {e}")))?;
        let timestamp = chrono::Utc::now().timestamp();
        let signed = signature(&self.rules.secrets, timestamp, &body);
        let response = self
            .http
            .post(self.url.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, signed)
            .body(body)
            .send()
            .await
            .map_err(|e| SinkError::Retry(describe(&e)))?;
        let status = response.status();
        let after = retry_after(response.headers());
        drain(response).await;
        if status.is_success() {
            return Ok(());
        }
        let message = format!("the receiver answered {status}");
        match after {
            Some(after)
                if status == StatusCode::TOO_MANY_REQUESTS
                    || status == StatusCode::SERVICE_UNAVAILABLE =>
            {
                Err(SinkError::RetryAfter { message, after })
            }
            _ => Err(SinkError::Retry(message)),
        }
    }
}

/// A reqwest error in a few words (its URL left out: it may hold a token).
fn describe(error: &reqwest::Error) -> String {
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let mut text = what.to_owned();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_one_v1_entry_per_secret_over_timestamp_dot_body() {
        let secrets = ["a".to_owned(), "b".to_owned()];
        let signed = signature(&secrets, 1_700_000_000, b"[]");
        let parts: Vec<&str> = signed.split(',').collect();
        assert_eq!(parts.len(), 2);
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"b").unwrap_or_else(|_| panic!());
        mac.update(b"1700000000.[]");
        assert_eq!(
            parts[1],
            format!("v1={}", hex(&mac.finalize().into_bytes()))
        );
        assert!(parts[0].starts_with("v1=") && parts[0].len() == 3 + 64);
    }

    #[test]
    fn a_sink_id_is_webhook_and_8_hex_of_the_url() {
        let id = sink_id("https://example.com/hook");
        assert!(id.as_str().starts_with("webhook-"));
        assert_eq!(id.as_str().len(), "webhook-".len() + 8);
        assert_eq!(id, sink_id("https://example.com/hook"));
        assert_ne!(id, sink_id("https://example.com/other"));
    }

    #[test]
    fn only_http_and_https_urls_with_a_host_are_webhooks() {
        assert!(check_url("https://example.com/x").is_ok());
        assert!(check_url("http://127.0.0.1:9/x").is_ok());
        assert!(check_url("ftp://example.com/x").is_err());
        assert!(check_url("example.com/x").is_err());
        assert!(check_url("http://").is_err());
    }
}
