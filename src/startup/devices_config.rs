//! The device credentials (`--device-credentials`): read at start (a bad
//! file refuses to start), and read again on SIGHUP (a bad file then keeps
//! the set in force, and says why in the log).

use std::path::{Path, PathBuf};

use tokio_util::sync::CancellationToken;

use super::error::StartError;
use crate::auth::{DeviceCredentials, Devices};

/// Which phone apps may report, and for which drivers.
#[derive(Debug, Clone, clap::Args)]
pub struct DevicesConfig {
    /// The devices that report through OwnTracks or Traccar Client: a JSON
    /// file `{"devices": [{"user": …, "driver": …, "password": "$2b$…",
    /// "device": …}]}` (`password` a bcrypt hash, for HTTP Basic; `device`
    /// optional). Re-read on SIGHUP. Without it, only a bearer token can
    /// post to `/owntracks`, and `/osmand` knows no device.
    #[arg(long = "device-credentials", env = "TRACKING_DEVICE_CREDENTIALS")]
    pub device_credentials: Option<PathBuf>,
}

impl DevicesConfig {
    /// The credentials the flag names, read and checked (`None` without it).
    pub(super) fn load(&self) -> Result<Option<Devices>, StartError> {
        let Some(path) = &self.device_credentials else {
            return Ok(None);
        };
        let creds = DeviceCredentials::load(path)
            .map_err(|e| StartError::Config(format!("--device-credentials: {e}")))?;
        tracing::info!(
            devices = creds.len(),
            "device credentials read from {}",
            path.display()
        );
        Ok(Some(Devices::new(creds)))
    }
}

/// Re-reads `path` into `devices` on every SIGHUP, until `stop`.
pub(super) fn reload_on_hangup(devices: Devices, path: PathBuf, stop: CancellationToken) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("cannot listen for SIGHUP; device credentials not reloadable: {e}");
                return;
            }
        };
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                got = hangups.recv() => if got.is_none() { return },
            }
            reload(&devices, &path).await;
        }
    });
    #[cfg(not(unix))]
    let _ = (devices, path, stop);
}

/// One reload, off the runtime (the file may be large); `Devices::reload`
/// logs the outcome.
async fn reload(devices: &Devices, path: &Path) {
    let (devices, path) = (devices.clone(), path.to_owned());
    if let Err(e) = tokio::task::spawn_blocking(move || devices.reload(&path)).await {
        tracing::warn!("device credentials reload did not finish: {e}");
    }
}
