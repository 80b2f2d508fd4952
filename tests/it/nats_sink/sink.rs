//! The NATS sink driven directly, as the delivery runner drives it.

use std::time::{Duration, Instant};

use test_support::NatsServer;
use tracking::{
    dispatch::delivery::{check_streams, NatsSettings, NatsSink, Sink, SinkError, StreamCheck},
    domain::{AreaId, EventType},
};

use super::helpers::{
    create_stream, event, jetstream_on, read_all, sink_on, stored_count, stored_on,
};
use crate::common::{within, PATIENCE};

const WINDOW: Duration = Duration::from_secs(120);

fn area(id: &str) -> AreaId {
    AreaId::parse(id).expect("an area id")
}

/// Every event of a batch is in the stream once, as its JSON, on
/// `tracking.<area>.<TYPE>`, with `Nats-Msg-Id` = its id, in order; the
/// same batch sent again (a retry) adds nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_event_is_stored_once_on_its_subject_and_a_resent_batch_adds_nothing() {
    let server = NatsServer::start().await;
    let js = jetstream_on(&server).await;
    create_stream(&js, "tracking.>", WINDOW).await;
    let sink = sink_on(&server.url(), PATIENCE).await;
    assert_eq!(sink.id().to_string(), "nats");
    assert_eq!(
        sink.max_age(),
        None,
        "NATS holds the log back, never dead-letters"
    );

    let kinds = [
        EventType::RideRequested,
        EventType::DriverFound,
        EventType::OfferEnded,
        EventType::DriverOffline,
    ];
    let north: Vec<_> = (0..40)
        .map(|n| event("north", n, kinds[n as usize % kinds.len()]))
        .collect();
    let south: Vec<_> = (0..3)
        .map(|n| event("south", n, EventType::RideCompleted))
        .collect();
    within(
        PATIENCE,
        "a batch sent",
        sink.send(&area("north"), &north[..25]),
    )
    .await
    .expect("the first batch taken");
    within(PATIENCE, "a batch sent", sink.send(&area("south"), &south))
        .await
        .expect("the other area's batch taken");
    // A retry of the first batch (its ack lost, say), then the next one,
    // overlapping it: the same ids, not stored again.
    within(
        PATIENCE,
        "a batch re-sent",
        sink.send(&area("north"), &north[..25]),
    )
    .await
    .expect("the re-sent batch taken");
    within(
        PATIENCE,
        "a batch sent",
        sink.send(&area("north"), &north[20..]),
    )
    .await
    .expect("the overlapping batch taken");

    let stored = read_all(&js).await;
    assert_eq!(stored.len(), 43, "40 + 3 events, each once: {stored:#?}");
    let (north_stored, south_stored): (Vec<_>, Vec<_>) = stored
        .iter()
        .partition(|s| s.subject.starts_with("tracking.north."));
    for (sent, got) in north.iter().zip(&north_stored) {
        let id = sent.id.to_string();
        assert_eq!(got.msg_id.as_deref(), Some(id.as_str()));
        assert_eq!(
            got.subject,
            format!("tracking.north.{}", sent.kind.as_str())
        );
        assert_eq!(got.json, sent.to_json(), "the payload is the event's JSON");
    }
    assert_eq!(north_stored.len(), 40, "north in log order, each once");
    for (sent, got) in south.iter().zip(&south_stored) {
        assert_eq!(got.subject, "tracking.south.RIDE_COMPLETED");
        assert_eq!(got.msg_id, Some(sent.id.to_string()));
    }
    assert_eq!(south_stored.len(), 3);
    assert_eq!(stored_on(&js, "tracking.south.RIDE_COMPLETED").await, 3);
}

