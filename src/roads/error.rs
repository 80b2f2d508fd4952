//! Why roads could not be loaded or prepared: one clear line each.

use std::path::PathBuf;

/// A roads file that cannot be used; its `Display` is one line naming the file.
#[derive(Debug, thiserror::Error)]
pub enum RoadsError {
    /// The file does not exist or cannot be opened.
    #[error("roads file {path}: cannot open it: {reason}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    /// The name ends in none of `.osm.pbf`, `.osm`, `.roads`.
    #[error("roads file {0}: unknown kind (expected a name ending in .osm.pbf, .osm or .roads)")]
    UnknownKind(PathBuf),
    /// The content is not what the name promises (not PBF, not OSM XML, not a prepared graph).
    #[error("roads file {path}: not a valid {kind} file: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What it should have been.
        kind: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// The extract holds no way a car may drive.
    #[error("roads file {0}: no car roads in it (no highway a car may drive)")]
    NoCarRoads(PathBuf),
    /// The prepared graph could not be written.
    #[error("roads file {path}: cannot write it: {reason}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
}

impl RoadsError {
    /// An `Invalid` error with `reason` in one line.
    pub(crate) fn invalid(
        path: &std::path::Path,
        kind: &'static str,
        reason: impl ToString,
    ) -> Self {
        let reason = reason.to_string().replace('\n', " ");
        RoadsError::Invalid {
            path: path.to_path_buf(),
            kind,
            reason,
        }
    }

    /// An `Open` error for `path`.
    pub(crate) fn open(path: &std::path::Path, err: &std::io::Error) -> Self {
        RoadsError::Open {
            path: path.to_path_buf(),
            reason: err.to_string(),
        }
    }
}
