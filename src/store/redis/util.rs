//! Small helpers every Redis call uses: durations in milliseconds, the
//! command timeout, what a Redis error means to the caller, and a search's
//! pick as a script's arguments.

use std::time::Duration;

use super::connection::COMMAND_TIMEOUT;
use crate::{
    domain::error::{Error, Result},
    store::{Pick, MAX_CANDIDATES},
};

/// A duration in whole milliseconds (saturating).
pub(super) fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Runs a Redis command, `UNAVAILABLE` if it takes longer than the
/// command timeout.
pub(super) async fn with_timeout<T>(
    fut: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> Result<T> {
    tokio::time::timeout(COMMAND_TIMEOUT, fut)
        .await
        .map_err(|_| {
            metrics::counter!(crate::telemetry::STORE_ERRORS).increment(1);
            Error::unavailable("Redis did not answer in time")
        })?
        .map_err(redis_error)
}

/// Connection trouble is `UNAVAILABLE` (try again); anything else is a bug.
pub(super) fn redis_error(e: redis::RedisError) -> Error {
    metrics::counter!(crate::telemetry::STORE_ERRORS).increment(1);
    if e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_unrecoverable_error()
    {
        Error::unavailable_because(e.to_string(), e)
    } else {
        Error::internal_because(format!("Redis: {e}"), e)
    }
}

/// A search's [`Pick`] as `try_match`'s arguments (see `pick_driver` in
/// `lua/rides.lua`): `N`, detour, km/h; or `R` and four per candidate.
pub(super) fn pick_args(pick: &Pick, own: &mut Vec<String>) {
    match pick {
        Pick::Nearest(line) => {
            own.push("N".into());
            own.push(line.detour.to_string());
            own.push(line.speed_kmh.to_string());
        }
        Pick::Ranked(candidates) => {
            own.push("R".into());
            for c in candidates.iter().take(MAX_CANDIDATES) {
                own.push(c.driver.to_string());
                own.push(c.eta.seconds.to_string());
                own.push(c.eta.road_km.to_string());
                own.push(c.eta.source.as_str().to_owned());
            }
        }
    }
}
