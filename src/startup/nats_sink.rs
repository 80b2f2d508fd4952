//! The NATS sink from `--nats-url`, `--nats-creds` and `--nats-ca`: the
//! flags checked (a malformed URL, an unreadable credentials or CA file is
//! a configuration error), the client set up (an unreachable server is
//! not: it is retried), and the stream check started in the background.

use std::{sync::Arc, time::Duration};

use tokio_util::sync::CancellationToken;

use super::{config::Config, error::StartError};
use crate::{
    dispatch::delivery::{spawn_check, NatsSettings, NatsSink, PUBLISH_TIMEOUT},
    domain::AreaId,
};

/// The delivery runner's longest pause between two sends of a failing
/// batch, as assumed for the duplicate-window check.
pub const RUNNER_MAX_BACKOFF: Duration = crate::dispatch::delivery::RETRY_CAP;

/// The NATS settings, when `--nats-url` is given.
pub fn nats_settings(config: &Config) -> Result<Option<NatsSettings>, StartError> {
    let events = &config.events;
    let Some(url) = &events.nats_url else {
        if events.nats_creds.is_some() || events.nats_ca.is_some() {
            return Err(StartError::Config(
                "--nats-creds and --nats-ca need --nats-url".into(),
            ));
        }
        return Ok(None);
    };
    let servers = NatsSettings::parse_servers(url).map_err(StartError::Config)?;
    Ok(Some(NatsSettings {
        servers,
        creds: events.nats_creds.clone(),
        ca: events.nats_ca.clone(),
        publish_timeout: PUBLISH_TIMEOUT,
        // A batch is re-sent after at most the longest backoff, or by
        // another instance once the delivery lease has expired.
        retry_horizon: RUNNER_MAX_BACKOFF + config.instance_lease,
    }))
}

/// The NATS sink, when `--nats-url` is given, with its stream check
/// running until it has an answer (or `cancel`).
pub async fn nats_sink(
    config: &Config,
    areas: Vec<AreaId>,
    cancel: CancellationToken,
) -> Result<Option<Arc<NatsSink>>, StartError> {
    let Some(settings) = nats_settings(config)? else {
        return Ok(None);
    };
    let sink = Arc::new(
        NatsSink::connect(&settings)
            .await
            .map_err(StartError::Config)?,
    );
    spawn_check(sink.clone(), areas, cancel);
    Ok(Some(sink))
}
