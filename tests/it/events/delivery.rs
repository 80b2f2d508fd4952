//! Delivery to real receivers: order, signatures, outages, a hung receiver,
//! dead letters.

use std::{
    collections::{BTreeMap, HashMap},
    time::{Duration, Instant},
};

use futures_util::{stream, StreamExt};
use serde_json::Value;

use super::receiver::{Answer, Hung, Receiver};
use crate::common::{eventually, id_of, north_of, within, StoreKind, TestApp, RIDER};

/// A ride's events, in the order they happen.
const A_RIDE: [&str; 3] = ["RIDE_REQUESTED", "DRIVER_FOUND", "RIDE_COMPLETED"];

/// An event id's position in its area's log (`<area>:<epoch>:<ms>-<n>`).
fn position(event: &Value) -> (u64, u64) {
    let id = event["id"].as_str().expect("an event id");
    let seq = id.rsplit(':').next().expect("a position");
    let (ms, n) = seq.split_once('-').expect("<ms>-<n>");
    (ms.parse().expect("ms"), n.parse().expect("n"))
}

/// Runs `n` rides, each with a driver of its own far from the others, from
/// request through completion; their ids.
async fn rides(app: &TestApp, n: usize) -> Vec<String> {
    stream::iter(0..n)
        .map(|i| async move {
            let at = north_of(RIDER, 15.0 * i as f64);
            app.update_location(&format!("ev-d{i}"), at).await;
            let ride = id_of(&app.request_driver(&format!("ev-r{i}"), at).await);
            app.ride_reaches(&ride, "DRIVER_FOUND").await;
            let done = app.complete(&ride).await;
            assert_eq!(
                done["data"]["completeRide"]["status"], "COMPLETED",
                "{done}"
            );
            ride
        })
        .buffer_unordered(8)
        .collect()
        .await
}

/// Each ride's events as received, by ride.
fn by_ride(events: &[Value]) -> BTreeMap<String, Vec<Value>> {
    let mut rides: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for event in events {
        if let Some(ride) = event["rideId"].as_str() {
            rides
                .entry(ride.to_owned())
                .or_default()
                .push(event.clone());
        }
    }
    rides
}

