//! The NATS JetStream sink: each event published as its JSON to
//! `tracking.<area>.<TYPE>` with `Nats-Msg-Id` = the event id, a batch
//! acknowledged once JetStream has acknowledged every message of it.
//!
//! A batch re-sent after a failure (a lost ack, a timeout, another
//! instance taking the delivery lease over) publishes the same ids again,
//! and JetStream drops those it stored within the stream's
//! `duplicate_window`: so retries are exactly-once in the stream as long as
//! the window covers the retry horizon ([`super::nats_check`] warns at start
//! when it does not). NATS never dead-letters (`max_age` is `None`): while
//! the server is down or refuses, the sink holds its cursor and the log
//! waits for it, up to `--max-events`, whose hard cap still moves the oldest
//! to the dead letters.

use std::{path::PathBuf, time::Duration};

use async_nats::{
    jetstream::{self, message::PublishMessage},
    ConnectOptions, ServerAddr,
};
use async_trait::async_trait;

use super::{Sink, SinkError};
use crate::{
    domain::{AreaId, Event, EventType},
    store::SinkId,
};

/// The sink's id in the store and in metric labels.
pub const NATS_SINK_ID: &str = "nats";

/// The subjects every event goes to: `tracking.<area>.<TYPE>`.
pub const SUBJECT_PREFIX: &str = "tracking";

/// Most events in one batch (and so most publish acks awaited at once).
pub const NATS_MAX_BATCH: usize = 256;

/// How long one batch may take, from the first publish to the last ack.
pub const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);

/// Most commands queued for the connection (publishes while it
/// reconnects wait for room, bounded by the publish timeout).
const CLIENT_CAPACITY: usize = 1024;

/// Where and how to publish (from `--nats-url`, `--nats-creds`,
/// `--nats-ca`).
#[derive(Debug, Clone)]
pub struct NatsSettings {
    /// The servers, each `nats://host:port` or `tls://host:port`.
    pub servers: Vec<ServerAddr>,
    /// A credentials file (`.creds`: a user JWT and its NKey seed).
    pub creds: Option<PathBuf>,
    /// The only root a TLS server's certificate is checked against (PEM);
    /// without it, the system's roots.
    pub ca: Option<PathBuf>,
    /// Bounds one batch, publishes and acks together.
    pub publish_timeout: Duration,
    /// How long after its first publish an event may be published again
    /// (the delivery runner's longest backoff plus the delivery lease): the
    /// stream's `duplicate_window` should be at least this.
    pub retry_horizon: Duration,
}

impl NatsSettings {
    /// Parses `--nats-url` (one URL, or several comma-separated for a
    /// cluster): `nats://` or `tls://`, with a host.
    pub fn parse_servers(url: &str) -> Result<Vec<ServerAddr>, String> {
        let mut servers = Vec::new();
        for part in url.split(',').map(str::trim) {
            let scheme = part.split_once("://").map(|(s, _)| s);
            if !matches!(scheme, Some("nats" | "tls")) {
                return Err(format!(
                    "--nats-url {part:?} must be nats://host:port or tls://host:port"
                ));
            }
            let server: ServerAddr = part
                .parse()
                .map_err(|e| format!("--nats-url {part:?} is not a NATS URL: {e}"))?;
            if server.host().is_empty() {
                return Err(format!("--nats-url {part:?} names no host"));
            }
            servers.push(server);
        }
        Ok(servers)
    }

    /// Whether any server is named with `tls://`.
    fn tls(&self) -> bool {
        self.servers.iter().any(ServerAddr::tls_required)
    }
}

/// Publishes events to NATS JetStream.
pub struct NatsSink {
    id: SinkId,
    jetstream: jetstream::Context,
    publish_timeout: Duration,
    retry_horizon: Duration,
}

