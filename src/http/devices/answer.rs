//! How the device routes answer: an error as its HTTP status (a 401 asking
//! for Basic credentials), and a stored report's refusal.

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};

use crate::{
    domain::{error::Error, ReportOutcome},
    http::errors::error_response,
};

/// An error as its HTTP answer; a 401 asks for Basic credentials, as the
/// OwnTracks app expects.
pub(super) fn refusal(error: &Error) -> Response {
    let mut response = error_response(error);
    if response.status() == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"tracking\""),
        );
    }
    response
}

/// What a refused outcome of a stored report answers, or `None` when the
/// report was taken or ignored as stale (both are success to the app:
/// retrying a stale one changes nothing).
pub(super) fn outcome_refusal(outcome: ReportOutcome) -> Option<Response> {
    match outcome {
        ReportOutcome::Refused(error) => Some(refusal(&error)),
        _ => None,
    }
}

/// Answers `response` as is, for handlers that return `Result<_, Response>`.
pub(super) fn done(response: impl IntoResponse) -> Response {
    response.into_response()
}