/// The server killed: a send fails with `Retry` within the publish
/// timeout (never hangs); once it is back, the same batch goes through
/// and nothing is stored twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_server_is_a_bounded_retry_and_a_restarted_one_takes_the_batch() {
    let server = NatsServer::start().await;
    let js = jetstream_on(&server).await;
    create_stream(&js, "tracking.>", WINDOW).await;
    let timeout = Duration::from_secs(2);
    let sink = sink_on(&server.url(), timeout).await;
    let events: Vec<_> = (0..20)
        .map(|n| event("default", n, EventType::DriverAvailable))
        .collect();
    let default = area("default");
    sink.send(&default, &events[..10])
        .await
        .expect("the first batch taken");

    server.stop();
    let started = Instant::now();
    let failed = within(
        PATIENCE,
        "a send to a dead server to fail",
        sink.send(&default, &events[10..]),
    )
    .await;
    assert!(
        matches!(failed, Err(SinkError::Retry(_))),
        "a dead server: retry, got {failed:?}"
    );
    assert!(
        started.elapsed() < timeout + Duration::from_secs(2),
        "bounded by the publish timeout: {:?}",
        started.elapsed()
    );

    server.start_again().await;
    within(2 * PATIENCE, "the batch taken after the restart", async {
        loop {
            match sink.send(&default, &events[10..]).await {
                Ok(()) => return,
                Err(SinkError::Retry(_) | SinkError::RetryAfter { .. }) => {
                    // The client reconnects with its own backoff; each
                    // try is bounded by the publish timeout.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    })
    .await;
    let js = jetstream_on(&server).await;
    let stored = read_all(&js).await;
    let ids: Vec<_> = stored
        .iter()
        .map(|s| s.msg_id.clone().unwrap_or_default())
        .collect();
    let sent: Vec<_> = events.iter().map(|e| e.id.to_string()).collect();
    assert_eq!(ids, sent, "every event once, in order");
    assert_eq!(stored_count(&js).await, 20);
}

/// The start-up check: no stream for the subjects, a stream with a short
/// duplicate window, a good one, and a server nobody answers at.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_start_up_check_finds_a_missing_stream_and_a_short_window() {
    let server = NatsServer::start().await;
    let js = jetstream_on(&server).await;
    let sink = sink_on(&server.url(), PATIENCE).await;
    let areas = [area("north"), area("south")];

    let check = within(PATIENCE, "the check", check_streams(&sink, &areas)).await;
    assert!(
        matches!(check, StreamCheck::Missing { uncovered: 24, .. }),
        "{check:?}"
    );

    // Only north's subjects.
    create_stream(&js, "tracking.north.>", WINDOW).await;
    let check = within(PATIENCE, "the check", check_streams(&sink, &areas)).await;
    assert!(
        matches!(&check, StreamCheck::Missing { subject, uncovered: 12 } if subject.starts_with("tracking.south.")),
        "{check:?}"
    );

    js.delete_stream(super::helpers::STREAM)
        .await
        .expect("delete the stream");
    create_stream(&js, "tracking.>", Duration::from_secs(10)).await;
    let check = within(PATIENCE, "the check", check_streams(&sink, &areas)).await;
    assert!(
        matches!(&check, StreamCheck::ShortWindow { window, .. } if *window == Duration::from_secs(10)),
        "{check:?}"
    );

    js.delete_stream(super::helpers::STREAM)
        .await
        .expect("delete the stream");
    create_stream(&js, "tracking.>", WINDOW).await;
    let check = within(PATIENCE, "the check", check_streams(&sink, &areas)).await;
    assert_eq!(
        check,
        StreamCheck::Covered {
            streams: vec!["TRACKING".into()]
        }
    );

    server.stop();
    let check = within(PATIENCE, "the check", check_streams(&sink, &areas)).await;
    assert!(matches!(check, StreamCheck::Unreachable(_)), "{check:?}");
}

/// Nothing listening at start is not an error (the client connects in the
/// background); a send then fails with `Retry`, bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_at_start_is_not_fatal() {
    let port = crate::common::free_port();
    let sink = within(
        PATIENCE,
        "the sink set up without a server",
        sink_on(&format!("nats://127.0.0.1:{port}"), Duration::from_secs(1)),
    )
    .await;
    let sent = within(
        PATIENCE,
        "a send to nobody to fail",
        sink.send(
            &area("default"),
            &[event("default", 1, EventType::RideRequested)],
        ),
    )
    .await;
    assert!(matches!(sent, Err(SinkError::Retry(_))), "{sent:?}");
}

/// Bad flags: a URL of another scheme, a CA file without a certificate, a
/// credentials file that is not there: one clear error each.
#[tokio::test]
async fn bad_nats_flags_are_refused_clearly() {
    for url in [
        "http://127.0.0.1:4222",
        "127.0.0.1:4222",
        "nats://",
        "ws://h:1",
    ] {
        let refused = NatsSettings::parse_servers(url);
        assert!(refused.is_err(), "{url} accepted: {refused:?}");
    }
    assert!(NatsSettings::parse_servers("nats://a:4222, tls://b:4222").is_ok());

    let mut config = crate::common::test_config();
    config.events.nats_ca = Some("ca.pem".into());
    let refused = tracking::startup::nats_sink::nats_settings(&config);
    assert!(refused.is_err(), "--nats-ca without --nats-url accepted");
    config.events.nats_url = Some("nats://127.0.0.1:4222".into());
    let settings = tracking::startup::nats_sink::nats_settings(&config)
        .expect("the flags accepted")
        .expect("NATS configured");
    assert!(
        settings.retry_horizon > config.instance_lease,
        "the horizon covers a lease taken over"
    );

    let dir = std::env::temp_dir().join(format!("tracking-nats-flags-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let not_pem = dir.join("ca.pem");
    std::fs::write(&not_pem, "not a certificate").expect("write");
    let settings =
        |ca: Option<std::path::PathBuf>, creds: Option<std::path::PathBuf>| NatsSettings {
            servers: NatsSettings::parse_servers("tls://127.0.0.1:1").expect("a URL"),
            creds,
            ca,
            publish_timeout: Duration::from_secs(1),
            retry_horizon: Duration::from_secs(65),
        };
    let error = NatsSink::connect(&settings(Some(not_pem), None))
        .await
        .err()
        .expect("a CA without a certificate refused");
    assert!(error.contains("--nats-ca"), "{error}");
    let error = NatsSink::connect(&settings(None, Some(dir.join("missing.creds"))))
        .await
        .err()
        .expect("a missing credentials file refused");
    assert!(error.contains("--nats-creds"), "{error}");
    let _ = std::fs::remove_dir_all(&dir);
}
