//! The event bridge: what each instance hears from Redis.
//!
//! It listens on an area's `events`, `wake`, `adopt` and `drivers`
//! channels and feeds this instance's [`EventHub`]: ride changes made by
//! any instance reach the local subscribers, and a driver becoming
//! available near a searching ride wakes the search tasks running here.
//! On one node it holds a plain subscriber connection; on a Cluster, a
//! cluster connection subscribed to the channels as shard channels
//! (`SSUBSCRIBE`: each event reaches only the nodes of its area's slot,
//! not every node), which follows the slot through a failover.
//!
//! When the subscription drops it reconnects (with backoff) and re-subscribes,
//! and then tells the hub that events may have been missed: every live
//! stream re-reads what it shows (a `rideStatus` watcher its ride, sending
//! it only if its revision changed; a `fleet` map its area, as a resync
//! snapshot), so a change published while the bridge was down is still
//! delivered, and nothing is delivered twice.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use futures_util::{stream::BoxStream, StreamExt};
use redis::{PushKind, Value};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::{driver_from_fields, ride_from_fields, Connector, Keys};
use crate::{
    domain::error::Result,
    domain::{Coordinates, DriverId},
    store::EventHub,
};

const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Where a message goes.
struct Channels {
    events: String,
    wake: String,
    adopt: String,
    drivers: String,
}

impl Channels {
    fn all(&self) -> [&str; 4] {
        [&self.events, &self.wake, &self.adopt, &self.drivers]
    }

    fn deliver(&self, hub: &EventHub, channel: &str, payload: &str, ttl: Duration) {
        if channel == self.events {
            deliver_ride(hub, payload);
        } else if channel == self.wake {
            deliver_wake(hub, payload);
        } else if channel == self.drivers {
            deliver_driver(hub, payload, ttl);
        } else if channel == self.adopt {
            hub.announce_rides_released();
        }
    }
}

pub(super) fn spawn(
    connector: Connector,
    keys: Keys,
    hub: Arc<EventHub>,
    up: Arc<AtomicBool>,
    stop: CancellationToken,
    driver_ttl: Duration,
) -> Result<()> {
    let channels = Channels {
        events: keys.events_channel(),
        wake: keys.wake_channel(),
        adopt: keys.adopt_channel(),
        drivers: keys.drivers_channel(),
    };
    let source = if connector.is_cluster() {
        Source::Sharded(connector)
    } else {
        Source::Plain(connector.client()?)
    };
    tokio::spawn(stop.run_until_cancelled_owned(run(source, channels, hub, up, driver_ttl)));
    Ok(())
}

/// Messages as they arrive: (channel, payload), until the subscription drops.
type Messages = BoxStream<'static, (String, String)>;

/// Where the bridge subscribes.
enum Source {
    /// One node: a subscriber connection.
    Plain(redis::Client),
    /// A Cluster: the channels as shard channels, on a cluster connection
    /// of the bridge's own. Each subscription makes a new connection, which
    /// learns the slots afresh (after a failover, say).
    Sharded(Connector),
}

impl Source {
    /// Subscribes to every channel; the messages until the connection drops.
    async fn subscribe(&self, channels: &Channels) -> std::result::Result<Messages, String> {
        match self {
            Self::Plain(client) => subscribe_plain(client, channels.all())
                .await
                .map_err(|e| e.to_string()),
            Self::Sharded(connector) => subscribe_sharded(connector, channels.all()).await,
        }
    }

    /// What the logs call the subscription.
    fn what(&self) -> &'static str {
        match self {
            Self::Plain(_) => "Redis",
            Self::Sharded(_) => "the Cluster (sharded)",
        }
    }
}

