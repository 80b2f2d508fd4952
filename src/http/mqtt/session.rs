//! The connection to the broker, kept up: rumqttc's event loop polled in
//! one task, the shared subscription made on every connection, each
//! message handed to the lanes; when the broker goes away, reconnection
//! after an exponential backoff with jitter (100 ms doubling to 30 s,
//! reset once connected). `tracking_mqtt_connected` says 1 from the
//! broker's acknowledgement of the subscription until the connection is
//! lost. The broker's URL is logged without its credentials.

use std::time::Duration;

use rand::Rng;
use rumqttc::v5::{
    mqttbytes::{
        v5::{Packet, SubscribeReasonCode},
        QoS,
    },
    AsyncClient, Event, EventLoop,
};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::lanes::Lanes;
use crate::telemetry::metrics;

/// The first pause before reconnecting.
pub const BACKOFF_START: Duration = Duration::from_millis(100);
/// The longest pause between reconnections.
pub const BACKOFF_CAP: Duration = Duration::from_secs(30);
/// How long a graceful stop waits for the DISCONNECT to go out.
const DISCONNECT_WAIT: Duration = Duration::from_secs(1);

/// What the session needs besides the event loop.
pub struct Session {
    pub client: AsyncClient,
    pub lanes: Lanes,
    /// `$share/<group>/<topic>`.
    pub subscription: String,
    /// The broker as it may be logged.
    pub shown: String,
}

/// Polls the event loop until `cancel`: connects, subscribes, hands
/// messages to the lanes, reconnects with backoff; then disconnects.
pub async fn run(session: Session, mut events: EventLoop, cancel: CancellationToken) {
    let Session {
        client,
        lanes,
        subscription,
        shown,
    } = session;
    let mut backoff = Backoff::default();
    let mut connected = false;
    loop {
        let event = tokio::select! {
            _ = cancel.cancelled() => break,
            event = events.poll() => event,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                connected = true;
                backoff = Backoff::default();
                info!(
                    broker = %shown,
                    session_present = ack.session_present,
                    "connected to the MQTT broker; subscribing to {subscription}"
                );
                // Every time: a broker that lost our session (restarted
                // without persistence) has lost the subscription too.
                if let Err(error) = client.try_subscribe(subscription.clone(), QoS::AtLeastOnce) {
                    warn!(%error, "cannot queue the MQTT subscription");
                }
            }
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                let refused = ack
                    .return_codes
                    .iter()
                    .find(|c| !matches!(c, SubscribeReasonCode::Success(_)));
                match refused {
                    Some(code) => warn!(
                        broker = %shown, ?code,
                        "the MQTT broker refused the subscription to {subscription}"
                    ),
                    None => {
                        ::metrics::gauge!(metrics::MQTT_CONNECTED).set(1.0);
                        info!(broker = %shown, "subscribed to {subscription}");
                    }
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => lanes.dispatch(publish).await,
            Ok(_) => {}
            Err(error) => {
                connected = false;
                ::metrics::gauge!(metrics::MQTT_CONNECTED).set(0.0);
                let pause = backoff.next_pause();
                warn!(broker = %shown, %error, retry_in = ?pause, "MQTT connection lost or refused");
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = tokio::time::sleep(pause) => {}
                }
            }
        }
    }
    ::metrics::gauge!(metrics::MQTT_CONNECTED).set(0.0);
    if connected && client.try_disconnect().is_ok() {
        let _ = tokio::time::timeout(DISCONNECT_WAIT, async {
            while let Ok(event) = events.poll().await {
                if matches!(event, Event::Outgoing(rumqttc::Outgoing::Disconnect)) {
                    break;
                }
            }
        })
        .await;
    }
    info!(broker = %shown, "MQTT ingest stopped");
}

/// Exponential backoff with jitter: each pause is between half and all of
/// a ceiling that doubles from [`BACKOFF_START`] to [`BACKOFF_CAP`].
#[derive(Debug)]
pub struct Backoff {
    ceiling: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            ceiling: BACKOFF_START,
        }
    }
}

impl Backoff {
    /// The next pause.
    pub fn next_pause(&mut self) -> Duration {
        let ceiling = self.ceiling;
        self.ceiling = (ceiling * 2).min(BACKOFF_CAP);
        let half = ceiling / 2;
        half + half.mul_f64(rand::rng().random_range(0.0..=1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_to_its_cap_with_jitter() {
        let mut backoff = Backoff::default();
        let pauses: Vec<Duration> = (0..12).map(|_| backoff.next_pause()).collect();
        assert!(pauses[0] >= BACKOFF_START / 2 && pauses[0] <= BACKOFF_START);
        assert!(pauses.iter().all(|p| *p <= BACKOFF_CAP));
        assert!(pauses[11] >= BACKOFF_CAP / 2, "{pauses:?}");
    }
}
