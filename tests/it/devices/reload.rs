//! The credentials file re-read on SIGHUP by the real binary (a new device
//! works, a removed one is refused, a bad file keeps the set), and the
//! failed-attempt limit of HTTP Basic.

use std::path::Path;

use reqwest::Method;
use serde_json::json;

use super::setup::*;
use crate::common::{eventually, process::signal, Client, ServiceProcess, StoreKind};

fn write(path: &Path, entries: serde_json::Value) {
    std::fs::write(path, json!({ "devices": entries }).to_string()).expect("rewrite the file");
}

/// A Traccar report for `id`, taken now: its status.
async fn report(client: &Client, id: &str, lat: f64) -> u16 {
    let query = format!(
        "/osmand?id={id}&lat={lat}&lon=4.89&timestamp={}",
        chrono::Utc::now().timestamp_millis()
    );
    client.raw(Method::GET, &query, &[], None).await.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_rereads_the_credentials_and_a_bad_file_keeps_them() {
    let file = credentials_file("sighup", json!([{"user": "dev-old", "driver": "d-1"}]));
    let service = ServiceProcess::start(&[
        "--device-credentials",
        file.to_str().expect("a UTF-8 path"),
        "--max-update-rate",
        "0",
        "--max-speed-kmh",
        "0",
    ]);
    let client = Client::new(service.addr, None);
    assert_eq!(report(&client, "dev-old", 52.1).await, 200);
    assert_eq!(report(&client, "dev-new", 52.1).await, 401);

    write(&file, json!([{"user": "dev-new", "driver": "d-2"}]));
    signal(service.pid(), libc::SIGHUP);
    eventually("the new device to be known after SIGHUP", || async {
        (report(&client, "dev-new", 52.2).await == 200).then_some(())
    })
    .await;
    assert_eq!(report(&client, "dev-old", 52.2).await, 401, "removed");

    std::fs::write(&file, "{\"devices\": [{\"user\": \"\"}]}").expect("a bad file");
    signal(service.pid(), libc::SIGHUP);
    eventually("the bad file to be refused in the log", || async {
        let log = service.log.lock().expect("log");
        log.contains("device credentials kept as they were")
            .then_some(())
    })
    .await;
    assert_eq!(report(&client, "dev-new", 52.3).await, 200, "the set kept");
    service.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_attempts_lock_the_user_out_for_a_while() {
    let app = device_app(StoreKind::Memory, "lockout").await;
    let body = location(48.8, 2.3, now() - 5);
    for attempt in 1..=5 {
        let (status, _, _) = owntracks(&app, Some(&basic("alice", "guess")), &body).await;
        assert_eq!(status, 401, "attempt {attempt}");
    }
    let (status, _, answer) = owntracks(&app, Some(&basic("alice", PASSWORD)), &body).await;
    assert_eq!(
        status, 429,
        "the right password, after five wrong: {answer}"
    );
    assert_eq!(position(&app, "d-alice").await, None);
}
