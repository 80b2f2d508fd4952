//! OwnTracks over MQTT: a rumqttc publisher sends location messages for
//! 1,000 drivers through a `mosquitto` of the run's own, at QoS 1 as fast
//! as the broker acknowledges them; the service (`--mqtt-url`) and a plain
//! rumqttc subscriber to the same topic take the same messages in the same
//! run. Measured: positions/s the service accepted (its
//! `tracking_mqtt_messages_total{outcome="accepted"}`) against messages/s
//! the plain subscriber received, both from the first publish to the last
//! message each took.

use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};
use serde_json::json;
use test_support::MosquittoServer;

use super::{mib, point, RELAXED};
use crate::{
    error::{BenchError, Result},
    procs::{Redis, Service},
    report::Row,
    StoreKind,
};

const DRIVERS: usize = 1_000;
/// Messages per driver, each a second after the last (so each is newer).
const ROUNDS: usize = 50;
const MESSAGES: usize = DRIVERS * ROUNDS;
/// The longest a run may take.
const DEADLINE: Duration = Duration::from_secs(120);

pub async fn run(store: StoreKind, redis: &Redis) -> Result<Vec<Row>> {
    let broker = MosquittoServer::start().await;
    let dir = std::env::temp_dir().join(format!("tracking-bench-mqtt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| BenchError::Process(e.to_string()))?;
    let file = dir.join("devices.json");
    let devices: Vec<_> = (0..DRIVERS)
        .map(|i| json!({"user": format!("u{i}"), "device": "p", "driver": format!("m{i}")}))
        .collect();
    std::fs::write(&file, json!({ "devices": devices }).to_string())
        .map_err(|e| BenchError::Process(e.to_string()))?;
    let row = measure(store, redis, &broker, &file).await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(vec![row?])
}

async fn measure(
    store: StoreKind,
    redis: &Redis,
    broker: &MosquittoServer,
    file: &std::path::Path,
) -> Result<Row> {
    let redis_url = redis.url();
    let file = file.display().to_string();
    let broker_url = broker.url();
    let mut store_args = vec![
        "--mqtt-url",
        broker_url.as_str(),
        "--device-credentials",
        file.as_str(),
    ];
    if store == StoreKind::Redis {
        store_args.extend(["--redis-url", redis_url.as_str()]);
    }
    // The messages reach a minute into the past: drivers stay online.
    let mut flags = RELAXED.to_vec();
    flags.extend(["--driver-ttl", "10m"]);
    let svc = Service::start(&store_args, &flags).await?;
    let subscribed = Instant::now();
    while svc.gauge("tracking_mqtt_connected").await != Some(1.0) {
        if subscribed.elapsed() > Duration::from_secs(20) {
            return Err(BenchError::Process(
                "the service did not subscribe to the broker".into(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Made before any clock starts: the client's JSON work is not measured.
    let base = chrono::Utc::now().timestamp() - ROUNDS as i64 - 5;
    let messages: Vec<(String, Vec<u8>)> = (0..MESSAGES)
        .map(|n| {
            let (round, driver) = (n / DRIVERS, n % DRIVERS);
            let (lat, lon) = point(driver as u64, 15.0);
            let body = json!({
                "_type": "location", "tid": "bm", "lat": lat + round as f64 * 0.000_05,
                "lon": lon, "tst": base + round as i64, "acc": 10, "vel": 20, "t": "u"
            });
            (
                format!("owntracks/u{driver}/p"),
                body.to_string().into_bytes(),
            )
        })
        .collect();
    let plain = plain_subscriber(broker.port()).await?;
    let before = svc.stats();
    let started = Instant::now();
    let published = publish(broker.port(), messages);
    let (published, plain_done) = tokio::join!(published, plain);
    let published = published?;
    let (plain_count, plain_at) = plain_done?;
    let (accepted, handled, service_at) = loop {
        let text = metrics(&svc).await;
        let count = |outcome: &str| {
            let series = format!("tracking_mqtt_messages_total{{outcome=\"{outcome}\"}} ");
            text.lines()
                .find_map(|l| l.strip_prefix(&series)?.trim().parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        let accepted = count("accepted");
        let handled: f64 = [
            "accepted",
            "stale",
            "refused",
            "rate_limited",
            "unknown_device",
            "malformed",
            "too_large",
            "ignored",
            "failed",
        ]
        .iter()
        .map(|o| count(o))
        .sum();
        if handled >= MESSAGES as f64 || started.elapsed() > DEADLINE {
            break (accepted, handled, started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let after = svc.stats();
    let service_rate = accepted / service_at.as_secs_f64();
    let plain_rate = plain_count as f64 / plain_at.as_secs_f64();
    let ratio = service_rate / plain_rate;
    eprintln!(
        "  mqtt-ingest: {published} acknowledged by the broker; plain subscriber {plain_count} \
         in {:.2} s; service accepted {accepted:.0} (handled {handled:.0}) in {:.2} s",
        plain_at.as_secs_f64(),
        service_at.as_secs_f64()
    );
    Ok(Row {
        scenario: "mqtt-ingest",
        store,
        flags: svc.flags.clone(),
        measured: format!(
            "{service_rate:.0} positions/s accepted from MQTT ({accepted:.0} of {MESSAGES}; \
             {DRIVERS} drivers, QoS 1 through mosquitto)"
        ),
        reference: format!("a plain subscriber: {plain_rate:.0} messages/s"),
        result: format!("{ratio:.2}×"),
        target: "≥ 0.5×".into(),
        met: Some(ratio >= 0.5 && accepted >= MESSAGES as f64),
        cpu_secs: after.cpu_secs - before.cpu_secs,
        peak_rss_mib: mib(after.peak_rss_kib),
    })
}

async fn metrics(svc: &Service) -> String {
    match reqwest::get(format!("{}/metrics", svc.url)).await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Publishes every message at QoS 1 and waits for the broker's PUBACKs;
/// returns how many were acknowledged.
async fn publish(port: u16, messages: Vec<(String, Vec<u8>)>) -> Result<usize> {
    let mut options = MqttOptions::new("bench-publisher", "127.0.0.1", port);
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_inflight(200)
        .set_max_packet_size(64 * 1024, 64 * 1024);
    let (client, mut events) = AsyncClient::new(options, 1024);
    let total = messages.len();
    let sender = tokio::spawn(async move {
        for (topic, payload) in messages {
            if client
                .publish(topic, QoS::AtLeastOnce, false, payload)
                .await
                .is_err()
            {
                break;
            }
        }
        client
    });
    let mut acked = 0;
    let started = Instant::now();
    while acked < total && started.elapsed() < DEADLINE {
        match tokio::time::timeout(Duration::from_secs(10), events.poll()).await {
            Ok(Ok(Event::Incoming(Packet::PubAck(_)))) => acked += 1,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(BenchError::Request(format!("publisher: {e}"))),
            Err(_) => return Err(BenchError::Request("publisher: no progress in 10 s".into())),
        }
    }
    if let Ok(client) = sender.await {
        let _ = client.disconnect().await;
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            while let Ok(event) = events.poll().await {
                if matches!(event, Event::Outgoing(Outgoing::Disconnect)) {
                    break;
                }
            }
        })
        .await;
    }
    Ok(acked)
}

/// A plain subscriber to `owntracks/+/+` at QoS 1, subscribed before this
/// returns; its future counts messages until it has them all (or the
/// deadline), and says when the last came, measured from its first poll
/// after subscribing (the publisher starts then).
async fn plain_subscriber(
    port: u16,
) -> Result<impl std::future::Future<Output = Result<(usize, Duration)>>> {
    let mut options = MqttOptions::new("bench-plain-subscriber", "127.0.0.1", port);
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_max_packet_size(64 * 1024, 64 * 1024);
    let (client, mut events) = AsyncClient::new(options, 1024);
    client
        .subscribe("owntracks/+/+", QoS::AtLeastOnce)
        .await
        .map_err(|e| BenchError::Request(format!("plain subscriber: {e}")))?;
    let ready = Instant::now();
    loop {
        match tokio::time::timeout(Duration::from_secs(10), events.poll()).await {
            Ok(Ok(Event::Incoming(Packet::SubAck(_)))) => break,
            Ok(Ok(_)) if ready.elapsed() < Duration::from_secs(10) => {}
            _ => {
                return Err(BenchError::Process(
                    "the plain subscriber could not subscribe".into(),
                ))
            }
        }
    }
    Ok(async move {
        let started = Instant::now();
        let mut count = 0;
        let mut last = Duration::ZERO;
        while count < MESSAGES && started.elapsed() < DEADLINE {
            match tokio::time::timeout(Duration::from_secs(10), events.poll()).await {
                Ok(Ok(Event::Incoming(Packet::Publish(_)))) => {
                    count += 1;
                    last = started.elapsed();
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(BenchError::Request(format!("plain subscriber: {e}"))),
                Err(_) => break,
            }
        }
        drop(client);
        Ok((count, last))
    })
}
