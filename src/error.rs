//! The one error type of the domain, and how it looks on the wire.
//!
//! Every layer returns [`Error`]; it is mapped exactly once to a GraphQL error
//! with a machine-readable `extensions.code` (in `api`) and once to an HTTP
//! status (for the REST adapters in `http`). The code strings live here so
//! that both mappings agree.

use async_graphql::ErrorExtensions;

/// What went wrong, in terms a client can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The input is malformed or out of range; nothing was changed.
    #[error("{0}")]
    BadInput(String),
    /// No such driver or ride.
    #[error("{0}")]
    NotFound(String),
    /// The operation does not fit the current state (e.g. completing a
    /// ride that was cancelled); nothing was changed.
    #[error("{0}")]
    Conflict(String),
    /// The rider already has as many rides that have not ended as it may;
    /// `ride` is one of them. A `CONFLICT`, with the ride's id for clients.
    #[error("rider {rider} already has {max} ride(s) that have not ended, such as {ride}")]
    ActiveRide {
        rider: crate::domain::RiderId,
        ride: crate::domain::RideId,
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
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A bug or corrupt data; logged, never caused by input alone.
    #[error("internal error: {0}")]
    Internal(String),
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

    /// The `extensions.code` clients see.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadInput(_) => codes::BAD_USER_INPUT,
            Self::NotFound(_) => codes::NOT_FOUND,
            Self::Conflict(_) | Self::ActiveRide { .. } => codes::CONFLICT,
            Self::Unauthenticated(_) => codes::UNAUTHENTICATED,
            Self::Forbidden(_) => codes::FORBIDDEN,
            Self::TooManyRequests(_) => codes::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => codes::UNAVAILABLE,
            Self::Internal(_) => codes::INTERNAL,
        }
    }

    /// The HTTP status for the REST adapters.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::BadInput(_) => 400,
            Self::NotFound(_) => 404,
            Self::Conflict(_) | Self::ActiveRide { .. } => 409,
            Self::Unauthenticated(_) => 401,
            Self::Forbidden(_) => 403,
            Self::TooManyRequests(_) => 429,
            Self::Unavailable(_) => 503,
            Self::Internal(_) => 500,
        }
    }
}

impl ErrorExtensions for Error {
    fn extend(&self) -> async_graphql::Error {
        async_graphql::Error::new(self.to_string()).extend_with(|_, e| {
            e.set("code", self.code());
            if let Self::ActiveRide { ride, .. } = self {
                e.set("rideId", ride.as_str());
            }
        })
    }
}

/// The `extensions.code` values, as constants for tests and adapters.
pub mod codes {
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    pub const NOT_FOUND: &str = "NOT_FOUND";
    pub const CONFLICT: &str = "CONFLICT";
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    pub const FORBIDDEN: &str = "FORBIDDEN";
    pub const TOO_MANY_REQUESTS: &str = "TOO_MANY_REQUESTS";
    pub const UNAVAILABLE: &str = "UNAVAILABLE";
    pub const INTERNAL: &str = "INTERNAL";

    /// Every code, for the places that must only ever use these (metric labels).
    pub const ALL: [&str; 8] = [
        BAD_USER_INPUT,
        NOT_FOUND,
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
