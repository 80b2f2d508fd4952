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

/// What a stored report answers: `None` (success to the app) when it was
/// taken, ignored as stale (sending it again changes nothing) or refused
/// by the speed rule (a GPS glitch: refused, counted, and acknowledged, so
/// an app that resends until it hears success does not resend it forever);
/// the update rate's 429, which a later try passes.
pub(super) fn settle(protocol: &'static str, outcome: ReportOutcome) -> Option<Response> {
    let counted = match outcome {
        ReportOutcome::Accepted => "accepted",
        ReportOutcome::Stale | ReportOutcome::Elsewhere => "stale",
        ReportOutcome::Refused(error @ Error::TooManyRequests(_)) => return Some(refusal(&error)),
        ReportOutcome::Refused(error) => {
            tracing::debug!(protocol, "device report refused: {error}");
            "refused"
        }
    };
    metrics::counter!(crate::telemetry::DEVICE_REPORTS, "protocol" => protocol, "outcome" => counted)
        .increment(1);
    None
}

/// Answers `response` as is, for handlers that return `Result<_, Response>`.
pub(super) fn done(response: impl IntoResponse) -> Response {
    response.into_response()
}
