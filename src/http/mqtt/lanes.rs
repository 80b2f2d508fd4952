//! The ingest's workers: a fixed set of lanes, each a task with a bounded
//! queue, a message going to the lane its topic hashes to, so one device's
//! messages are handled in the order the broker sent them while other
//! devices' go on in parallel.
//!
//! Bounds: [`LANES`] × [`LANE_QUEUE`] messages wait at most; when a lane is
//! full the event loop waits for it and reads no more (the broker holds the
//! rest). The lanes never wait for the event loop, so that wait ends.
//!
//! QoS 1 messages are acknowledged on receipt (rumqttc's own PUBACK), not
//! once handled: acknowledging after handling means sending the PUBACKs
//! through the same event loop that waits for the lanes, and a broker that
//! sends more unacknowledged messages than the receive maximum we give it
//! (Mosquitto 2.0 did, in the benchmark) then stalls it. What a crash can
//! lose is what the lanes hold: positions the phones replace within
//! seconds.

use std::hash::{Hash, Hasher};

use rumqttc::v5::mqttbytes::v5::Publish;
use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;

use super::report::Reporter;

/// Worker lanes.
pub const LANES: usize = 8;
/// Messages waiting in one lane.
pub const LANE_QUEUE: usize = 32;

/// The lanes, as the event loop hands them messages.
pub struct Lanes {
    lanes: Vec<mpsc::Sender<Publish>>,
}

impl Lanes {
    /// Starts the lanes on `tasks`; they end once every queued message is
    /// handled after the `Lanes` is dropped.
    pub fn start(reporter: Reporter, tasks: &TaskTracker) -> Self {
        let lanes = (0..LANES)
            .map(|_| {
                let (tx, rx) = mpsc::channel(LANE_QUEUE);
                tasks.spawn(lane(reporter.clone(), rx));
                tx
            })
            .collect();
        Self { lanes }
    }

    /// Hands `publish` to its lane, waiting while the lane is full.
    pub async fn dispatch(&self, publish: Publish) {
        let lane = &self.lanes[lane_of(&publish.topic)];
        let _ = lane.send(publish).await;
    }
}

/// The lane of a topic.
fn lane_of(topic: &[u8]) -> usize {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    topic.hash(&mut hasher);
    usize::try_from(hasher.finish() % LANES as u64).unwrap_or(0)
}

/// One lane: its messages, one after the other.
async fn lane(reporter: Reporter, mut messages: mpsc::Receiver<Publish>) {
    while let Some(publish) = messages.recv().await {
        reporter.handle(&publish.topic, &publish.payload).await;
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
