//! The event-log and sink flags (`--event-log`, `--webhook`, `--nats-url`,
//! …), flattened into `Config`.

use std::{collections::HashSet, path::PathBuf, sync::Arc, time::Duration};

use crate::{
    dispatch::delivery::{DeliveryPlan, Route, Sink, Webhook, WebhookRules},
    domain::{AreaId, EventType, ServiceAreas},
    store::EventRetention,
};

/// Whether the event log is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EventLogMode {
    On,
    Off,
}

/// Most webhooks configured.
pub const MAX_WEBHOOKS: usize = 16;

/// The event log and where it is delivered.
#[derive(Debug, Clone, clap::Args)]
pub struct EventsConfig {
    /// Write each area's event log (every ride and driver status change, in
    /// the same atomic step as the change). On whenever a sink is
    /// configured; `on` writes it without one (for `events` queries and
    /// consumers reading the Redis stream themselves).
    #[arg(
        long = "event-log",
        env = "TRACKING_EVENT_LOG",
        value_enum,
        default_value = "off"
    )]
    pub event_log: EventLogMode,

    /// Events older than this are trimmed, once every configured sink has
    /// acknowledged them.
    #[arg(long = "event-retention", env = "TRACKING_EVENT_RETENTION", default_value = "1h", value_parser = humantime::parse_duration)]
    pub event_retention: Duration,

    /// The hard cap on events kept per area: past it the oldest go, to the
    /// dead letters of each sink that had not acknowledged them (counted).
    #[arg(long = "max-events", env = "TRACKING_MAX_EVENTS", default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1_000..=100_000_000))]
    pub max_events: u64,

    /// Most dead letters kept per area (past it the oldest are dropped,
    /// counted).
    #[arg(long = "max-dead-letters", env = "TRACKING_MAX_DEAD_LETTERS", default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub max_dead_letters: u64,

    /// An assigned driver's first report within this many metres of the
    /// pickup is a DRIVER_APPROACHING event (an area's `approachMeters`
    /// overrides it); 1 to 100000.
    #[arg(long = "approach-meters", env = "TRACKING_APPROACH_METERS", default_value_t = 300.0, value_parser = parse_meters)]
    pub approach_meters: f64,

    /// POST every event to this URL, in batches (repeatable, up to 16; an
    /// area's `webhooks` adds its own).
    #[arg(long = "webhook", env = "TRACKING_WEBHOOK", value_delimiter = ',')]
    pub webhooks: Vec<String>,

    /// Only these event types go to the webhooks (comma-separated, e.g.
    /// `RIDE_COMPLETED,RIDE_CANCELLED`); by default every type.
    #[arg(
        long = "webhook-types",
        env = "TRACKING_WEBHOOK_TYPES",
        value_delimiter = ','
    )]
    pub webhook_types: Vec<String>,

    /// Most events in one webhook POST; 1 to 1000.
    #[arg(long = "webhook-batch", env = "TRACKING_WEBHOOK_BATCH", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub webhook_batch: u64,

    /// A secret webhook bodies are signed with (HMAC-SHA256; repeatable: each
    /// active secret signs, so one can be rotated). Required with a webhook.
    #[arg(
        long = "webhook-secret",
        env = "TRACKING_WEBHOOK_SECRET",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub webhook_secrets: Vec<String>,

    /// An event a webhook has refused for this long goes to the dead
    /// letters (redeliver them with `tracking events redeliver`).
    #[arg(long = "webhook-max-age", env = "TRACKING_WEBHOOK_MAX_AGE", default_value = "24h", value_parser = humantime::parse_duration)]
    pub webhook_max_age: Duration,

    /// Publish every event to this NATS server's JetStream, as
    /// `tracking.<area>.<type>` (`nats://host:4222`, or `tls://` with
    /// `--nats-ca`).
    #[arg(long = "nats-url", env = "TRACKING_NATS_URL")]
    pub nats_url: Option<String>,

    /// A NATS credentials file (`.creds`).
    #[arg(long = "nats-creds", env = "TRACKING_NATS_CREDS")]
    pub nats_creds: Option<PathBuf>,

    /// The CA certificate (PEM) a `tls://` NATS server's certificate is
    /// checked against.
    #[arg(long = "nats-ca", env = "TRACKING_NATS_CA")]
    pub nats_ca: Option<PathBuf>,
}

