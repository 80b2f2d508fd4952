//! One MQTT message to one driver report: the topic's user and device
//! mapped to a driver through the credentials file, the payload parsed as
//! OwnTracks JSON, the position reported through the dispatcher (the same
//! checks as `updateLocations`, dated by the device). Whatever happens is
//! an [`Outcome`], counted under a fixed label; nothing here is fatal.

use crate::{
    auth::Devices,
    dispatch::{devices::owntracks, Dispatcher},
    domain::{error::Error, ReportOutcome},
    telemetry::metrics,
};

use super::topic::TopicFilter;

/// The largest payload handled (the OwnTracks parser's cap); a larger one
/// is counted and dropped (OwnTracks sends a few hundred bytes). The broker
/// is told a packet limit of its own ([`super::MAX_PACKET_BYTES`]) and
/// drops larger ones.
pub use crate::dispatch::devices::MAX_PAYLOAD_BYTES;

/// What became of one message (the `outcome` label of
/// `tracking_mqtt_messages_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The driver's position was recorded.
    Accepted,
    /// Older than the driver's last report: ignored.
    Stale,
    /// Refused by a report rule (implausible jump, dated in the future).
    Refused,
    /// Over the per-driver update rate.
    RateLimited,
    /// The topic's user and device are not in the credentials file.
    UnknownDevice,
    /// Not OwnTracks JSON, or a location without a valid position or time.
    Malformed,
    /// Over [`MAX_PAYLOAD_BYTES`].
    TooLarge,
    /// OwnTracks, but not a location (`_type` other than `location`).
    Ignored,
    /// The store could not be reached: the report is lost.
    Failed,
}

impl Outcome {
    /// The metric label: one of these fixed values, never message text.
    pub fn label(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Stale => "stale",
            Self::Refused => "refused",
            Self::RateLimited => "rate_limited",
            Self::UnknownDevice => "unknown_device",
            Self::Malformed => "malformed",
            Self::TooLarge => "too_large",
            Self::Ignored => "ignored",
            Self::Failed => "failed",
        }
    }
}

/// Turns messages into driver reports.
#[derive(Clone)]
pub struct Reporter {
    pub dispatcher: Dispatcher,
    pub devices: Devices,
    pub topic: TopicFilter,
}

impl Reporter {
    /// Handles one message and counts its outcome.
    pub async fn handle(&self, topic: &[u8], payload: &[u8]) -> Outcome {
        let outcome = self.outcome(topic, payload).await;
        ::metrics::counter!(metrics::MQTT_MESSAGES, "outcome" => outcome.label()).increment(1);
        outcome
    }

    async fn outcome(&self, topic: &[u8], payload: &[u8]) -> Outcome {
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Outcome::TooLarge;
        }
        let Some((user, device)) = std::str::from_utf8(topic)
            .ok()
            .and_then(|t| self.topic.user_device(t))
        else {
            return Outcome::UnknownDevice;
        };
        let Some(driver) = self.devices.current().driver_for(user, Some(device)) else {
            return Outcome::UnknownDevice;
        };
        let position = match owntracks::parse(payload) {
            Ok(Some(position)) => position,
            Ok(None) => return Outcome::Ignored,
            Err(_) => return Outcome::Malformed,
        };
        match self.dispatcher.device_report(&driver, position).await {
            Ok(ReportOutcome::Accepted) => Outcome::Accepted,
            Ok(ReportOutcome::Stale) => Outcome::Stale,
            Ok(ReportOutcome::Refused(Error::TooManyRequests(_))) => Outcome::RateLimited,
            Ok(ReportOutcome::Refused(_) | ReportOutcome::Elsewhere) => Outcome::Refused,
            Err(Error::TooManyRequests(_)) => Outcome::RateLimited,
            Err(Error::Unavailable { .. } | Error::Internal { .. }) => Outcome::Failed,
            Err(_) => Outcome::Refused,
        }
    }
}
