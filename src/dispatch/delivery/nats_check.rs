//! The NATS sink's start-up check: is there a JetStream stream for every
//! subject the service publishes to, and does its `duplicate_window` cover
//! the retry horizon? Warned (one line), never fatal: the operator owns the
//! streams, and a publish no stream takes is refused and retried.

use std::time::Duration;

use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use super::nats::{subject, NatsSink};
use crate::domain::{AreaId, EventType};

/// Most streams read from the server for the check.
const MAX_STREAMS: usize = 1_000;

/// What the check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamCheck {
    /// Every subject is taken by a stream whose window is long enough.
    Covered { streams: Vec<String> },
    /// No stream takes `subject` (publishes there fail and are retried).
    Missing { subject: String, uncovered: usize },
    /// The stream takes the subjects, but keeps message ids for less than
    /// the retry horizon: a late retry may be stored twice.
    ShortWindow {
        stream: String,
        window: Duration,
        horizon: Duration,
    },
    /// The server could not be asked (not reachable yet, no JetStream).
    Unreachable(String),
}

impl StreamCheck {
    /// Logs what was found: a warning for anything but `Covered`.
    pub fn log(&self) {
        match self {
            Self::Covered { streams } => {
                tracing::info!(?streams, "NATS JetStream streams take every event subject")
            }
            Self::Missing { subject, uncovered } => tracing::warn!(
                subject,
                uncovered,
                "no NATS JetStream stream takes the event subjects (tracking.>): \
                 events wait in the log until one does"
            ),
            Self::ShortWindow {
                stream,
                window,
                horizon,
            } => tracing::warn!(
                stream,
                ?window,
                ?horizon,
                "the NATS JetStream stream's duplicate_window is shorter than the retry \
                 horizon: an event retried later than the window may be stored twice"
            ),
            Self::Unreachable(error) => {
                tracing::warn!(%error, "cannot check the NATS JetStream streams yet")
            }
        }
    }
}

/// NATS subject matching: `*` is one token, `>` the rest (one or more).
fn matches(pattern: &str, subject: &str) -> bool {
    let mut tokens = subject.split('.');
    for want in pattern.split('.') {
        match (want, tokens.next()) {
            (">", Some(_)) => return true,
            ("*", Some(_)) => {}
            (want, Some(token)) if want == token => {}
            _ => return false,
        }
    }
    tokens.next().is_none()
}

/// Reads the streams and checks every area's subjects against them.
pub async fn check_streams(sink: &NatsSink, areas: &[AreaId]) -> StreamCheck {
    let mut found = Vec::new();
    let mut streams = sink.jetstream().streams().take(MAX_STREAMS);
    while let Some(info) = streams.next().await {
        match info {
            Ok(info) => found.push((
                info.config.name,
                info.config.subjects,
                info.config.duplicate_window,
            )),
            Err(e) => return StreamCheck::Unreachable(e.to_string()),
        }
    }
    let mut used: Vec<(String, Duration)> = Vec::new();
    let mut missing: Option<String> = None;
    let mut uncovered = 0;
    for area in areas {
        for kind in EventType::ALL {
            let subject = subject(area, kind);
            let taker = found
                .iter()
                .find(|(_, subjects, _)| subjects.iter().any(|p| matches(p, &subject)));
            match taker {
                Some((name, _, window)) => {
                    if !used.iter().any(|(n, _)| n == name) {
                        used.push((name.clone(), *window));
                    }
                }
                None => {
                    uncovered += 1;
                    missing.get_or_insert(subject);
                }
            }
        }
    }
    if let Some(subject) = missing {
        return StreamCheck::Missing { subject, uncovered };
    }
    let horizon = sink.retry_horizon();
    if let Some((stream, window)) = used.iter().find(|(_, w)| *w < horizon) {
        return StreamCheck::ShortWindow {
            stream: stream.clone(),
            window: *window,
            horizon,
        };
    }
    StreamCheck::Covered {
        streams: used.into_iter().map(|(n, _)| n).collect(),
    }
}

/// Runs the check in the background until it gets an answer (the server
/// may come up after the service), backing off from 1 s to 60 s between
/// tries; logs the result once. Ends with `cancel`.
pub fn spawn_check(
    sink: std::sync::Arc<NatsSink>,
    areas: Vec<AreaId>,
    cancel: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut pause = Duration::from_secs(1);
        let mut told = false;
        loop {
            let check = tokio::select! {
                () = cancel.cancelled() => return,
                check = check_streams(&sink, &areas) => check,
            };
            match check {
                StreamCheck::Unreachable(_) => {
                    if !told {
                        check.log();
                        told = true;
                    }
                }
                _ => return check.log(),
            }
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(pause) => {}
            }
            pause = (pause * 2).min(Duration::from_secs(60));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn subjects_match_as_nats_matches_them() {
        assert!(matches("tracking.>", "tracking.north.RIDE_REQUESTED"));
        assert!(matches("tracking.*.*", "tracking.north.RIDE_REQUESTED"));
        assert!(matches(
            "tracking.north.RIDE_REQUESTED",
            "tracking.north.RIDE_REQUESTED"
        ));
        assert!(!matches(
            "tracking.south.>",
            "tracking.north.RIDE_REQUESTED"
        ));
        assert!(!matches("tracking.*", "tracking.north.RIDE_REQUESTED"));
        assert!(!matches(
            "tracking.north.RIDE_REQUESTED.x",
            "tracking.north.RIDE_REQUESTED"
        ));
        assert!(!matches("tracking.>", "tracking"));
        assert!(matches(">", "tracking.north.X"));
    }
}
