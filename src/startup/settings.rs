//! The settings the service runs by, from the configuration: the
//! dispatcher's (checked against the domain's bounds) and the token
//! verifier (refusing to serve beyond loopback without one, unless told).

use tracing::warn;

use super::{config::Config, endpoint::Endpoint, error::StartError};
use crate::{
    auth::{self, Verifier},
    dispatch::{BatchRules, Settings},
    domain::{
        rules::{MATCH_WINDOW, MAX_PICKUP_ETA, OFFER_TIMEOUT, REQUEST_TIMEOUT, SEARCH_INTERVAL},
        RadiusKm, StraightLine,
    },
    store::Offers,
};

/// The dispatcher's settings from the configuration, checked against the
/// bounds the domain sets.
pub(super) fn settings(config: &Config) -> Result<Settings, StartError> {
    let settings = Settings {
        match_radius: RadiusKm::parse(config.match_radius_km)
            .map_err(|e| StartError::Config(format!("--match-radius-km: {e}")))?,
        request_timeout: config.request_timeout,
        search_interval: config.search_interval,
        max_update_rate: config.max_update_rate,
        max_speed_kmh: config.max_speed_kmh,
        max_active_rides_per_rider: config.max_active_rides_per_rider,
        offers: Offers {
            timeout: config.offer_timeout,
            ignore_limit: config.offer_ignore_limit,
        },
        fleet_interval: config.fleet_interval,
        eta_candidates: usize::from(config.roads.eta_candidates),
        straight_line: StraightLine {
            speed_kmh: config.roads.straight_line_speed_kmh,
            detour: config.roads.detour_factor,
        },
        max_pickup_eta: Some(config.roads.max_pickup_eta).filter(|d| !d.is_zero()),
        match_window: config.batch.match_window,
        batch: BatchRules {
            wait_weight: config.batch.wait_weight,
            max_batch_size: usize::try_from(config.batch.max_batch_size).unwrap_or(1000),
            max_batches: config.batch.max_batches,
            lease: config.instance_lease,
        },
    };
    for (flag, value, bounds) in [
        (
            "--search-interval",
            settings.search_interval,
            SEARCH_INTERVAL,
        ),
        (
            "--request-timeout",
            settings.request_timeout,
            REQUEST_TIMEOUT,
        ),
        ("--offer-timeout", settings.offers.timeout, OFFER_TIMEOUT),
        (
            "--max-pickup-eta",
            config.roads.max_pickup_eta,
            MAX_PICKUP_ETA,
        ),
        ("--match-window", config.batch.match_window, MATCH_WINDOW),
    ] {
        bounds
            .check(value)
            .map_err(|e| StartError::Config(format!("{flag} {e}")))?;
    }
    if !config.max_speed_kmh.is_finite() || config.max_speed_kmh < 0.0 {
        return Err(StartError::Config(
            "--max-speed-kmh must be 0 (off) or more".into(),
        ));
    }
    Ok(settings)
}

/// The token verifier; without one, the service only serves loopback
/// (unless told otherwise).
pub(super) async fn verifier(
    config: &Config,
    endpoint: &Endpoint,
) -> Result<Option<Verifier>, StartError> {
    let verifier = Verifier::from_config(auth::AuthConfig {
        secret: config.jwt_secret.as_deref(),
        public_key: config.jwt_public_key.as_deref(),
        jwks_url: config.jwt_jwks_url.as_deref(),
        jwks_ca: config.jwt_jwks_ca.as_deref(),
        issuer: config.jwt_issuer.as_deref(),
        audience: config.jwt_audience.as_deref(),
        leeway: Some(config.jwt_leeway.as_secs()),
    })
    .await
    .map_err(StartError::Config)?;
    if verifier.is_none() {
        let addr = endpoint.local_addr().map_err(|source| StartError::Listen {
            addr: config.listen,
            source,
        })?;
        if !addr.ip().is_loopback() && !config.insecure_no_auth {
            return Err(StartError::Config(format!(
                "no --jwt-secret, --jwt-public-key or --jwt-jwks-url: refusing to serve {addr} without \
                 authentication (give a key, listen on loopback, or pass --insecure-no-auth)"
            )));
        }
        warn!("NO AUTHENTICATION: no JWT key configured, anyone who reaches this service may do anything");
    }
    Ok(verifier)
}
