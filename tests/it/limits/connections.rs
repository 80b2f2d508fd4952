//! Connections: capped (503 past the cap, exported from a fresh process),
//! slow and idle ones closed after their deadlines, a flood of idle sockets
//! survived, and SIGTERM obeyed within the grace whatever clients do.

use std::time::{Duration, Instant};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use super::setup::guarded;
use crate::common::{
    raw_ws::RawSocket, tokens::SECRET, Client, Protocol, ServiceProcess, StoreKind, Subscription,
    TestApp, PATIENCE,
};

#[tokio::test]
async fn the_connection_cap_refuses_with_503() {
    let app = TestApp::spawn(StoreKind::Memory, |c| c.max_connections = Some(2)).await;
    let _first = Subscription::connect(app.addr, Protocol::TransportWs).await;
    let _second = Subscription::connect(app.addr, Protocol::TransportWs).await;
    match RawSocket::connect(app.addr, "graphql-transport-ws", &[]).await {
        Err(head) => assert!(head.starts_with("HTTP/1.1 503"), "{head}"),
        Ok(_) => panic!("a third connection was accepted over a cap of 2"),
    }
}

/// Whether the server ends a raw TCP connection within `limit` (reads EOF
/// or a reset), ignoring whatever it sends first.
async fn closed_within(tcp: &mut TcpStream, limit: Duration) -> bool {
    tokio::time::timeout(limit, async {
        let mut buf = [0u8; 1024];
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    })
    .await
    .is_ok()
}

/// Half a request header, nothing at all, or a keep-alive connection left
/// idle: each is closed after its deadline, not held forever.
#[tokio::test]
async fn slow_and_idle_connections_are_closed_after_their_deadlines() {
    let app = guarded(|c| {
        c.header_read_timeout = Duration::from_millis(300);
        c.idle_timeout = Duration::from_millis(600);
    })
    .await;
    let started = Instant::now();
    let mut half = TcpStream::connect(app.addr).await.expect("connect");
    half.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .expect("write");
    let mut silent = TcpStream::connect(app.addr).await.expect("connect");
    assert!(
        closed_within(&mut half, PATIENCE).await,
        "half a header held"
    );
    assert!(
        closed_within(&mut silent, PATIENCE).await,
        "a silent socket held"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "closed before the deadline: {:?}",
        started.elapsed()
    );

    // Trickling a header byte by byte does not reset the deadline.
    let mut trickle = TcpStream::connect(app.addr).await.expect("connect");
    let began = Instant::now();
    let mut cut = false;
    for byte in b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: aaaaaaaaaaaaaaaaaaaa" {
        if trickle.write_all(&[*byte]).await.is_err() {
            cut = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        if began.elapsed() > Duration::from_secs(5) {
            break;
        }
    }
    assert!(cut || closed_within(&mut trickle, Duration::from_secs(1)).await);
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "trickling held the socket"
    );

    // A keep-alive connection: served, then closed once idle.
    let mut kept = TcpStream::connect(app.addr).await.expect("connect");
    kept.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut buf = vec![0u8; 4096];
    let n = kept.read(&mut buf).await.expect("response");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let idle_from = Instant::now();
    assert!(
        closed_within(&mut kept, PATIENCE).await,
        "an idle keep-alive connection held"
    );
    assert!(
        idle_from.elapsed() >= Duration::from_millis(500),
        "{:?}",
        idle_from.elapsed()
    );
}

/// Under an open-file limit of 256 and 300 sockets that send nothing, the
/// service never fails to accept and `/health` keeps answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_idle_sockets_cannot_take_the_service_down() {
    let service = ServiceProcess::start_with_fd_limit(256, &["--jwt-secret", SECRET]);
    let mut idle = Vec::new();
    for _ in 0..300 {
        // Past cap and overflow, connections wait in the backlog: fine.
        match tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(service.addr))
            .await
        {
            Ok(Ok(tcp)) => idle.push(tcp),
            _ => break,
        }
    }
    let log = service.log.clone();
    let started = Instant::now();
    // Health checks still answer (on the overflow when the cap is full, or
    // as soon as the header deadline frees slots).
    let (status, body) = Client::new(service.addr, None).get("/health").await;
    assert_eq!(status, 200, "{body}");
    // Behind a hundred silent sockets queued past the cap, the health check
    // gets its turn within seconds, not when the attacker lets go.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let text = log.lock().expect("log").text();
    assert!(!text.contains("accept failed"), "accept failed:\n{text}");
    assert!(
        text.contains("connection cap"),
        "the cap is logged:\n{text}"
    );
    drop(idle);
}

/// The cap is exported from a fresh process (in-process tests share one
/// recorder, installed by whichever test ran first, so only a process of
/// its own shows a gauge set before the recorder existed: this one was).
#[tokio::test]
async fn a_fresh_process_exports_its_connection_cap() {
    let service = ServiceProcess::start(&["--max-connections", "50", "--jwt-secret", SECRET]);
    let (status, text) = Client::new(service.addr, None).get("/metrics").await;
    assert_eq!(status, 200);
    assert!(
        text.lines().any(|l| l == "tracking_connections_max 50"),
        "the cap in /metrics:\n{text}"
    );
}

/// SIGTERM with clients that would hold it open (a request body that never
/// finishes, a WebSocket that never reads): the process exits 0 within the
/// grace period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_exits_within_the_grace_whatever_clients_do() {
    let mut service = ServiceProcess::start(&["--shutdown-grace", "1s"]);
    let mut stuck = TcpStream::connect(service.addr).await.expect("connect");
    stuck
        .write_all(b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"query\":")
        .await
        .expect("write");
    let _socket = RawSocket::initialised(service.addr, None).await;
    // Let the request reach the handler (which now waits for its body).
    let client = Client::new(service.addr, None);
    assert_eq!(client.get("/health").await.0, 200);
    let signalled = Instant::now();
    service.terminate();
    let status = service
        .wait(Duration::from_secs(5))
        .expect("the service to exit within the grace (1 s) and a little");
    assert!(status.success(), "{status}");
    assert!(
        signalled.elapsed() < Duration::from_secs(4),
        "{:?}",
        signalled.elapsed()
    );
    drop(stuck);
}
