//! What bounds WebSockets before and after their upgrade: the limits of one
//! socket, and the count of sockets still waiting for their
//! `connection_init` to be accepted.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

/// WebSocket limits.
#[derive(Debug, Clone, Copy)]
pub struct WsLimits {
    pub max_subscriptions: usize,
    pub init_timeout: Duration,
    pub keepalive: Duration,
    /// Largest message or frame, in bytes.
    pub max_message_bytes: usize,
    /// Sockets without an accepted `connection_init`, at once.
    pub max_pending_init: usize,
}

/// Sockets still waiting for their `connection_init` to be accepted.
#[derive(Debug, Default)]
pub struct PendingInit {
    count: AtomicUsize,
}

/// One socket counted as pending until its handshake is done (or it goes).
pub(super) struct Pending(Arc<PendingInit>);

impl Pending {
    pub(super) fn take(pending: &Arc<PendingInit>, max: usize) -> Option<Self> {
        pending
            .count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Self(pending.clone()))
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.0.count.fetch_sub(1, Ordering::AcqRel);
    }
}