impl EventsConfig {
    /// Whether any sink is configured on the command line.
    pub fn any_sink(&self) -> bool {
        !self.webhooks.is_empty() || self.nats_url.is_some()
    }

    /// Whether the event log is written: `--event-log on`, or any sink
    /// (on the command line or an area's `webhooks`).
    pub fn log_on(&self, areas: &ServiceAreas) -> bool {
        self.event_log == EventLogMode::On
            || self.any_sink()
            || areas.all().iter().any(|a| !a.webhooks.is_empty())
    }

    /// How long each area's log keeps its events.
    pub fn retention(&self) -> EventRetention {
        EventRetention {
            max_age: self.event_retention,
            max_events: usize::try_from(self.max_events).unwrap_or(usize::MAX),
            max_dead_letters: usize::try_from(self.max_dead_letters).unwrap_or(usize::MAX),
        }
    }

    /// The webhooks' shared rules, checked: the types exist, a secret is
    /// given when a webhook is.
    fn webhook_rules(&self) -> Result<WebhookRules, String> {
        let mut types = HashSet::new();
        for name in self.webhook_types.iter().map(|t| t.trim()) {
            if name.is_empty() {
                continue;
            }
            let kind = EventType::parse(name).ok_or_else(|| {
                format!(
                    "--webhook-types: unknown event type {name:?} (known: {})",
                    known_types()
                )
            })?;
            types.insert(kind);
        }
        Ok(WebhookRules {
            secrets: self.webhook_secrets.clone().into(),
            types: (!types.is_empty()).then(|| Arc::new(types)),
            max_batch: usize::try_from(self.webhook_batch).unwrap_or(1000),
            max_age: self.webhook_max_age,
        })
    }

    /// What to deliver where (`None` when the log is off): every webhook
    /// checked (a malformed URL, a missing secret, an unknown type or too
    /// many webhooks is one line of error). An unreachable URL is not an
    /// error: it is retried.
    pub fn delivery_plan(
        &self,
        areas: &ServiceAreas,
        lease: Duration,
    ) -> Result<Option<DeliveryPlan>, String> {
        let rules = self.webhook_rules()?;
        if !self.log_on(areas) {
            return Ok(None);
        }
        let all: Vec<AreaId> = areas.all().iter().map(|a| a.id.clone()).collect();
        // Each URL once, with the areas it gets: the global ones every area,
        // an area's own that area.
        let mut urls: Vec<(&str, Vec<AreaId>)> = Vec::new();
        let named = self.webhooks.iter().map(|u| (u.trim(), all.clone())).chain(
            areas.all().iter().flat_map(|area| {
                area.webhooks
                    .iter()
                    .map(|u| (u.trim(), vec![area.id.clone()]))
            }),
        );
        for (url, areas_of) in named {
            match urls.iter_mut().find(|(u, _)| *u == url) {
                Some((_, known)) => {
                    for area in areas_of {
                        if !known.contains(&area) {
                            known.push(area);
                        }
                    }
                }
                None => urls.push((url, areas_of)),
            }
        }
        if urls.len() > MAX_WEBHOOKS {
            return Err(format!(
                "{} webhooks configured (--webhook and the areas' webhooks); at most {MAX_WEBHOOKS}",
                urls.len()
            ));
        }
        if !urls.is_empty() && self.webhook_secrets.iter().all(|s| s.is_empty()) {
            return Err("a webhook needs at least one --webhook-secret to sign with".into());
        }
        let mut routes: Vec<Route> = Vec::new();
        for (url, areas_of) in urls {
            let sink: Arc<dyn Sink> = Arc::new(Webhook::new(url, rules.clone())?);
            if routes.iter().any(|r| r.sink.id() == sink.id()) {
                return Err(format!(
                    "two webhooks have the same name {}: change one URL",
                    sink.id()
                ));
            }
            routes.push(Route {
                sink,
                areas: areas_of,
            });
        }
        Ok(Some(DeliveryPlan {
            routes,
            areas: all,
            retention: self.retention(),
            lease,
        }))
    }
}

/// Every event type's name, for an error.
fn known_types() -> String {
    EventType::ALL
        .iter()
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn parse_meters(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(m) if (1.0..=100_000.0).contains(&m) => Ok(m),
        _ => Err("must be a number of metres from 1 to 100000".into()),
    }
}
