//! One HTTP connection: served by hyper with a timer, its activity tracked
//! so that idle and slow connections are closed at their deadlines, its
//! slot held (through a WebSocket upgrade) until the socket closes.

use std::{
    io,
    pin::Pin,
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc,
    },
    task::{Context, Poll},
    time::Duration,
};

use axum::{body::Body, Router};
use http_body::{Frame, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
    time::Instant,
};
use tokio_util::sync::CancellationToken;
use tower_service::Service;
use tracing::debug;

use super::slots::Slot;

/// What a connection is doing, for its deadlines. Times are milliseconds
/// since the connection opened.
#[derive(Debug)]
pub(super) struct Activity {
    opened: Instant,
    in_flight: AtomicUsize,
    served: AtomicU64,
    idle_since: AtomicU64,
    /// When the first byte of the next request arrived (`NONE`: not yet).
    first_byte: AtomicU64,
}

const NONE: u64 = u64::MAX;

impl Activity {
    pub(super) fn new() -> Self {
        Self {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            served: AtomicU64::new(0),
            idle_since: AtomicU64::new(0),
            first_byte: AtomicU64::new(NONE),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(NONE - 1)
    }

    fn bytes_read(&self) {
        if self.in_flight.load(Ordering::Acquire) == 0 {
            let now = self.now_ms();
            let _ =
                self.first_byte
                    .compare_exchange(NONE, now, Ordering::AcqRel, Ordering::Acquire);
        }
    }

    fn request_started(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.first_byte.store(NONE, Ordering::Release);
        InFlight(self.clone())
    }

    /// When this connection must have done something by, if it is idle.
    fn deadline(&self, limits: &ConnLimits) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let ms = |at: u64, after: Duration| self.opened + Duration::from_millis(at) + after;
        let first_byte = self.first_byte.load(Ordering::Acquire);
        Some(if first_byte != NONE {
            ms(first_byte, limits.header)
        } else if self.served.load(Ordering::Acquire) == 0 {
            ms(0, limits.header)
        } else {
            ms(self.idle_since.load(Ordering::Acquire), limits.idle)
        })
    }
}

/// A request (and its response body) in flight; the connection is idle
/// again when the last one drops.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let now = self.0.now_ms();
        self.0.served.fetch_add(1, Ordering::AcqRel);
        self.0.idle_since.store(now, Ordering::Release);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request counted as in flight until it is
/// sent (or dropped): long streams are not idle.
struct Tracked {
    body: Body,
    _in_flight: InFlight,
}

impl http_body::Body for Tracked {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The TCP stream, its slot (held until the socket closes, upgrades
/// included) and the activity its reads report to.
pub(super) struct Conn {
    pub tcp: TcpStream,
    /// Held, never read: the slot frees when the socket is dropped.
    #[allow(dead_code)]
    pub slot: Slot,
    pub activity: Arc<Activity>,
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.tcp).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.bytes_read();
        }
        polled
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) struct ConnLimits {
    pub header: Duration,
    pub idle: Duration,
    pub keep_alive: bool,
}

/// Serves one connection until it ends, idles past its deadline, or the
/// grace period is over.
pub(super) async fn connection(
    io: Conn,
    app: Router,
    activity: Arc<Activity>,
    limits: ConnLimits,
    closing: CancellationToken,
    cut: CancellationToken,
) {
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            let in_flight = activity.request_started();
            let mut app = app.clone();
            async move {
                let response = app.call(request.map(Body::new)).await?;
                Ok::<_, std::convert::Infallible>(response.map(|body| Tracked {
                    body,
                    _in_flight: in_flight,
                }))
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        // Our own deadlines (below) decide; hyper's would close idle
        // keep-alive connections after its default 30 s.
        .header_read_timeout(None)
        .keep_alive(limits.keep_alive);
    let conn = builder
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(conn);
    let mut graceful = false;
    loop {
        let deadline = activity.deadline(&limits);
        let idle_check = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            done = conn.as_mut() => {
                if let Err(error) = done {
                    debug!(%error, "connection ended with an error");
                }
                return;
            }
            _ = idle_check => {
                // Still idle at the deadline (a request may have started).
                if activity.deadline(&limits).is_some_and(|at| at <= Instant::now()) {
                    debug!("closing an idle or slow connection");
                    return;
                }
            }
            _ = closing.cancelled(), if !graceful => {
                graceful = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = cut.cancelled() => return,
        }
    }
}