impl NatsSink {
    /// Sets up the client: reads the credentials and checks the CA file (an
    /// unusable one is an error), then connects in the background, so an
    /// unreachable server is not an error: publishes fail (and are retried)
    /// until it answers, and the client keeps reconnecting.
    pub async fn connect(settings: &NatsSettings) -> Result<Self, String> {
        let mut options = ConnectOptions::new()
            .name("tracking")
            .retry_on_initial_connect()
            .max_reconnects(None)
            .connection_timeout(Duration::from_secs(5))
            .request_timeout(Some(settings.publish_timeout))
            .ping_interval(Duration::from_secs(20))
            .client_capacity(CLIENT_CAPACITY)
            .event_callback(|event| async move { log_connection(&event) });
        if let Some(creds) = &settings.creds {
            options = options.credentials_file(creds).await.map_err(|e| {
                format!("cannot read the --nats-creds file {}: {e}", creds.display())
            })?;
        }
        if let Some(ca) = &settings.ca {
            check_ca(ca)?;
            // async-nats builds rustls on the process's provider (ring: the
            // only one this service links) with these roots alone.
            options = options.add_root_certificates(ca.clone());
        }
        if settings.tls() {
            options = options.require_tls(true);
        }
        let client = options
            .connect(settings.servers.clone())
            .await
            .map_err(|e| format!("cannot set up the NATS client: {e}"))?;
        let jetstream = jetstream::ContextBuilder::new()
            .timeout(settings.publish_timeout)
            .ack_timeout(settings.publish_timeout)
            .max_ack_inflight(4 * NATS_MAX_BATCH)
            .backpressure_on_inflight(true)
            .build(client);
        let id = SinkId::parse(NATS_SINK_ID)?;
        Ok(Self {
            id,
            jetstream,
            publish_timeout: settings.publish_timeout,
            retry_horizon: settings.retry_horizon,
        })
    }

    /// The JetStream context (the start-up check reads streams through it).
    pub fn jetstream(&self) -> &jetstream::Context {
        &self.jetstream
    }

    /// How long a duplicate window should be (see [`NatsSettings`]).
    pub fn retry_horizon(&self) -> Duration {
        self.retry_horizon
    }

    /// Publishes every event, then awaits every ack.
    async fn publish_all(&self, area: &AreaId, events: &[Event]) -> Result<(), SinkError> {
        let mut acks = Vec::with_capacity(events.len());
        for event in events {
            let id = event.id.to_string();
            let payload = serde_json::to_vec(&event.to_json())
                .map_err(|e| SinkError::Retry(format!("event {id} as JSON: {e}")))?;
            let publish = PublishMessage::build()
                .payload(payload.into())
                .message_id(&id);
            let ack = self
                .jetstream
                .send_publish(subject(area, event.kind), publish)
                .await
                .map_err(|e| SinkError::Retry(format!("publishing event {id} to NATS: {e}")))?;
            acks.push((id, ack));
        }
        let mut duplicates = 0_usize;
        for (id, ack) in acks {
            let ack = ack
                .await
                .map_err(|e| SinkError::Retry(format!("no JetStream ack for event {id}: {e}")))?;
            duplicates += usize::from(ack.duplicate);
        }
        if duplicates > 0 {
            // A re-sent batch: JetStream already had these ids.
            tracing::debug!(
                area = area.as_str(),
                duplicates,
                "JetStream dropped re-sent events"
            );
        }
        Ok(())
    }
}

/// The subject an event of `kind` in `area` is published to. Area ids are
/// `[a-z0-9-]` and types `[A-Z_]`: each one subject token.
pub fn subject(area: &AreaId, kind: EventType) -> String {
    format!("{SUBJECT_PREFIX}.{}.{}", area.as_str(), kind.as_str())
}

/// Says once what changed in the connection: connected (again), lost, or
/// refused (an authorization error, say); publishes meanwhile are retried.
fn log_connection(event: &async_nats::Event) {
    match event {
        async_nats::Event::Connected => tracing::info!("connected to NATS"),
        async_nats::Event::Disconnected => {
            tracing::warn!("lost the NATS connection; reconnecting")
        }
        other => tracing::warn!(event = %other, "NATS connection"),
    }
}

/// Refuses a CA file that cannot be read or holds no PEM certificate.
fn check_ca(ca: &std::path::Path) -> Result<(), String> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let shown = ca.display();
    let certs = CertificateDer::pem_file_iter(ca)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| format!("cannot read the --nats-ca file {shown}: {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "the --nats-ca file {shown} holds no certificate (expected PEM)"
        ));
    }
    Ok(())
}

#[async_trait]
impl Sink for NatsSink {
    fn id(&self) -> &SinkId {
        &self.id
    }

    fn wants(&self, _kind: EventType) -> bool {
        true
    }

    fn max_batch(&self) -> usize {
        NATS_MAX_BATCH
    }

    fn max_age(&self) -> Option<Duration> {
        None
    }

    async fn send(&self, area: &AreaId, events: &[Event]) -> Result<(), SinkError> {
        match tokio::time::timeout(self.publish_timeout, self.publish_all(area, events)).await {
            Ok(sent) => sent,
            Err(_) => Err(SinkError::Retry(format!(
                "NATS JetStream did not acknowledge a batch of {} within {:?}",
                events.len(),
                self.publish_timeout
            ))),
        }
    }
}
