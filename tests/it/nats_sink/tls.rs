//! The NATS sink over TLS: `tls://` with `--nats-ca` as the only root.

use std::{path::Path, time::Duration};

use async_nats::jetstream;
use test_support::NatsServer;
use tracking::{
    dispatch::delivery::{NatsSettings, NatsSink, Sink, SinkError},
    domain::{AreaId, EventType},
};

use super::helpers::{create_stream, event, read_all};
use crate::common::{keys::certificates, within, PATIENCE};

fn settings(url: &str, ca: &Path) -> NatsSettings {
    NatsSettings {
        servers: NatsSettings::parse_servers(url).expect("a NATS URL"),
        creds: None,
        ca: Some(ca.to_path_buf()),
        publish_timeout: Duration::from_secs(2),
        retry_horizon: Duration::from_secs(65),
    }
}

/// A server whose certificate the CA signed takes the batch; the same
/// server checked against another CA is refused (a retry, never a
/// publish in the clear).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_server_is_trusted_through_nats_ca_only() {
    let dir = std::env::temp_dir().join(format!("tracking-nats-tls-{}", std::process::id()));
    let other = dir.join("other");
    std::fs::create_dir_all(&other).expect("temp dirs");
    certificates(&dir);
    certificates(&other);
    let cert = dir.join("server.crt");
    let key = dir.join("server.key");
    let server = NatsServer::start_with(&[
        "--tls",
        "--tlscert",
        cert.to_str().expect("a path"),
        "--tlskey",
        key.to_str().expect("a path"),
    ])
    .await;
    let client = within(
        PATIENCE,
        "a TLS connection",
        async_nats::ConnectOptions::new()
            .add_root_certificates(dir.join("ca.crt"))
            .require_tls(true)
            .connect(server.tls_url()),
    )
    .await
    .expect("connect over TLS");
    let js = jetstream::new(client);
    create_stream(&js, "tracking.>", Duration::from_secs(120)).await;
    let area = AreaId::parse("default").expect("an area");
    let events = [event("default", 1, EventType::RideRequested)];

    let trusting = NatsSink::connect(&settings(&server.tls_url(), &dir.join("ca.crt")))
        .await
        .expect("the sink set up");
    within(PATIENCE, "a batch over TLS", async {
        // The client's first connection is made in the background.
        loop {
            match trusting.send(&area, &events).await {
                Ok(()) => return,
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    })
    .await;
    assert_eq!(read_all(&js).await.len(), 1);

    let distrusting = NatsSink::connect(&settings(&server.tls_url(), &other.join("ca.crt")))
        .await
        .expect("the sink set up");
    let refused = within(
        PATIENCE,
        "a send to an untrusted server",
        distrusting.send(&area, &[event("default", 2, EventType::RideRequested)]),
    )
    .await;
    assert!(matches!(refused, Err(SinkError::Retry(_))), "{refused:?}");
    assert_eq!(read_all(&js).await.len(), 1, "nothing published");
    let _ = std::fs::remove_dir_all(&dir);
}
