//! The ingest's workers: a fixed set of lanes, each a task with a bounded
//! queue, a message going to the lane its topic hashes to (so one device's
//! messages are handled in the order the broker sent them, while other
//! devices' go on in parallel); and the acknowledger, which sends each QoS
//! 1 message's PUBACK once it is handled, in the order the messages came.
//!
//! Bounds: [`LANES`] × [`LANE_QUEUE`] messages wait at most; when a lane is
//! full the event loop waits for it (the broker holds the rest: it sends
//! no more unacknowledged messages than the receive maximum we give it).

use std::{
    hash::{Hash, Hasher},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
};

use rumqttc::v5::{mqttbytes::v5::Publish, mqttbytes::QoS, AsyncClient};
use tokio::sync::{mpsc, oneshot};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::report::Reporter;

/// Worker lanes.
pub const LANES: usize = 8;
/// Messages waiting in one lane.
pub const LANE_QUEUE: usize = 32;

/// A message for a lane, and whom to tell when it is handled.
struct Job {
    publish: Publish,
    done: Option<oneshot::Sender<()>>,
}

/// A QoS 1 message waiting for its PUBACK: sent once `done` fires, if the
/// connection it came on (`generation`) is still the current one (after a
/// reconnection the broker sends it again).
struct PendingAck {
    generation: u64,
    publish: Publish,
    done: oneshot::Receiver<()>,
}

/// The lanes and the acknowledger, as the event loop hands them messages.
pub struct Lanes {
    lanes: Vec<mpsc::Sender<Job>>,
    acks: mpsc::Sender<PendingAck>,
    generation: Arc<AtomicU64>,
}

impl Lanes {
    /// Starts the lanes and the acknowledger on `tasks`; `pending_acks`
    /// bounds the messages awaiting their PUBACK (at least the receive
    /// maximum the broker was given). The lanes end once every queued
    /// message is handled after the `Lanes` is dropped; the acknowledger
    /// ends then too, or at `cancel`.
    pub fn start(
        reporter: Reporter,
        client: AsyncClient,
        pending_acks: usize,
        tasks: &TaskTracker,
        cancel: CancellationToken,
    ) -> Self {
        let generation = Arc::new(AtomicU64::new(0));
        let lanes = (0..LANES)
            .map(|_| {
                let (tx, rx) = mpsc::channel(LANE_QUEUE);
                tasks.spawn(lane(reporter.clone(), rx));
                tx
            })
            .collect();
        let (acks, pending) = mpsc::channel(pending_acks.max(1));
        tasks.spawn(acknowledge(client, pending, generation.clone(), cancel));
        Self {
            lanes,
            acks,
            generation,
        }
    }

    /// A new connection: acknowledgements of messages the last one brought
    /// are no longer sent.
    pub fn reconnected(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Hands `publish` to its lane, waiting while the lane is full.
    pub async fn dispatch(&self, publish: Publish) {
        let lane = &self.lanes[lane_of(&publish.topic)];
        let done = if publish.qos == QoS::AtMostOnce {
            None
        } else {
            let (tx, rx) = oneshot::channel();
            let pending = PendingAck {
                generation: self.generation.load(Ordering::Acquire),
                publish: publish.clone(),
                done: rx,
            };
            if self.acks.send(pending).await.is_err() {
                return;
            }
            Some(tx)
        };
        let _ = lane.send(Job { publish, done }).await;
    }
}

/// The lane of a topic.
fn lane_of(topic: &[u8]) -> usize {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    topic.hash(&mut hasher);
    usize::try_from(hasher.finish() % LANES as u64).unwrap_or(0)
}

/// One lane: its messages, one after the other.
async fn lane(reporter: Reporter, mut jobs: mpsc::Receiver<Job>) {
    while let Some(job) = jobs.recv().await {
        reporter
            .handle(&job.publish.topic, &job.publish.payload)
            .await;
        if let Some(done) = job.done {
            let _ = done.send(());
        }
    }
}

/// Sends PUBACKs in the order the messages arrived, each once handled.
async fn acknowledge(
    client: AsyncClient,
    mut pending: mpsc::Receiver<PendingAck>,
    generation: Arc<AtomicU64>,
    cancel: CancellationToken,
) {
    loop {
        let next = tokio::select! {
            _ = cancel.cancelled() => return,
            next = pending.recv() => next,
        };
        let Some(ack) = next else { return };
        let handled = tokio::select! {
            _ = cancel.cancelled() => return,
            handled = ack.done => handled.is_ok(),
        };
        if handled && ack.generation == generation.load(Ordering::Acquire) {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = client.ack(&ack.publish) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_topic_always_goes_to_the_same_lane() {
        let lanes: std::collections::HashSet<usize> = (0..200)
            .map(|n| lane_of(format!("owntracks/u{n}/phone").as_bytes()))
            .collect();
        assert!(lanes.len() > LANES / 2, "topics spread over the lanes");
        assert_eq!(lane_of(b"owntracks/a/b"), lane_of(b"owntracks/a/b"));
    }
}
