//! The one error type of the domain: its kinds, their causes and codes.
//!
//! Every layer returns [`Error`]. Each refusal a store or the dispatcher
//! makes has one constructor (in `refusals.rs`: [`Error::ride_not_found`],
//! [`Error::wrong_step`], …), so both stores word it the same way. Each
//! error has a machine-readable code ([`Error::code`]); the transports map it
//! once each: to a GraphQL `extensions.code` in the api layer, to an HTTP
//! status in the http layer. This module names no framework.

use std::{fmt, sync::Arc};

use super::ids::{RideId, RiderId};

/// What caused an infrastructure error, kept for logs (`{:#}` and error
/// reporters walk the chain). Shared, so errors stay cheap to clone.
#[derive(Clone)]
pub struct Cause(Arc<dyn std::error::Error + Send + Sync>);

impl Cause {
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self(Arc::new(error))
    }
}

impl fmt::Debug for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// What went wrong, in terms a client can act on.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The input is malformed or out of range; nothing was changed.
    #[error("{0}")]
    BadInput(String),
    /// No such driver or ride.
    #[error("{0}")]
    NotFound(String),
    /// A pickup outside every service area; nothing was created.
    #[error("{0}")]
    OutOfServiceArea(String),
    /// The operation does not fit the current state (e.g. completing a
    /// ride that was cancelled); nothing was changed.
    #[error("{0}")]
    Conflict(String),
    /// The rider already has as many rides that have not ended as it may;
    /// `ride` is one of them. A `CONFLICT`, with the ride's id for clients.
    #[error("rider {rider} already has {max} ride(s) that have not ended, such as {ride}")]
    ActiveRide {
        rider: RiderId,
        ride: RideId,
        max: usize,
    },
    /// No valid token: missing (where one is required), malformed,
    /// expired, or badly signed.
    #[error("{0}")]
    Unauthenticated(String),
    /// A valid token that does not allow this operation.
    #[error("{0}")]
    Forbidden(String),
    /// Too fast: slow down and try again.
    #[error("{0}")]
    TooManyRequests(String),
    /// The store cannot be reached; try again later.
    #[error("store unavailable: {message}")]
    Unavailable {
        message: String,
        #[source]
        cause: Option<Cause>,
    },
    /// A bug or corrupt data; logged, never caused by input alone.
    #[error("internal error: {message}")]
    Internal {
        message: String,
        #[source]
        cause: Option<Cause>,
    },
}

/// Errors are equal when clients would see the same: code and message.
impl PartialEq for Error {
    fn eq(&self, other: &Self) -> bool {
        self.code() == other.code() && self.to_string() == other.to_string()
    }
}

impl Error {
    pub fn bad_input(msg: impl Into<String>) -> Self {
        Self::BadInput(msg.into())
    }

    pub fn not_found(msg: impl Into<String>) -> Self {
        Self::NotFound(msg.into())
    }

    pub fn conflict(msg: impl Into<String>) -> Self {
        Self::Conflict(msg.into())
    }

    /// The store cannot be reached, with no more to say.
    pub fn unavailable(msg: impl Into<String>) -> Self {
        Self::Unavailable {
            message: msg.into(),
            cause: None,
        }
    }

    /// The store cannot be reached, because of `cause`.
    pub fn unavailable_because(
        msg: impl Into<String>,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Unavailable {
            message: msg.into(),
            cause: Some(Cause::new(cause)),
        }
    }

    /// A bug or corrupt data.
    pub fn internal(msg: impl Into<String>) -> Self {
        Self::Internal {
            message: msg.into(),
            cause: None,
        }
    }

    /// A bug or corrupt data, because of `cause`.
    pub fn internal_because(
        msg: impl Into<String>,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Internal {
            message: msg.into(),
            cause: Some(Cause::new(cause)),
        }
    }

    /// The `extensions.code` clients see.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadInput(_) => codes::BAD_USER_INPUT,
            Self::NotFound(_) => codes::NOT_FOUND,
            Self::OutOfServiceArea(_) => codes::OUT_OF_SERVICE_AREA,
            Self::Conflict(_) | Self::ActiveRide { .. } => codes::CONFLICT,
            Self::Unauthenticated(_) => codes::UNAUTHENTICATED,
            Self::Forbidden(_) => codes::FORBIDDEN,
            Self::TooManyRequests(_) => codes::TOO_MANY_REQUESTS,
            Self::Unavailable { .. } => codes::UNAVAILABLE,
            Self::Internal { .. } => codes::INTERNAL,
        }
    }
}

/// The `extensions.code` values.
pub mod codes {
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    pub const NOT_FOUND: &str = "NOT_FOUND";
    pub const OUT_OF_SERVICE_AREA: &str = "OUT_OF_SERVICE_AREA";
    pub const CONFLICT: &str = "CONFLICT";
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    pub const FORBIDDEN: &str = "FORBIDDEN";
    pub const TOO_MANY_REQUESTS: &str = "TOO_MANY_REQUESTS";
    pub const UNAVAILABLE: &str = "UNAVAILABLE";
    pub const INTERNAL: &str = "INTERNAL";

    /// Every code, for the places that must only ever use these (metric labels).
    pub const ALL: [&str; 9] = [
        BAD_USER_INPUT,
        NOT_FOUND,
        OUT_OF_SERVICE_AREA,
        CONFLICT,
        UNAUTHENTICATED,
        FORBIDDEN,
        TOO_MANY_REQUESTS,
        UNAVAILABLE,
        INTERNAL,
    ];
}

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn an_infrastructure_error_keeps_its_cause() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let error = Error::unavailable_because("cannot reach Redis", io);
        assert_eq!(error.code(), codes::UNAVAILABLE);
        assert_eq!(
            error.source().map(|s| s.to_string()).as_deref(),
            Some("refused")
        );
        assert_eq!(error, Error::unavailable("cannot reach Redis"));
    }
}
