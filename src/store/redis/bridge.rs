//! The event bridge: one subscriber connection per instance.
//!
//! It listens on the fleet's `events` and `wake` channels and feeds this
//! instance's [`EventHub`]: ride status changes made by any instance reach
//! the local `rideStatus` subscribers, and a driver becoming available near
//! a searching ride wakes the search tasks running here.
//!
//! When the connection drops it reconnects with backoff, re-subscribes, and
//! then tells the hub that events may have been missed: every live stream
//! re-reads what it shows (a `rideStatus` watcher its ride, sending it only
//! if its revision changed; a `fleet` map its area, as a resync snapshot),
//! so a change published while the bridge was down is still delivered, and
//! nothing is delivered twice.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::{driver_from_fields, ride_from_fields, Keys};
use crate::{
    domain::{Coordinates, DriverId},
    store::EventHub,
};

const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

pub(super) fn spawn(
    client: redis::Client,
    keys: Keys,
    hub: Arc<EventHub>,
    up: Arc<AtomicBool>,
    stop: CancellationToken,
    driver_ttl: Duration,
) {
    tokio::spawn(stop.clone().run_until_cancelled_owned(async move {
        let events = keys.events_channel();
        let wake = keys.wake_channel();
        let adopt = keys.adopt_channel();
        let drivers = keys.drivers_channel();
        let mut backoff = MIN_BACKOFF;
        loop {
            match subscribe(
                &client,
                [
                    events.as_str(),
                    wake.as_str(),
                    adopt.as_str(),
                    drivers.as_str(),
                ],
            )
            .await
            {
                Ok(pubsub) => {
                    backoff = MIN_BACKOFF;
                    up.store(true, Ordering::Relaxed);
                    info!("event bridge subscribed");
                    hub.resync();
                    let mut messages = pubsub.into_on_message();
                    while let Some(msg) = messages.next().await {
                        let Ok(payload) = msg.get_payload::<String>() else {
                            continue;
                        };
                        if msg.get_channel_name() == events {
                            deliver_ride(&hub, &payload);
                        } else if msg.get_channel_name() == wake {
                            deliver_wake(&hub, &payload);
                        } else if msg.get_channel_name() == drivers {
                            deliver_driver(&hub, &payload, driver_ttl);
                        } else if msg.get_channel_name() == adopt {
                            hub.announce_rides_released();
                        }
                    }
                    up.store(false, Ordering::Relaxed);
                    warn!("event bridge lost its Redis connection; reconnecting");
                }
                Err(error) => {
                    up.store(false, Ordering::Relaxed);
                    warn!(%error, "event bridge cannot subscribe; retrying");
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }));
}

async fn subscribe(
    client: &redis::Client,
    channels: [&str; 4],
) -> redis::RedisResult<redis::aio::PubSub> {
    let connect = tokio::time::timeout(MAX_BACKOFF, client.get_async_pubsub());
    let mut pubsub = connect
        .await
        .map_err(|_| redis::RedisError::from((redis::ErrorKind::Io, "connect timed out")))??;
    pubsub.subscribe(&channels[..]).await?;
    Ok(pubsub)
}

fn deliver_ride(hub: &EventHub, payload: &str) {
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
        .ok_or_else(|| crate::error::Error::internal("driver event without id"))
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
