//! What can go wrong talking to the service.

/// One error of a GraphQL response.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct GraphQLError {
    pub message: String,
    #[serde(default)]
    pub extensions: serde_json::Value,
}

impl GraphQLError {
    /// The machine-readable `extensions.code` (`NOT_FOUND`, `CONFLICT`, …).
    pub fn code(&self) -> Option<&str> {
        self.extensions.get("code").and_then(|c| c.as_str())
    }
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The service answered with errors.
    #[error("{}: {}", .0.first().and_then(|e| e.code()).unwrap_or("ERROR"), .0.first().map(|e| e.message.as_str()).unwrap_or("no message"))]
    GraphQL(Vec<GraphQLError>),
    /// The service answered with an HTTP error and no GraphQL errors.
    #[error("HTTP {status}: {body}")]
    Status { status: u16, body: String },
    /// The request could not be sent, or its answer read.
    #[error("transport: {0}")]
    Transport(String),
    /// The answer was not what the API promises.
    #[error("unexpected answer: {0}")]
    Unexpected(String),
    /// The WebSocket closed (with its close code, if one was sent).
    #[error("the socket closed ({0:?})")]
    Closed(Option<u16>),
}

impl Error {
    /// The first GraphQL error's code, if the service refused.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::GraphQL(errors) => errors.first().and_then(GraphQLError::code),
            _ => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
