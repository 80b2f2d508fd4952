//! The accept loop: every TCP connection the service holds is counted,
//! bounded in time, and ended on shutdown.
//!
//! `axum::serve` gives hyper no timer (so its header-read timeout never
//! fires), has no idle timeout, and accepts until the process runs out of
//! file descriptors. This loop serves HTTP/1 through hyper's connection
//! builder with a timer, and adds what a public service needs:
//!
//! - **A cap on open connections** below the process's open-file limit
//!   ([`connection_cap`]), counting HTTP, WebSocket and streaming
//!   connections together: the slot travels with the socket, through a
//!   WebSocket upgrade, until the socket closes. Past the cap a small
//!   overflow is still accepted and served `/health`, `/ready` and
//!   `/metrics` only (everything else: 503, connection closed), so `accept`
//!   never fails with "too many open files" and liveness probes still
//!   answer; past the overflow, accepting waits for a slot.
//! - **Deadlines on idle sockets**: a connection must complete a request
//!   header within `header_read_timeout` of opening, or of its first byte
//!   when it is between requests (slow clients sending half a header), and
//!   a keep-alive connection idle for `idle_timeout` is closed.
//! - **Shutdown within a grace period**: accepting stops, idle connections
//!   close, in-flight requests finish; whatever is still open after
//!   `shutdown_grace` is cut.

mod connection;
mod slots;

use std::{
    future::Future,
    io,
    sync::{atomic::Ordering, Arc},
    time::Duration,
};

use axum::Router;
use tokio::net::TcpListener;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::{info, warn};

use crate::telemetry;
use connection::{connection, Activity, Conn, ConnLimits};
use slots::{Slot, Slots};

/// Descriptors kept for what is not a client connection (listener, Redis,
/// epoll, logs, token-key fetches).
const RESERVED_FDS: usize = 64;
/// Connections accepted past the cap, to answer health checks and say 503.
pub const OVERFLOW: usize = 32;
/// Header deadline on an overflow connection: short, so that a flood of
/// silent sockets queued behind the cap drains quickly and a health check
/// gets its turn.
const OVERFLOW_HEADER_TIMEOUT: Duration = Duration::from_millis(500);

/// How the accept loop bounds connections.
#[derive(Debug, Clone, Copy)]
pub struct ServeLimits {
    /// Connections served normally at once.
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub shutdown_grace: Duration,
}

/// The connection cap: the open-file limit (raised to its hard limit where
/// allowed) less what the process needs besides client connections, or
/// `configured` if that is lower. Returns the cap and how it was reached.
pub fn connection_cap(configured: Option<usize>) -> (usize, String) {
    let limit = open_file_limit();
    let room = limit.saturating_sub(RESERVED_FDS + OVERFLOW).max(1);
    match configured {
        Some(n) if n <= room => (
            n.max(1),
            format!("--max-connections {n} (open-file limit {limit})"),
        ),
        Some(n) => (
            room,
            format!(
                "{room}: --max-connections {n} is above the open-file limit {limit} less {} reserved",
                RESERVED_FDS + OVERFLOW
            ),
        ),
        None => (
            room,
            format!(
                "{room}: the open-file limit {limit} less {} reserved",
                RESERVED_FDS + OVERFLOW
            ),
        ),
    }
}

/// The soft open-file limit, first raised to the hard limit where allowed.
fn open_file_limit() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX)
}

/// What the accept loop serves, and the signals it shares with the rest of
/// the service.
pub struct Served {
    /// The service's routes.
    pub router: Router,
    /// What connections past the cap get.
    pub overflow: Router,
    pub limits: ServeLimits,
    /// Cancelled when shutdown begins (WebSockets and streams end on it).
    pub closing: CancellationToken,
    /// Cancelled when the grace period is over.
    pub cut: CancellationToken,
    /// Tasks outside the connections (upgraded WebSockets) shutdown also
    /// waits for.
    pub also_wait_for: TaskTracker,
}

/// Serves on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    served: Served,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let Served {
        router,
        overflow,
        limits,
        closing,
        cut,
        also_wait_for,
    } = served;
    let slots = Arc::new(Slots::default());
    let connections = TaskTracker::new();
    let normal = ConnLimits {
        header: limits.header_read_timeout,
        idle: limits.idle_timeout,
        keep_alive: true,
    };
    let squeezed = ConnLimits {
        header: limits.header_read_timeout.min(OVERFLOW_HEADER_TIMEOUT),
        idle: Duration::ZERO,
        keep_alive: false,
    };
    tokio::pin!(shutdown);
    loop {
        // Past cap and overflow: wait for a slot rather than accept.
        while slots.open.load(Ordering::Acquire) >= limits.max_connections + OVERFLOW {
            tokio::select! {
                _ = slots.freed.notified() => {}
                _ = &mut shutdown => return finish(connections, also_wait_for, limits, closing, cut).await,
            }
        }
        let (tcp, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors or memory for a moment: back off
                    // instead of spinning.
                    warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        // No Nagle: a WebSocket answer is often two small writes (`next`,
        // then `complete`), and Nagle holding the second costs up to 40 ms.
        let _ = tcp.set_nodelay(true);
        let within_cap = slots.open.load(Ordering::Acquire) < limits.max_connections;
        let (app, conn_limits) = if within_cap {
            (router.clone(), normal)
        } else {
            metrics::counter!(telemetry::CONNECTIONS_OVERFLOW).increment(1);
            (overflow.clone(), squeezed)
        };
        let activity = Arc::new(Activity::new());
        let io = Conn {
            tcp,
            slot: Slot::new(&slots),
            activity: activity.clone(),
        };
        connections.spawn(connection(
            io,
            app,
            activity,
            conn_limits,
            closing.clone(),
            cut.clone(),
        ));
    }
    finish(connections, also_wait_for, limits, closing, cut).await
}

/// Stops everything within the grace period.
async fn finish(
    connections: TaskTracker,
    also_wait_for: TaskTracker,
    limits: ServeLimits,
    closing: CancellationToken,
    cut: CancellationToken,
) -> io::Result<()> {
    closing.cancel();
    connections.close();
    also_wait_for.close();
    let drained = tokio::time::timeout(limits.shutdown_grace, async {
        connections.wait().await;
        also_wait_for.wait().await;
    })
    .await;
    if drained.is_err() {
        warn!(
            connections = connections.len(),
            sockets = also_wait_for.len(),
            grace = ?limits.shutdown_grace,
            "shutdown grace over; cutting what is still open"
        );
        cut.cancel();
        // Everything selects on `cut`: this is immediate.
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            connections.wait().await;
            also_wait_for.wait().await;
        })
        .await;
    }
    Ok(())
}

/// Logs the cap once, at start, and exports it.
pub fn announce(limits: &ServeLimits, how: &str) {
    metrics::gauge!(telemetry::CONNECTIONS_MAX).set(limits.max_connections as f64);
    info!(
        max_connections = limits.max_connections,
        overflow = OVERFLOW,
        "connection cap {how}"
    );
}
