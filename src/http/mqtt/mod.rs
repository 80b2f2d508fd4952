//! OwnTracks over MQTT: the service subscribes to the broker the phones
//! publish to (`--mqtt-url`), as the shared subscription
//! `$share/<group>/<topic>` so several instances split the messages, and
//! reports each location through the dispatcher like an `updateLocations`
//! entry dated by the phone.
//!
//! - [`broker`]: the URL, credentials and TLS settings;
//! - [`topic`]: the topic filter and the user and device a topic names;
//! - [`session`]: the connection kept up (subscribe, reconnect with backoff);
//! - [`lanes`]: workers by topic hash, bounded queues;
//! - [`report`]: one message to one report, its outcome counted.
//!
//! MQTT 5 (Mosquitto ≥ 1.6): QoS 1, a session that outlives a
//! reconnection ([`SESSION_EXPIRY`]) so the broker keeps what arrives
//! meanwhile, a receive maximum and a packet size limit the broker honours.
//! The broker being down does not fail `/ready` (reports over HTTP go on);
//! `tracking_mqtt_connected` says whether it is reached.

pub mod broker;
pub mod lanes;
pub mod report;
pub mod session;
pub mod topic;

use std::time::Duration;

use rumqttc::{
    v5::{AsyncClient, MqttOptions},
    TlsConfiguration, Transport,
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::{info, warn};

pub use broker::{Broker, BrokerUrl};
pub use report::{Outcome, Reporter};
pub use topic::TopicFilter;

use crate::{auth::Devices, dispatch::Dispatcher};

/// How long the broker keeps our session (subscription, unacknowledged and
/// queued QoS 1 messages) after a disconnection: a reconnection within it
/// loses nothing the broker kept; past it, positions are old news anyway.
pub const SESSION_EXPIRY: Duration = Duration::from_secs(300);
/// QoS 1 messages the broker may send before we acknowledge them (they
/// are acknowledged on receipt: see [`lanes`]).
pub const RECEIVE_MAXIMUM: u16 = 256;
/// The largest packet the broker may send us; it drops larger ones (MQTT
/// 5's Maximum Packet Size), so one huge message cannot cut the connection.
pub const MAX_PACKET_BYTES: u32 = 64 * 1024;
/// Keep-alive pings.
const KEEP_ALIVE: Duration = Duration::from_secs(30);
/// How long stopping waits for the lanes to finish what they hold.
const STOP_WAIT: Duration = Duration::from_secs(5);

/// What the ingest is told to do (built from the `--mqtt-*` flags).
#[derive(Debug, Clone)]
pub struct MqttSettings {
    pub broker: Broker,
    pub topic: TopicFilter,
    /// The share name: instances with the same one split the messages.
    pub group: String,
    /// The MQTT client id (unique per instance: the session is its).
    pub client_id: String,
}

/// The running ingest.
pub struct MqttIngest {
    cancel: CancellationToken,
    tasks: TaskTracker,
}

impl MqttIngest {
    /// Starts the session and its workers; the broker need not be up (the
    /// session connects in the background and keeps trying).
    pub fn start(settings: MqttSettings, dispatcher: Dispatcher, devices: Devices) -> Self {
        let mut options = MqttOptions::new(
            settings.client_id.clone(),
            settings.broker.host.clone(),
            settings.broker.port,
        );
        options
            .set_keep_alive(KEEP_ALIVE)
            .set_clean_start(false)
            .set_session_expiry_interval(u32::try_from(SESSION_EXPIRY.as_secs()).ok())
            .set_receive_maximum(Some(RECEIVE_MAXIMUM))
            .set_max_packet_size(Some(MAX_PACKET_BYTES))
            // PUBACKs on receipt (see lanes.rs); the requests are the
            // subscription and the goodbye.
            .set_request_channel_capacity(16);
        if let Some(username) = &settings.broker.username {
            let password = settings.broker.password.clone().unwrap_or_default();
            options.set_credentials(username.clone(), password);
        }
        if let Some(tls) = &settings.broker.tls {
            options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
                tls.clone(),
            )));
        }
        let capacity = options.request_channel_capacity();
        let (client, events) = AsyncClient::new(options, capacity);
        let cancel = CancellationToken::new();
        let tasks = TaskTracker::new();
        let reporter = Reporter {
            dispatcher,
            devices,
            topic: settings.topic.clone(),
        };
        let lanes = lanes::Lanes::start(reporter, &tasks);
        let session = session::Session {
            client,
            lanes,
            subscription: settings.topic.shared(&settings.group),
            shown: settings.broker.shown(),
        };
        info!(
            broker = %settings.broker.shown(),
            client_id = %settings.client_id,
            "MQTT ingest starting"
        );
        ::metrics::gauge!(crate::telemetry::metrics::MQTT_CONNECTED).set(0.0);
        tasks.spawn(session::run(session, events, cancel.clone()));
        tasks.close();
        Self { cancel, tasks }
    }

    /// Stops taking messages, lets the lanes finish what they hold (for at
    /// most a few seconds) and disconnects.
    pub async fn stop(&self) {
        self.cancel.cancel();
        if tokio::time::timeout(STOP_WAIT, self.tasks.wait())
            .await
            .is_err()
        {
            warn!("the MQTT ingest did not stop within {STOP_WAIT:?}");
        }
    }
}
