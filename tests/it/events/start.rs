//! A webhook the service cannot use stops the start with one line naming
//! it: a malformed URL, no secret to sign with, an unknown event type, too
//! many webhooks. An unreachable one does not.

use serde_json::json;

use crate::common::{
    areas::{areas_file, two_cities},
    eventually, free_port, ServiceProcess, StoreKind, TestApp,
};

fn refused(args: &[&str], expected: &str) {
    let (ok, stderr) = ServiceProcess::run_to_exit(args);
    assert!(!ok, "{args:?}: must not start");
    assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
    assert!(stderr.contains(expected), "{args:?}: {stderr}");
}

#[test]
fn a_webhook_the_service_cannot_use_stops_the_start_in_one_line() {
    refused(
        &["--webhook", "ftp://example.com/x", "--webhook-secret", "s"],
        "http:// or https://",
    );
    refused(
        &["--webhook", "not a url", "--webhook-secret", "s"],
        "not a URL",
    );
    refused(&["--webhook", "http://127.0.0.1:9/x"], "--webhook-secret");
    refused(
        &[
            "--webhook",
            "http://127.0.0.1:9/x",
            "--webhook-secret",
            "s",
            "--webhook-types",
            "RIDE_COMPLETED,RIDE_EXPLODED",
        ],
        "RIDE_EXPLODED",
    );
    let many: Vec<String> = (0..17).map(|i| format!("http://127.0.0.1:9/{i}")).collect();
    let mut args = vec!["--webhook-secret", "s"];
    for url in &many {
        args.extend(["--webhook", url.as_str()]);
    }
    refused(&args, "at most 16");
}

#[test]
fn an_areas_malformed_webhook_stops_the_start_naming_it() {
    let mut areas = two_cities();
    areas["features"][1]["properties"]["webhooks"] = json!(["ftp://example.com/x"]);
    let path = areas_file("events-bad-webhook", &areas);
    refused(
        &["--areas", path.to_str().unwrap(), "--webhook-secret", "s"],
        "http:// or https://",
    );
    areas["features"][1]["properties"]["webhooks"] = json!("http://example.com/x");
    let path = areas_file("events-webhooks-not-a-list", &areas);
    refused(
        &["--areas", path.to_str().unwrap()],
        "array of at most 16 URLs",
    );
}

/// An unreachable receiver at start: the service starts, serves and stays
/// ready; the failures are counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_webhook_does_not_stop_the_start() {
    let url = format!("http://127.0.0.1:{}/hook", free_port());
    let app = TestApp::spawn(StoreKind::Memory, |c| {
        c.events.webhooks = vec![url.clone()];
        c.events.webhook_secrets = vec!["s".into()];
    })
    .await;
    app.update_location("unreachable-d1", crate::common::DRIVER)
        .await;
    let sink = tracking::dispatch::delivery::webhook::sink_id(&url);
    eventually("a refused connection counted as a failure", || async {
        let metrics = app.metrics().await;
        metrics
            .lines()
            .any(|l| {
                l.starts_with("tracking_event_delivery_failures_total{")
                    && l.contains(&format!("sink=\"{sink}\""))
            })
            .then_some(())
    })
    .await;
    let (status, _) = app.get("/ready").await;
    assert_eq!(status, 200);
}
