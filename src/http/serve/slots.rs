//! The count of open connections: one slot per socket, given back when the
//! socket closes, with a signal the accept loop waits on at the cap.

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};

use tokio::sync::Notify;

use crate::telemetry;

/// Open connections, and a signal when one closes.
#[derive(Debug, Default)]
pub(super) struct Slots {
    pub open: AtomicUsize,
    pub freed: Notify,
}

/// One counted connection; the count drops when the socket does.
#[derive(Debug)]
pub(super) struct Slot(Arc<Slots>);

impl Slot {
    pub(super) fn new(slots: &Arc<Slots>) -> Self {
        slots.open.fetch_add(1, Ordering::AcqRel);
        metrics::gauge!(telemetry::CONNECTIONS).increment(1.0);
        Self(slots.clone())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
        metrics::gauge!(telemetry::CONNECTIONS).decrement(1.0);
        self.0.freed.notify_one();
    }
}
