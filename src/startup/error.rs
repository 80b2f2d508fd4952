//! Why the service could not start: a configuration it refuses, an address
//! it cannot listen on, a store it cannot reach, or roads it cannot load.

use std::net::SocketAddr;

use crate::domain::error::Error;

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A flag, or a file a flag names, that the service refuses.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The listening address cannot be bound or listened on.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address the configuration names.
        addr: SocketAddr,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The store cannot be opened or reached.
    #[error("cannot use the store: {0}")]
    Store(#[from] Error),
    /// The roads file (`--roads`) cannot be used.
    #[error("{0}")]
    Roads(#[from] crate::roads::RoadsError),
}
