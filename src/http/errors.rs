//! Errors as HTTP answers, for what is refused before GraphQL runs and for
//! the REST adapters: each error's status, and the GraphQL-shaped body
//! (`{"errors": [{"message", "extensions": {"code"}}]}`) they all use.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

use crate::domain::error::Error;

/// A 400 for a body that is not the JSON the route takes.
pub(crate) fn bad_request(message: String) -> Response {
    error_response(&Error::BadInput(message))
}

/// The HTTP status of each error, for the REST adapters and the refusals
/// that happen before GraphQL runs.
fn status(error: &Error) -> StatusCode {
    match error {
        Error::BadInput(_) => StatusCode::BAD_REQUEST,
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::OutOfServiceArea(_) => StatusCode::UNPROCESSABLE_ENTITY,
        Error::Conflict(_) | Error::ActiveRide { .. } => StatusCode::CONFLICT,
        Error::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        Error::Forbidden(_) => StatusCode::FORBIDDEN,
        Error::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
        Error::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        Error::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// An error as HTTP status plus a GraphQL-shaped body.
pub(crate) fn error_response(error: &Error) -> Response {
    (status(error), error_body(error)).into_response()
}

/// The GraphQL-shaped error body every non-GraphQL refusal uses.
pub(crate) fn error_body(error: &Error) -> Json<serde_json::Value> {
    Json(json!({"errors": [{"message": error.to_string(), "extensions": {"code": error.code()}}]}))
}