/// Every ride of `rides` arrived whole: its events once each (a retry of
/// the same id aside), in the order they happened, with increasing ids.
fn assert_every_ride_in_order(events: &[Value], rides: &[String]) {
    let mut seen: HashMap<String, &Value> = HashMap::new();
    for event in events {
        let id = event["id"].as_str().expect("id").to_owned();
        if let Some(before) = seen.insert(id.clone(), event) {
            assert_eq!(before, event, "id {id} came twice with different events");
        }
    }
    let received = by_ride(events);
    for ride in rides {
        let mut got = received.get(ride).cloned().unwrap_or_default();
        got.dedup_by(|a, b| a["id"] == b["id"]);
        let kinds: Vec<&str> = got
            .iter()
            .map(|e| e["type"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(kinds, A_RIDE, "ride {ride}'s events: {got:?}");
        let positions: Vec<_> = got.iter().map(position).collect();
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "ride {ride}'s ids must increase: {positions:?}"
        );
    }
}

/// Waits until `receiver` holds every event of `rides`.
async fn wait_for_all(receiver: &Receiver, rides: &[String], limit: Duration) {
    within(limit, "every ride's events at the receiver", async {
        loop {
            let received = by_ride(&receiver.events());
            if rides
                .iter()
                .all(|r| received.get(r).is_some_and(|e| e.len() >= A_RIDE.len()))
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
}

fn webhooks(config: &mut tracking::Config, urls: &[&str], secrets: &[&str]) {
    config.events.webhooks = urls.iter().map(|u| u.to_string()).collect();
    config.events.webhook_secrets = secrets.iter().map(|s| s.to_string()).collect();
}

pub async fn every_event_arrives_in_order_signed_with_each_secret(store: StoreKind) {
    let receiver = Receiver::start(Answer::Ok).await;
    let app = TestApp::spawn(store, |c| {
        webhooks(c, &[&receiver.url], &["old-secret", "new-secret"]);
        c.events.webhook_batch = 7;
    })
    .await;
    let rides = rides(&app, 20).await;
    wait_for_all(&receiver, &rides, Duration::from_secs(10)).await;
    let events = receiver.events();
    assert_every_ride_in_order(&events, &rides);
    // One area: the whole log arrives in log order.
    let positions: Vec<_> = events.iter().map(position).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    for post in receiver.posts() {
        assert_eq!(post.content_type, "application/json");
        assert!(
            post.events().len() <= 7,
            "a batch is at most --webhook-batch"
        );
        let sent: i64 = post.timestamp.parse().expect("unix seconds");
        assert!((chrono::Utc::now().timestamp() - sent).abs() < 60);
        assert!(post.signed_with("old-secret"), "{}", post.signature);
        assert!(post.signed_with("new-secret"), "{}", post.signature);
        assert!(!post.signed_with("another"));
        assert!(post.events().iter().all(|e| e["v"] == 1));
    }
    let metrics = app.metrics().await;
    let sink = tracking::dispatch::delivery::webhook::sink_id(&receiver.url);
    let delivered = series(&metrics, "tracking_events_delivered_total", sink.as_str());
    assert!(
        delivered >= events.len() as f64,
        "{delivered} < {}",
        events.len()
    );
}

pub async fn a_receiver_down_for_90_seconds_gets_every_event_once_back(store: StoreKind) {
    let receiver = Receiver::start(Answer::UnavailableFor(Duration::from_secs(90))).await;
    let started = Instant::now();
    let app = TestApp::spawn(store, |c| webhooks(c, &[&receiver.url], &["s3cret"])).await;
    let rides = rides(&app, 200).await;
    // Down: nothing taken, every try counted as a failure; the service
    // stays ready.
    assert!(receiver.events().is_empty());
    let (status, _) = app.get("/ready").await;
    assert_eq!(status, 200, "/ready while a sink is down");
    let left = Duration::from_secs(90).saturating_sub(started.elapsed());
    wait_for_all(&receiver, &rides, left + Duration::from_secs(20)).await;
    assert!(receiver.refused() > 0, "the receiver refused while down");
    assert_every_ride_in_order(&receiver.events(), &rides);
    assert!(receiver.posts().iter().all(|p| p.signed_with("s3cret")));
}

pub async fn a_hung_receiver_holds_up_neither_another_webhook_nor_connections(store: StoreKind) {
    let hung = Hung::start().await;
    let healthy = Receiver::start(Answer::Ok).await;
    let started = Instant::now();
    let app = TestApp::spawn(store, |c| webhooks(c, &[&hung.url, &healthy.url], &["k"])).await;
    let rides = rides(&app, 10).await;
    wait_for_all(&healthy, &rides, Duration::from_secs(5)).await;
    assert_every_ride_in_order(&healthy.events(), &rides);
    // Let the hung one's first request time out and be retried.
    tokio::time::sleep(Duration::from_secs(12).saturating_sub(started.elapsed())).await;
    let more = rides_after(&app, &healthy).await;
    wait_for_all(&healthy, &more, Duration::from_secs(5)).await;
    // One request in flight per (sink, area), each given up after 10 s.
    let bound = 2 + started.elapsed().as_secs() as usize / 10;
    assert!(
        hung.accepted() <= bound,
        "{} connections to the hung receiver in {:?}",
        hung.accepted(),
        started.elapsed()
    );
    // The hung one's first request gives up after its 10 s timeout: a
    // failure, counted, with the lag growing (a Cluster's start may have
    // taken part of the wait above).
    let sink = tracking::dispatch::delivery::webhook::sink_id(&hung.url);
    let failed = |metrics: &str| {
        series(
            metrics,
            "tracking_event_delivery_failures_total",
            sink.as_str(),
        ) >= 1.0
            && series(metrics, "tracking_event_lag_seconds", sink.as_str()) > 0.0
    };
    test_support::within(
        Duration::from_secs(15),
        "the hung webhook's failure counted",
        async {
            while !failed(&app.metrics().await) {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        },
    )
    .await;
}

/// A few more rides, after the first ones (their drivers elsewhere).
async fn rides_after(app: &TestApp, _healthy: &Receiver) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..3 {
        let at = north_of(RIDER, 15.0 * (300 + i) as f64);
        app.update_location(&format!("ev-late-d{i}"), at).await;
        let ride = id_of(&app.request_driver(&format!("ev-late-r{i}"), at).await);
        app.ride_reaches(&ride, "DRIVER_FOUND").await;
        app.complete(&ride).await;
        ids.push(ride);
    }
    ids
}

pub async fn events_refused_past_the_max_age_go_to_the_dead_letters_counted(store: StoreKind) {
    let failing = Receiver::start(Answer::Failing).await;
    let app = TestApp::spawn(store, |c| {
        webhooks(c, &[&failing.url], &["k"]);
        c.events.webhook_max_age = Duration::from_secs(2);
    })
    .await;
    let rides = rides(&app, 3).await;
    let sink = tracking::dispatch::delivery::webhook::sink_id(&failing.url);
    // Three rides: 9 ride events and 6 driver ones (available, then free again).
    let dead = eventually("the refused events dead-lettered and counted", || async {
        let metrics = app.metrics().await;
        let dead = series(
            &metrics,
            "tracking_events_dead_lettered_total",
            sink.as_str(),
        );
        (dead >= 15.0).then_some(dead)
    })
    .await;
    assert!(failing.events().is_empty());
    assert!(failing.refused() >= 2, "retried before giving up");
    if let Some(memory) = &app.memory {
        use tracking::store::EventLog;
        let area = tracking::domain::AreaId::parse("default").unwrap();
        let held = memory.dead_letter_count(&area).await.unwrap();
        assert_eq!(held as f64, dead, "the dead letters hold what was counted");
    }
    let _ = rides;
}

/// A series' value for `sink` (any other labels), 0 when absent.
fn series(metrics: &str, name: &str, sink: &str) -> f64 {
    let label = format!("sink=\"{sink}\"");
    metrics
        .lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && l.contains(&label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

pub async fn an_areas_webhooks_get_only_that_areas_events(store: StoreKind) {
    let everything = Receiver::start(Answer::Ok).await;
    let santiago = Receiver::start(Answer::Ok).await;
    let mut areas = crate::common::areas::two_cities();
    areas["features"][0]["properties"]["webhooks"] = serde_json::json!([santiago.url]);
    let file = crate::common::areas::areas_file(&format!("events-{store:?}"), &areas);
    let app = TestApp::spawn(store, |c| {
        webhooks(c, &[&everything.url], &["k"]);
        c.areas = Some(file.clone());
    })
    .await;
    let mut rides = Vec::new();
    for (i, at) in [RIDER, (-33.44, -70.35)].into_iter().enumerate() {
        app.update_location(&format!("area-d{i}"), at).await;
        let ride = id_of(&app.request_driver(&format!("area-r{i}"), at).await);
        app.ride_reaches(&ride, "DRIVER_FOUND").await;
        app.complete(&ride).await;
        rides.push(ride);
    }
    wait_for_all(&everything, &rides, Duration::from_secs(10)).await;
    wait_for_all(&santiago, &rides[..1], Duration::from_secs(10)).await;
    assert_every_ride_in_order(&everything.events(), &rides);
    let areas_seen: std::collections::BTreeSet<String> = santiago
        .events()
        .iter()
        .map(|e| {
            e["id"]
                .as_str()
                .unwrap_or("")
                .split(':')
                .next()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    assert_eq!(areas_seen.into_iter().collect::<Vec<_>>(), ["scl"]);
    assert!(santiago.posts().iter().all(|p| p.signed_with("k")));
}

pub async fn only_the_webhook_types_are_sent(store: StoreKind) {
    let receiver = Receiver::start(Answer::Ok).await;
    let app = TestApp::spawn(store, |c| {
        webhooks(c, &[&receiver.url], &["k"]);
        c.events.webhook_types = vec!["RIDE_COMPLETED".into(), "RIDE_REQUESTED".into()];
    })
    .await;
    let rides = rides(&app, 4).await;
    within(Duration::from_secs(10), "4 rides' completions", async {
        while by_ride(&receiver.events())
            .values()
            .map(Vec::len)
            .sum::<usize>()
            < 8
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let received = by_ride(&receiver.events());
    for ride in &rides {
        let kinds: Vec<&str> = received[ride]
            .iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["RIDE_REQUESTED", "RIDE_COMPLETED"], "ride {ride}");
    }
    assert!(
        receiver.events().iter().all(|e| e["rideId"].is_string()),
        "no driver events"
    );
}
