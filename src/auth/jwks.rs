//! Keys an identity provider publishes (a JWKS URL), chosen by a token's
//! `kid`.
//!
//! Fetched at start (the service does not start without them), kept, and
//! fetched again when a token names a key the set lacks (a rotation), or
//! when the set is older than [`MAX_AGE`]; never more often than
//! [`MIN_INTERVAL`], so tokens with made-up `kid`s cannot make the service
//! hammer the provider. When the provider is down the last good set stays.

use std::{
    collections::HashMap,
    path::Path,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use jsonwebtoken::{jwk::JwkSet, DecodingKey};
use rustls::pki_types::{pem::PemObject, CertificateDer};
use tracing::{info, warn};

use crate::domain::error::Error;

/// Fetches at most this often, whatever tokens arrive.
pub const MIN_INTERVAL: Duration = Duration::from_secs(3);
/// A set older than this is fetched again when next used.
pub const MAX_AGE: Duration = Duration::from_secs(600);
/// How long one fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest key set accepted, in bytes.
const MAX_BYTES: usize = 256 * 1024;

/// The provider's keys.
#[derive(Clone)]
pub struct Jwks {
    inner: Arc<Inner>,
}

struct Inner {
    url: String,
    http: reqwest::Client,
    state: Mutex<State>,
    /// One fetch at a time.
    fetching: tokio::sync::Mutex<()>,
}

struct State {
    keys: HashMap<String, DecodingKey>,
    /// The key to use for tokens without a `kid`, when the set has one key.
    only: Option<DecodingKey>,
    fetched: Instant,
    tried: Instant,
}

impl Jwks {
    /// Fetches the set at `url`, over https trusting the system's roots
    /// and the PEM bundle `ca` (a private CA), if given.
    pub async fn fetch(url: &str, ca: Option<&Path>) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .use_preconfigured_tls(tls(ca)?)
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {}", chain(&e)))?;
        let (keys, only) = download(&http, url)
            .await
            .map_err(|e| format!("cannot fetch the JWKS at {url}: {e}"))?;
        info!(keys = keys.len(), "fetched the token keys");
        let now = Instant::now();
        Ok(Self {
            inner: Arc::new(Inner {
                url: url.to_owned(),
                http,
                state: Mutex::new(State {
                    keys,
                    only,
                    fetched: now,
                    tried: now,
                }),
                fetching: tokio::sync::Mutex::new(()),
            }),
        })
    }

    fn lookup(&self, kid: Option<&str>) -> (Option<DecodingKey>, bool) {
        let state = self
            .inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let key = match kid {
            Some(kid) => state.keys.get(kid).cloned(),
            None => state.only.clone(),
        };
        let stale = state.fetched.elapsed() > MAX_AGE;
        let may_fetch = state.tried.elapsed() >= MIN_INTERVAL;
        let fetch = (key.is_none() || stale) && may_fetch;
        (key, fetch)
    }

    /// The key a token names.
    pub async fn key(&self, kid: Option<&str>) -> Result<DecodingKey, Error> {
        let (key, fetch) = self.lookup(kid);
        if fetch {
            self.refresh().await;
        }
        let (key, _) = if fetch {
            self.lookup(kid)
        } else {
            (key, false)
        };
        key.ok_or_else(|| {
            Error::Unauthenticated(match kid {
                Some(kid) => format!("invalid token: no key {kid:?} in the provider's set"),
                None => "invalid token: no kid, and the provider has several keys".into(),
            })
        })
    }

    async fn refresh(&self) {
        let _one = self.inner.fetching.lock().await;
        {
            let mut state = self
                .inner
                .state
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if state.tried.elapsed() < MIN_INTERVAL {
                return; // another caller just fetched
            }
            state.tried = Instant::now();
        }
        match download(&self.inner.http, &self.inner.url).await {
            Ok((keys, only)) => {
                let mut state = self
                    .inner
                    .state
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                state.keys = keys;
                state.only = only;
                state.fetched = Instant::now();
            }
            Err(error) => warn!(%error, "cannot fetch the token keys; keeping the last good set"),
        }
    }
}

/// The TLS settings for the provider: rustls on `ring`, the provider the
/// Redis TLS uses too; the system's roots plus the bundle at `ca`.
fn tls(ca: Option<&Path>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    // The system store may hold certificates rustls cannot parse; skip them.
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if let Some(ca) = ca {
        let shown = ca.display();
        let certs = CertificateDer::pem_file_iter(ca)
            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
            .map_err(|e| format!("cannot read the --jwt-jwks-ca bundle {shown}: {e}"))?;
        if certs.is_empty() {
            return Err(format!(
                "the --jwt-jwks-ca bundle {shown} holds no certificate (expected PEM)"
            ));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| format!("a certificate in --jwt-jwks-ca {shown} is unusable: {e}"))?;
        }
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map(|builder| builder.with_root_certificates(roots).with_no_client_auth())
        .map_err(|e| format!("cannot set up TLS: {e}"))
}

/// An error with its causes, on one line: reqwest's own message alone
/// ("error sending request") hides the one that matters (a certificate).
fn chain(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}

async fn download(
    http: &reqwest::Client,
    url: &str,
) -> Result<(HashMap<String, DecodingKey>, Option<DecodingKey>), String> {
    let mut response = http
        .get(url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| chain(&e))?;
    let too_large = |bytes: u64| {
        format!("a key set of {bytes} bytes or more is too large (the limit is {MAX_BYTES})")
    };
    if let Some(length) = response.content_length() {
        if length > MAX_BYTES as u64 {
            return Err(too_large(length));
        }
    }
    // Read as it arrives, so a reply that never ends stops at the limit.
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| chain(&e))? {
        if body.len() + chunk.len() > MAX_BYTES {
            return Err(too_large((body.len() + chunk.len()) as u64));
        }
        body.extend_from_slice(&chunk);
    }
    let set: JwkSet = serde_json::from_slice(&body).map_err(|e| format!("not a JWKS: {e}"))?;
    let mut keys = HashMap::new();
    let mut all = Vec::new();
    for jwk in &set.keys {
        let Ok(key) = DecodingKey::from_jwk(jwk) else {
            continue;
        };
        if let Some(kid) = &jwk.common.key_id {
            keys.insert(kid.clone(), key.clone());
        }
        all.push(key);
    }
    if all.is_empty() {
        return Err("the set holds no usable key".into());
    }
    let only = (all.len() == 1).then(|| all.remove(0));
    Ok((keys, only))
}
