//! What the NATS sink tests share: a server with the operator's stream,
//! events made by hand, and reading the stream back with a real JetStream
//! pull consumer.

use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, stream};
use futures_util::StreamExt;
use serde_json::Value;
use test_support::NatsServer;
use tracking::{
    dispatch::delivery::{NatsSettings, NatsSink},
    domain::{DriverId, Event, EventId, EventType},
};

use crate::common::{within, PATIENCE};

/// The stream the operator made for the service's events.
pub const STREAM: &str = "TRACKING";

/// A JetStream context on `server`.
pub async fn jetstream_on(server: &NatsServer) -> jetstream::Context {
    let client = within(
        PATIENCE,
        "a NATS connection",
        async_nats::connect(server.url()),
    )
    .await
    .expect("connect to the private nats-server");
    jetstream::new(client)
}

/// Creates the stream taking `subjects`, keeping message ids for `window`.
pub async fn create_stream(js: &jetstream::Context, subjects: &str, window: Duration) {
    within(
        PATIENCE,
        "the stream to be created",
        js.create_stream(stream::Config {
            name: STREAM.into(),
            subjects: vec![subjects.into()],
            duplicate_window: window,
            ..Default::default()
        }),
    )
    .await
    .expect("create the stream");
}

/// A sink on `url`, publishes and acks bounded by `timeout`.
pub async fn sink_on(url: &str, timeout: Duration) -> NatsSink {
    NatsSink::connect(&NatsSettings {
        servers: NatsSettings::parse_servers(url).expect("a NATS URL"),
        creds: None,
        ca: None,
        publish_timeout: timeout,
        retry_horizon: Duration::from_secs(65),
    })
    .await
    .expect("the sink set up")
}

/// An event of `area` at position `n`, of `kind`, about driver `d-<n>`.
pub fn event(area: &str, n: u64, kind: EventType) -> Event {
    Event {
        id: EventId::parse(&format!("{area}:k3x9q2:1764856800123-{n}")).expect("an event id"),
        kind,
        at: chrono::Utc::now(),
        ride_id: None,
        driver_id: Some(DriverId::parse(&format!("d-{n}")).expect("a driver id")),
        rider_id: None,
        reason: None,
        ride: None,
        driver: None,
    }
}

/// A message as it is in the stream.
#[derive(Debug, Clone)]
pub struct Stored {
    pub subject: String,
    pub msg_id: Option<String>,
    pub json: Value,
}

/// How many messages the stream holds.
pub async fn stored_count(js: &jetstream::Context) -> u64 {
    let mut stream = js.get_stream(STREAM).await.expect("the stream");
    stream
        .info()
        .await
        .expect("the stream's info")
        .state
        .messages
}

/// Every message in the stream, in stream order, read with a new pull
/// consumer from the start.
pub async fn read_all(js: &jetstream::Context) -> Vec<Stored> {
    let count = stored_count(js).await;
    let stream = js.get_stream(STREAM).await.expect("the stream");
    let consumer = stream
        .create_consumer(pull::Config {
            deliver_policy: jetstream::consumer::DeliverPolicy::All,
            ack_policy: jetstream::consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .expect("a pull consumer");
    let mut stored = Vec::new();
    within(PATIENCE, "every message through the consumer", async {
        while (stored.len() as u64) < count {
            let mut batch = consumer
                .batch()
                .max_messages(usize::try_from(count).expect("a count") - stored.len())
                .expires(Duration::from_secs(1))
                .messages()
                .await
                .expect("a pull request");
            while let Some(message) = batch.next().await {
                let message = message.expect("a message");
                stored.push(Stored {
                    subject: message.subject.to_string(),
                    msg_id: message
                        .headers
                        .as_ref()
                        .and_then(|h| h.get("Nats-Msg-Id"))
                        .map(|v| v.as_str().to_owned()),
                    json: serde_json::from_slice(&message.payload).expect("a JSON payload"),
                });
            }
        }
    })
    .await;
    stored
}

/// How many messages the stream holds on subjects matching `filter`.
pub async fn stored_on(js: &jetstream::Context, filter: &str) -> usize {
    let stream = js.get_stream(STREAM).await.expect("the stream");
    let mut subjects = stream
        .info_with_subjects(filter)
        .await
        .expect("the stream's subjects");
    let mut count = 0;
    while let Some(subject) = subjects.next().await {
        count += subject.expect("a subject's count").1;
    }
    count
}
