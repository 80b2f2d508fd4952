//! Starting the ingest: `mqtts://` against a broker whose certificate a
//! private CA signed, trusted through `--mqtt-ca` alone (the binary links
//! one rustls provider, `ring`: two would panic at the first TLS
//! connection); the flags that stop the start with a clear message; a
//! broker down at start (ready all the same); stopping with the service.

use test_support::{MosquittoServer, TlsFiles};

use super::helpers::{
    credentials, location, now, publish_with, service, stands_at, subscribed, StoreGuard, TempDir,
};
use crate::common::{
    eventually, free_port, keys::certificates, ServiceProcess, StoreKind, TestApp, DRIVER, PATIENCE,
};

/// `mqtts://` with `--mqtt-ca`: the service connects over TLS, subscribes
/// and applies a location published over TLS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtts_with_a_private_ca_subscribes_and_reports() {
    let dir = TempDir::new("tls");
    certificates(&dir.0);
    let broker = MosquittoServer::start_tls(TlsFiles {
        cert: dir.path("server.crt"),
        key: dir.path("server.key"),
    })
    .await;
    let file = credentials(&dir, &[("erin", "phone", "d-5")]);
    let ca = dir.path("ca.crt").display().to_string();
    let url = format!("mqtts://127.0.0.1:{}", broker.port());
    let store = StoreGuard::start(StoreKind::Memory).await;
    let (_process, app) = service(&store, &url, &file, &["--mqtt-ca", &ca]).await;

    let payload = location(DRIVER, now() - 5);
    publish_with(
        broker.port(),
        "owntracks/erin/phone",
        &payload,
        &["--cafile", &ca],
    )
    .await;
    stands_at(&app, "d-5", DRIVER).await;
}

/// `--mqtt-url` without `--device-credentials`, a topic without its two
/// `+` levels and a password given twice each stop the start, saying why
/// (and never echoing the password).
#[test]
fn bad_mqtt_flags_stop_the_start() {
    let dir = TempDir::new("flags");
    let file = credentials(&dir, &[("f", "phone", "d-6")]);
    let file = file.to_str().expect("a path");
    let cases: [(&[&str], &str); 3] = [
        (
            &["--mqtt-url", "mqtt://127.0.0.1:1"],
            "--device-credentials",
        ),
        (
            &[
                "--mqtt-url",
                "mqtt://127.0.0.1:1",
                "--device-credentials",
                file,
                "--mqtt-topic",
                "owntracks/#",
            ],
            "--mqtt-topic",
        ),
        (
            &[
                "--mqtt-url",
                "mqtt://u:hunter22@127.0.0.1:1",
                "--mqtt-password",
                "other",
                "--device-credentials",
                file,
            ],
            "password is given twice",
        ),
    ];
    for (args, says) in cases {
        let (ok, stderr) = ServiceProcess::run_to_exit(args);
        assert!(!ok, "{args:?} started");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("hunter22"),
            "the password echoed: {stderr}"
        );
    }
}

/// A broker that does not answer stops nothing: the service starts, is
/// ready (reports over HTTP go on), and says `tracking_mqtt_connected 0`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_down_does_not_fail_ready() {
    let dir = TempDir::new("down");
    let file = credentials(&dir, &[("g", "phone", "d-7")]);
    let url = format!("mqtt://127.0.0.1:{}", free_port());
    let file = file.to_str().expect("a path");
    let process = ServiceProcess::start(&["--mqtt-url", &url, "--device-credentials", file]);
    let app = TestApp::attach(process.addr);
    let (status, _) = app.get("/ready").await;
    assert_eq!(status, 200, "/ready with the broker down");
    subscribed(&app, false).await;
    eventually("the failed connection logged", || async {
        process
            .log
            .lock()
            .unwrap()
            .contains("MQTT connection lost or refused")
            .then_some(())
    })
    .await;
    app.update_location("d-7", DRIVER).await;
    stands_at(&app, "d-7", DRIVER).await;
}

/// SIGTERM stops the ingest with the service: it disconnects and the
/// process exits within its grace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ingest_stops_with_the_service() {
    let broker = MosquittoServer::start().await;
    let dir = TempDir::new("stop");
    let file = credentials(&dir, &[("h", "phone", "d-8")]);
    let store = StoreGuard::start(StoreKind::Memory).await;
    let (mut process, _app) = service(&store, &broker.url(), &file, &[]).await;
    process.terminate();
    let status = process.wait(PATIENCE).expect("the service to exit");
    assert!(status.success(), "{status}");
    let log = process.log.lock().unwrap().text();
    assert!(log.contains("MQTT ingest stopped"), "{log}");
}
