//! Starting the ingest: `mqtts://` against a broker whose certificate a
//! private CA signed, trusted through `--mqtt-ca` alone (the binary links
//! one rustls provider, `ring`: two would panic at the first TLS
//! connection); and the flags that stop the start with a clear message.

use test_support::{MosquittoServer, TlsFiles};

use super::helpers::{
    credentials, location, now, publish_with, service, stands_at, StoreGuard, TempDir,
};
use crate::common::{keys::certificates, ServiceProcess, StoreKind, DRIVER};

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
