//! Attacks on the webhooks: what a refused URL's error shows, a secret
//! that holds a comma, a receiver whose 2xx body never ends or dribbles.

use std::{
    convert::Infallible,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{body::Body, body::Bytes, http::StatusCode, routing::post, Router};
use serde_json::Value;
use tokio::net::TcpListener;
use tracking::{domain::ServiceAreas, startup::Config};

use crate::common::{north_of, within, StoreKind, TestApp, DRIVER};

/// The delivery plan `args` make, or its one-line error.
fn plan(args: &[&str]) -> Result<usize, String> {
    let mut all = vec!["tracking"];
    all.extend_from_slice(args);
    let config = Config::parse_ignoring_env(all).map_err(|e| e.to_string())?;
    config
        .events
        .delivery_plan(&ServiceAreas::everywhere(), Duration::from_secs(10))
        .map(|plan| plan.map_or(0, |p| p.routes.len()))
}

/// A URL's user info, path and query may hold a secret (the code says so:
/// logs show scheme, host and port only). A URL refused at start must not
/// print them either: the error goes to the terminal and the logs.
#[test]
fn atk_a_refused_webhook_url_never_shows_its_password_or_token() {
    for url in [
        // An invalid port: not a URL.
        "https://ops:hunter2@hooks.example.com:99999/in?token=s3cr3t",
        // A scheme the service does not send to.
        "ftp://ops:hunter2@hooks.example.com/in?token=s3cr3t",
    ] {
        let error = plan(&["--webhook", url, "--webhook-secret", "k"])
            .expect_err("a bad webhook URL is refused");
        assert!(
            !error.contains("hunter2") && !error.contains("s3cr3t"),
            "the error shows the URL's secrets: {error}"
        );
    }
}

/// `--webhook-secret` is documented as repeatable (one secret a flag), not
/// as comma-separated: a secret holding a comma must sign as itself (or be
/// refused at start), never silently become two other secrets, whose
/// signatures no receiver holding the real secret can verify.
#[test]
fn atk_a_webhook_secret_with_a_comma_is_not_split_into_two() {
    let secret = "Zk9,q8#x";
    let mut all = vec!["tracking", "--webhook", "http://127.0.0.1:9/x"];
    all.extend(["--webhook-secret", secret]);
    match Config::parse_ignoring_env(all) {
        Err(_) => {}
        Ok(config) => assert_eq!(
            config.events.webhook_secrets,
            [secret],
            "the secret given is the secret that signs"
        ),
    }
}

/// How a hostile receiver answers a POST it has taken (recorded).
#[derive(Clone, Copy)]
enum Reply {
    /// 200, then a body that never ends, as fast as it is read.
    Endless,
    /// 200, then a body of one byte every 100 ms, forever.
    Dribbling,
}

/// A receiver that takes every POST (recording its events) and answers as
/// `reply` says; its URL and what it took.
async fn hostile(reply: Reply) -> (String, Arc<Mutex<Vec<Value>>>) {
    let taken: Arc<Mutex<Vec<Value>>> = Arc::default();
    let seen = taken.clone();
    let app = Router::new().route(
        "/hook",
        post(move |body: Bytes| {
            let seen = seen.clone();
            async move {
                if let Ok(Value::Array(events)) = serde_json::from_slice(&body) {
                    seen.lock().unwrap().extend(events);
                }
                let chunks = futures_util::stream::unfold((), move |()| async move {
                    let chunk = match reply {
                        Reply::Endless => Bytes::from(vec![b'x'; 8192]),
                        Reply::Dribbling => {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            Bytes::from_static(b"x")
                        }
                    };
                    Some((Ok::<_, Infallible>(chunk), ()))
                });
                (StatusCode::OK, Body::from_stream(chunks))
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/hook"), taken)
}

/// Drivers come online one after another: each one's DRIVER_AVAILABLE must
/// reach the receiver within 3 s of the last, however its 2xx body goes on:
/// the service reads at most a few KB of it, for a short while, and moves on.
async fn each_event_arrives_promptly(reply: Reply) {
    let (url, taken) = hostile(reply).await;
    let app = TestApp::spawn(StoreKind::Memory, |c| {
        c.events.webhooks = vec![url.clone()];
        c.events.webhook_secrets = vec!["k".into()];
    })
    .await;
    for i in 0..4 {
        let driver = format!("atk-d{i}");
        app.update_location(&driver, north_of(DRIVER, 20.0 * f64::from(i)))
            .await;
        within(
            Duration::from_secs(3),
            &format!("{driver}'s DRIVER_AVAILABLE at the receiver"),
            async {
                while !taken
                    .lock()
                    .unwrap()
                    .iter()
                    .any(|e| e["type"] == "DRIVER_AVAILABLE" && e["driverId"] == driver.as_str())
                {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
        )
        .await;
    }
}

/// A 200 whose body never ends: read up to the bound, then the connection
/// is dropped; delivery goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atk_an_endless_2xx_body_does_not_hold_the_lane() {
    each_event_arrives_promptly(Reply::Endless).await;
}

/// A 200 whose body dribbles a byte every 100 ms: the batch is delivered
/// at its status; waiting out the body (up to the 10 s request timeout per
/// batch) would cap the lane at one batch per 10 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atk_a_dribbling_2xx_body_does_not_hold_the_lane() {
    each_event_arrives_promptly(Reply::Dribbling).await;
}

/// `--webhook-max-age 0s` would dead-letter a batch at its first refusal
/// (one 503 during a deploy), `--event-retention 0s` would keep nothing to
/// replay: absurd values, refused at start with one clear error, as
/// `--webhook-batch 0` and `--max-events 0` are.
#[test]
fn atk_a_zero_max_age_or_retention_is_refused() {
    let hook = ["--webhook", "http://127.0.0.1:9/x", "--webhook-secret", "k"];
    for (flag, value) in [
        ("--webhook-max-age", "0s"),
        ("--webhook-max-age", "1ns"),
        ("--event-retention", "0s"),
    ] {
        let mut args = hook.to_vec();
        args.extend([flag, value]);
        let error = plan(&args).expect_err(&format!("{flag} {value} is refused"));
        assert!(error.contains(flag), "{flag} {value}: {error}");
    }
    for (flag, value) in [("--webhook-batch", "0"), ("--max-events", "0")] {
        let mut args = hook.to_vec();
        args.extend([flag, value]);
        assert!(plan(&args).is_err(), "{flag} {value} is refused");
    }
}

/// A driver online in one area crosses the border, then goes offline in
/// the other: each area's own webhook must be able to tell where the
/// driver is. What each one gets is printed; the area it left must hear
/// that the driver is no longer AVAILABLE there (else its receiver lists
/// the driver as available in that area forever).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atk_a_driver_crossing_a_border_is_not_left_available_in_the_area_it_left() {
    use super::receiver::{Answer, Receiver};
    let scl = Receiver::start(Answer::Ok).await;
    let east = Receiver::start(Answer::Ok).await;
    let mut areas = crate::common::areas::two_cities();
    areas["features"][0]["properties"]["webhooks"] = serde_json::json!([scl.url]);
    areas["features"][1]["properties"]["webhooks"] = serde_json::json!([east.url]);
    let file = crate::common::areas::areas_file("events-atk-border", &areas);
    let app = TestApp::spawn(StoreKind::Memory, |c| {
        c.events.webhook_secrets = vec!["k".into()];
        c.areas = Some(file.clone());
    })
    .await;
    let moved = app.update_location("atk-x", (-33.44, -70.500_01)).await;
    assert_eq!(moved["status"], "AVAILABLE", "{moved}");
    let moved = app.update_location("atk-x", (-33.44, -70.499_99)).await;
    assert_eq!(moved["status"], "AVAILABLE", "{moved}");
    let gone = app.go_offline("atk-x").await;
    assert!(gone.get("errors").is_none(), "{gone}");
    let kinds = |r: &Receiver| -> Vec<String> {
        r.events()
            .iter()
            .filter(|e| e["driverId"] == "atk-x")
            .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    within(Duration::from_secs(5), "the east area's events", async {
        while kinds(&east).last().map(String::as_str) != Some("DRIVER_OFFLINE") {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    eprintln!("scl got {:?}; east got {:?}", kinds(&scl), kinds(&east));
    within(Duration::from_secs(3), "scl told the driver left", async {
        while kinds(&scl).last().map(String::as_str) == Some("DRIVER_AVAILABLE") {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

/// The value of `name` for `sink` in a metrics page (0 when absent).
fn sink_series(metrics: &str, name: &str, sink: &str) -> f64 {
    let label = format!("sink=\"{sink}\"");
    metrics
        .lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && l.contains(&label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Dead letters sent back (`redeliverEvents`) while the receiver still
/// refuses everything: the new events must still go to the dead letters
/// once past `--webhook-max-age`, as the flag promises. A redelivered batch
/// that is retried forever, ahead of the log, would hold them (and the
/// log's trimming) for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atk_redelivering_to_a_still_failing_webhook_does_not_stop_its_max_age() {
    use super::receiver::{Answer, Receiver};
    let failing = Receiver::start(Answer::Failing).await;
    let app = TestApp::spawn(StoreKind::Memory, |c| {
        c.events.webhooks = vec![failing.url.clone()];
        c.events.webhook_secrets = vec!["k".into()];
        c.events.webhook_max_age = Duration::from_secs(1);
    })
    .await;
    let sink = tracking::dispatch::delivery::webhook::sink_id(&failing.url);
    let dead = |n: f64| {
        let app = &app;
        let sink = sink.clone();
        async move {
            within(
                Duration::from_secs(10),
                &format!("{n} events dead-lettered"),
                async {
                    while sink_series(
                        &app.metrics().await,
                        "tracking_events_dead_lettered_total",
                        sink.as_str(),
                    ) < n
                    {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            )
            .await;
        }
    };
    app.update_location("atk-r1", DRIVER).await;
    dead(1.0).await;
    let sent = app
        .data(
            "mutation { redeliverEvents(area: \"default\") }",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(sent["redeliverEvents"], 1, "{sent}");
    // New events, refused past the max age as well.
    app.update_location("atk-r2", north_of(DRIVER, 30.0)).await;
    app.update_location("atk-r3", north_of(DRIVER, 60.0)).await;
    dead(3.0).await;
}

/// A receiver answering 307 to another URL: the redirect is not followed
/// (the body and its signature never go where the operator did not say),
/// the batch is refused and retried, counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atk_a_redirect_is_not_followed_but_retried() {
    use super::receiver::{Answer, Receiver};
    let elsewhere = Receiver::start(Answer::Ok).await;
    let target = elsewhere.url.clone();
    let app_router = Router::new().route(
        "/hook",
        post(move || {
            let target = target.clone();
            async move { (StatusCode::TEMPORARY_REDIRECT, [("location", target)]) }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app_router).await;
    });
    let app = TestApp::spawn(StoreKind::Memory, |c| {
        c.events.webhooks = vec![url.clone()];
        c.events.webhook_secrets = vec!["k".into()];
    })
    .await;
    app.update_location("atk-redirected", DRIVER).await;
    let sink = tracking::dispatch::delivery::webhook::sink_id(&url);
    within(Duration::from_secs(5), "two refused tries counted", async {
        while sink_series(
            &app.metrics().await,
            "tracking_event_delivery_failures_total",
            sink.as_str(),
        ) < 2.0
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(elsewhere.posts().is_empty(), "the redirect was followed");
}
