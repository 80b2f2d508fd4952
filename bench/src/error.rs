//! Why a benchmark scenario could not produce its figures.

/// A scenario that failed; its row is left out and the run exits non-zero.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A process (the service, Redis, redis-benchmark) did not start or answer.
    #[error("{0}")]
    Process(String),
    /// A request to the service failed where the scenario needs it to succeed.
    #[error("request failed: {0}")]
    Request(String),
    /// The service did something the scenario's premise rules out (rides
    /// that never expire, matches that never come).
    #[error("{0}")]
    Unexpected(String),
    /// Redis refused a command of the scenario's own.
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
}

pub type Result<T, E = BenchError> = std::result::Result<T, E>;
