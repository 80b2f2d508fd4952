//! Single reports under load, on every store: 64 reporters at once, with
//! late and implausible reports mixed in, each get their own outcome and
//! every driver ends where its last accepted report put it (on Redis the
//! group commit gathers them into shared calls: checked from Redis's own
//! counters). And Redis paused while reports are gathered: every caller
//! gets `UNAVAILABLE` within the store's timeout, none hangs.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::json;

use crate::common::{
    error_code_of, eventually, for_each_store, north_of, outcome, StoreKind, TestApp, DRIVER,
};

for_each_store!(concurrent_reporters_each_get_their_own_outcome);

const REPORTERS: usize = 64;
const STEPS: usize = 6;
const UPDATE: &str = "mutation($d: ID!, $lat: Float!, $lng: Float!) { updateLocation(driverId: $d, lat: $lat, lng: $lng) { id status location { lat lng } } }";
const BATCH: &str = "mutation($u: [LocationUpdate!]!) { updateLocations(updates: $u) { accepted stale refused { index code } } }";

/// Reporter `i`'s own spot (each a few hundred metres from the others).
fn home(i: usize) -> (f64, f64) {
    north_of(DRIVER, 0.3 * i as f64)
}

/// What one reporter saw; panics (with the reporter named) on any answer
/// that is not its own.
async fn reporter(app: &TestApp, i: usize) -> (f64, f64) {
    let driver = format!("g{i}");
    let mut last = home(i);
    for step in 0..STEPS {
        let next = north_of(home(i), 0.01 * step as f64);
        match (i % 4, step) {
            // A jump of 50 km in a moment: refused, on its own.
            (1, 3) => {
                let far = north_of(home(i), 50.0);
                let body = app
                    .gql(UPDATE, json!({"d": driver, "lat": far.0, "lng": far.1}))
                    .await;
                assert_eq!(outcome(&body), "BAD_USER_INPUT", "{driver}: {body}");
            }
            // A report taken an hour ago: stale, ignored.
            (2, 3) => {
                let ago = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
                let body = app
                    .data(
                        BATCH,
                        json!({"u": [{"driverId": driver, "lat": 0.5, "lng": 0.5, "at": ago}]}),
                    )
                    .await;
                assert_eq!(
                    body["updateLocations"],
                    json!({"accepted": 0, "stale": 1, "refused": []}),
                    "{driver}"
                );
            }
            // A single report in a batch, taken now: accepted.
            (3, 4) => {
                let body = app
                    .data(
                        BATCH,
                        json!({"u": [{"driverId": driver, "lat": next.0, "lng": next.1}]}),
                    )
                    .await;
                assert_eq!(body["updateLocations"]["accepted"], 1, "{driver}: {body}");
                last = next;
            }
            _ => {
                let body = app
                    .data(UPDATE, json!({"d": driver, "lat": next.0, "lng": next.1}))
                    .await;
                let me = &body["updateLocation"];
                assert_eq!(me["id"], driver, "{body}");
                assert_eq!(me["status"], "AVAILABLE", "{body}");
                let lat = me["location"]["lat"].as_f64().unwrap_or(f64::NAN);
                assert!(
                    (lat - next.0).abs() < 1e-9,
                    "{driver} was answered another position: {body}"
                );
                last = next;
            }
        }
    }
    last
}

async fn concurrent_reporters_each_get_their_own_outcome(store: StoreKind) {
    let app = TestApp::spawn(store, |c| {
        c.max_update_rate = 0.0;
        c.max_speed_kmh = 300.0;
    })
    .await;
    let before = fcalls(&app).await;
    let lasts = join_all((0..REPORTERS).map(|i| reporter(&app, i))).await;
    let after = fcalls(&app).await;
    for (i, last) in lasts.into_iter().enumerate() {
        let stored = app.driver(&format!("g{i}")).await;
        let lat = stored["location"]["lat"].as_f64().unwrap_or(f64::NAN);
        assert!(
            (lat - last.0).abs() < 1e-9,
            "g{i} is not where its last accepted report put it ({last:?}): {stored}"
        );
    }
    // Gathered: fewer report calls than reports (on Redis).
    if let (Some((calls0, _)), Some((calls, reports))) = (before, after) {
        let calls = calls - calls0;
        assert!(
            calls < reports,
            "{reports} single reports took {calls} calls: nothing was gathered"
        );
    }
}

/// `update_group` calls on the app's own Redis so far, and the single
/// reports the service sent (one per report: 64 × 6 less the refused
/// jumps, which are reports too).
async fn fcalls(app: &TestApp) -> Option<(u64, u64)> {
    let redis = app.redis.as_ref()?;
    let info: String = redis.cmd(&["INFO", "commandstats"]).await;
    let calls = info
        .lines()
        .find(|l| l.starts_with("cmdstat_fcall:"))
        .and_then(|l| l.split("calls=").nth(1))
        .and_then(|v| v.split(',').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Some((calls, (REPORTERS * STEPS) as u64))
}

/// Redis paused while single reports arrive: the first call is stuck, the
/// others gather behind it. Every caller gets `UNAVAILABLE` within the
/// store's timeout (2 s) of sending, none hangs; once Redis is back,
/// reports are written again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_gathered_while_redis_is_paused_all_fail_fast() {
    let app = TestApp::spawn(StoreKind::Redis, |c| c.max_update_rate = 0.0).await;
    let redis = app.redis.clone().expect("redis");
    app.update_location("before", DRIVER).await;
    let _: () = redis.cmd(&["CLIENT", "PAUSE", "4000", "WRITE"]).await;
    let answers = join_all((0..REPORTERS).map(|i| {
        let app = &app;
        async move {
            let at = home(i);
            let sent = Instant::now();
            let body = app
                .gql(
                    UPDATE,
                    json!({"d": format!("p{i}"), "lat": at.0, "lng": at.1}),
                )
                .await;
            (i, sent.elapsed(), body)
        }
    }))
    .await;
    for (i, took, body) in answers {
        assert_eq!(error_code_of(&body), "UNAVAILABLE", "p{i}: {body}");
        assert!(
            took < Duration::from_millis(3_000),
            "p{i} waited {took:?}, past the store's timeout"
        );
    }
    eventually("reports to be written again after the pause", || async {
        let body = app
            .gql(
                UPDATE,
                json!({"d": "after", "lat": DRIVER.0, "lng": DRIVER.1}),
            )
            .await;
        body.get("errors").is_none().then_some(())
    })
    .await;
    assert_eq!(app.driver("before").await["status"], "AVAILABLE");
}