/// The one reconnect loop: subscribe, deliver until the subscription drops,
/// and subscribe again (with backoff). Each time it is subscribed it tells
/// the hub that events may have been missed.
async fn run(
    source: Source,
    channels: Channels,
    hub: Arc<EventHub>,
    up: Arc<AtomicBool>,
    ttl: Duration,
) {
    let mut backoff = MIN_BACKOFF;
    loop {
        match source.subscribe(&channels).await {
            Ok(mut messages) => {
                backoff = MIN_BACKOFF;
                up.store(true, Ordering::Relaxed);
                info!("event bridge subscribed to {}", source.what());
                hub.resync();
                while let Some((channel, payload)) = messages.next().await {
                    channels.deliver(&hub, &channel, &payload, ttl);
                }
                up.store(false, Ordering::Relaxed);
                warn!(
                    "event bridge lost its connection to {}; subscribing again",
                    source.what()
                );
            }
            Err(error) => {
                up.store(false, Ordering::Relaxed);
                warn!(%error, "event bridge cannot subscribe to {}; retrying", source.what());
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn subscribe_plain(
    client: &redis::Client,
    channels: [&str; 4],
) -> redis::RedisResult<Messages> {
    let connect = tokio::time::timeout(MAX_BACKOFF, client.get_async_pubsub());
    let mut pubsub = connect
        .await
        .map_err(|_| redis::RedisError::from((redis::ErrorKind::Io, "connect timed out")))??;
    pubsub.subscribe(&channels[..]).await?;
    Ok(pubsub
        .into_on_message()
        .filter_map(|msg| async move {
            let payload = msg.get_payload::<String>().ok()?;
            Some((msg.get_channel_name().to_owned(), payload))
        })
        .boxed())
}

async fn subscribe_sharded(
    connector: &Connector,
    channels: [&str; 4],
) -> std::result::Result<Messages, String> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let client = connector
        .cluster_client(Some(tx))
        .map_err(|e| e.to_string())?;
    let mut conn = tokio::time::timeout(MAX_BACKOFF, client.get_async_connection())
        .await
        .map_err(|_| "connect timed out".to_owned())?
        .map_err(|e| e.to_string())?;
    tokio::time::timeout(MAX_BACKOFF, conn.ssubscribe(&channels[..]))
        .await
        .map_err(|_| "subscribe timed out".to_owned())?
        .map_err(|e| e.to_string())?;
    // The connection lives as long as the stream: its pushes arrive on `rx`.
    Ok(
        futures_util::stream::unfold((conn, rx), |(conn, mut rx)| async move {
            loop {
                let push = rx.recv().await?;
                match push.kind {
                    PushKind::SMessage | PushKind::Message => {
                        if let [Value::BulkString(channel), Value::BulkString(payload), ..] =
                            &push.data[..]
                        {
                            let message = (
                                String::from_utf8_lossy(channel).into_owned(),
                                String::from_utf8_lossy(payload).into_owned(),
                            );
                            return Some((message, (conn, rx)));
                        }
                    }
                    PushKind::Disconnection => return None,
                    _ => {}
                }
            }
        })
        .boxed(),
    )
}

fn deliver_ride(hub: &EventHub, payload: &str) {
    // Every ride change is logged with it, when the log is on.
    hub.logged();
    let fields: HashMap<String, String> = match serde_json::from_str(payload) {
        Ok(fields) => fields,
        Err(error) => return warn!(%error, "unreadable ride event"),
    };
    match ride_from_fields(&fields) {
        Ok(ride) => hub.publish(Arc::new(ride)),
        Err(error) => warn!(%error, "unreadable ride event"),
    }
}

fn deliver_driver(hub: &EventHub, payload: &str, ttl: Duration) {
    let fields: HashMap<String, String> = match serde_json::from_str(payload) {
        Ok(fields) => fields,
        Err(error) => return warn!(%error, "unreadable driver event"),
    };
    let driver = fields
        .get("id")
        .ok_or_else(|| crate::domain::error::Error::internal("driver event without id"))
        .and_then(|id| DriverId::parse(id))
        .and_then(|id| driver_from_fields(&id, &fields, chrono::Utc::now(), ttl));
    match driver {
        Ok(driver) => hub.publish_driver(Arc::new(driver)),
        Err(error) => warn!(%error, "unreadable driver event"),
    }
}

fn deliver_wake(hub: &EventHub, payload: &str) {
    let parsed = payload
        .split_once(',')
        .and_then(|(lng, lat)| Some((lng.parse::<f64>().ok()?, lat.parse::<f64>().ok()?)))
        .and_then(|(lng, lat)| Coordinates::parse(lat, lng).ok());
    match parsed {
        Some(at) => hub.driver_available(at),
        None => warn!(payload, "unreadable wake event"),
    }
}
