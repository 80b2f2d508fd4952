//! Device credentials: which driver a phone app reports for (OwnTracks over
//! HTTP or MQTT, Traccar Client over the OsmAnd protocol).
//!
//! The operator lists the devices in a JSON file (`--device-credentials`):
//! `{"devices": [{"user": "alice-phone", "driver": "d-17", "password":
//! "$2b$12$…", "device": "iphone"}]}`. `password` is a bcrypt hash (as
//! `htpasswd -nbB` or Python's `bcrypt` make it), needed only for HTTP Basic;
//! `device` narrows an entry to one OwnTracks device. The file is checked
//! whole when read, and a bad one is refused with the entry and the reason:
//! the service keeps the set it had. [`Devices`] (in `verify.rs`) is the
//! shared, reloadable set and checks passwords (bcrypt off the runtime,
//! bounded, cached, failed attempts limited per user).

mod verify;

use std::{
    collections::HashMap,
    io::Read,
    path::{Path, PathBuf},
};

use serde::Deserialize;

use crate::domain::DriverId;
pub use verify::{DeviceAuthError, Devices};

/// Most entries one credentials file may hold.
pub const MAX_DEVICES: usize = 100_000;
/// Largest credentials file, in bytes (100,000 entries of ~150 bytes fit).
pub const MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;
/// Longest `user` or `device` name, in bytes.
pub const MAX_NAME_BYTES: usize = 128;
/// The bcrypt cost a stand-in check runs at when the file has no hash.
const DEFAULT_COST: u32 = 12;

/// Why a credentials file was refused.
#[derive(Debug, thiserror::Error)]
pub enum DeviceFileError {
    #[error("cannot read the device credentials file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the device credentials file {path} is larger than {MAX_FILE_BYTES} bytes")]
    TooLarge { path: PathBuf },
    #[error("the device credentials file {path} is not valid: {source} (expected {{\"devices\": [{{\"user\": …, \"driver\": …, \"password\": \"$2b$…\"}}]}})")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("the device credentials file {path} lists more than {MAX_DEVICES} devices")]
    TooMany { path: PathBuf },
    #[error("the device credentials file {path}, entry {index}: {message}")]
    Entry {
        path: PathBuf,
        /// The entry's position, from 0.
        index: usize,
        message: String,
    },
}

/// The file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    devices: Vec<RawEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    user: String,
    driver: String,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    device: Option<String>,
}

/// One device's entry, checked.
#[derive(Debug, Clone)]
struct Entry {
    driver: DriverId,
    /// The bcrypt hash; `None`: no HTTP Basic for this entry.
    hash: Option<String>,
}

/// A user's entries: one for any device, and one per named device.
#[derive(Debug, Default)]
struct UserEntries {
    any: Option<Entry>,
    by_device: HashMap<String, Entry>,
}

/// The devices of one credentials file, checked: who reports for which
/// driver, and with which password hash.
#[derive(Debug, Default)]
pub struct DeviceCredentials {
    users: HashMap<String, UserEntries>,
    /// The highest bcrypt cost in the file, what a stand-in check costs.
    cost: u32,
    len: usize,
}

impl DeviceCredentials {
    /// Reads and checks a credentials file: every entry's user, device and
    /// driver, every hash, no (user, device) twice, at most
    /// [`MAX_DEVICES`] entries and [`MAX_FILE_BYTES`] bytes.
    pub fn load(path: &Path) -> Result<DeviceCredentials, DeviceFileError> {
        let read = |source| DeviceFileError::Read {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(read)?;
        let mut text = Vec::new();
        file.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut text)
            .map_err(read)?;
        if text.len() as u64 > MAX_FILE_BYTES {
            return Err(DeviceFileError::TooLarge {
                path: path.to_owned(),
            });
        }
        Self::parse(&text).map_err(|e| e.at(path))
    }

    /// Checks a credentials file's text (errors name no path yet).
    fn parse(text: &[u8]) -> Result<DeviceCredentials, DeviceFileError> {
        let file: File = serde_json::from_slice(text).map_err(|source| DeviceFileError::Json {
            path: PathBuf::new(),
            source,
        })?;
        if file.devices.len() > MAX_DEVICES {
            return Err(DeviceFileError::TooMany {
                path: PathBuf::new(),
            });
        }
        let mut creds = DeviceCredentials {
            len: file.devices.len(),
            ..Default::default()
        };
        for (index, raw) in file.devices.into_iter().enumerate() {
            let refuse = |message: String| DeviceFileError::Entry {
                path: PathBuf::new(),
                index,
                message,
            };
            check_name("user", &raw.user).map_err(refuse)?;
            if let Some(device) = &raw.device {
                check_name("device", device).map_err(refuse)?;
            }
            let driver = DriverId::parse(&raw.driver)
                .map_err(|e| refuse(format!("driver {:?}: {e}", raw.driver)))?;
            if let Some(hash) = &raw.password {
                let parts = hash.parse::<bcrypt::HashParts>().map_err(|e| {
                    refuse(format!(
                        "password is not a bcrypt hash ($2b$… or $2y$…): {e}"
                    ))
                })?;
                creds.cost = creds.cost.max(parts.get_cost());
            }
            let entry = Entry {
                driver,
                hash: raw.password,
            };
            let user = creds.users.entry(raw.user.clone()).or_default();
            let taken = match raw.device {
                None => user.any.replace(entry).is_some(),
                Some(device) => user.by_device.insert(device, entry).is_some(),
            };
            if taken {
                return Err(refuse(format!(
                    "user {:?} is listed twice for the same device",
                    raw.user
                )));
            }
        }
        Ok(creds)
    }

    /// The driver a device reports for, by name only (no password: an MQTT
    /// topic's user and device, where the broker authenticated the
    /// publisher; an OsmAnd `id`). An entry with a `device` matches only that
    /// device; one without matches any device of the user (and a request
    /// that names none).
    pub fn driver_for(&self, user: &str, device: Option<&str>) -> Option<DriverId> {
        self.entry(user, device).map(|e| e.driver.clone())
    }

    /// How many entries the file holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the file lists no device.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn entry(&self, user: &str, device: Option<&str>) -> Option<&Entry> {
        let entries = self.users.get(user)?;
        device
            .and_then(|d| entries.by_device.get(d))
            .or(entries.any.as_ref())
    }

    /// The cost a stand-in bcrypt check runs at (an unknown user takes as
    /// long as a known one).
    fn stand_in_cost(&self) -> u32 {
        if self.cost == 0 {
            DEFAULT_COST
        } else {
            self.cost
        }
    }
}

impl DeviceFileError {
    /// The same error, naming `path`.
    fn at(self, path: &Path) -> Self {
        let path = path.to_owned();
        match self {
            Self::Read { source, .. } => Self::Read { path, source },
            Self::TooLarge { .. } => Self::TooLarge { path },
            Self::Json { source, .. } => Self::Json { path, source },
            Self::TooMany { .. } => Self::TooMany { path },
            Self::Entry { index, message, .. } => Self::Entry {
                path,
                index,
                message,
            },
        }
    }
}

/// A user or device name: 1 to [`MAX_NAME_BYTES`] bytes, no control
/// characters, none of MQTT's `/ + #` (it is a topic level).
fn check_name(what: &str, name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("{what} must not be empty"));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(format!("{what} is longer than {MAX_NAME_BYTES} bytes"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| c.is_control() || matches!(c, '/' | '+' | '#'))
    {
        return Err(format!("{what} {name:?} contains {c:?}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
