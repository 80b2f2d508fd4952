//! Cross-origin access, only where it is configured (`--cors-origin`,
//! repeatable: exact origins such as `https://app.example.com`, or `*` for
//! development).
//!
//! On the GraphQL routes (`/graphql`, `/graphql/stream`): a preflight
//! (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) from a
//! listed origin is answered with the methods and headers GraphQL clients
//! send; from any other it is refused (403, no `Access-Control-*`
//! headers). Other requests from a listed origin get
//! `Access-Control-Allow-Origin` naming it; from any other, none, so the
//! browser keeps the answer from the page.
//!
//! Where a browser needs no preflight, the service refuses other origins
//! itself ([`Origins::admits`]): the WebSocket upgrade (`/ws`) and the
//! seed's REST routes answer 403 to an `Origin` that is neither listed nor
//! the service's own. Requests without `Origin` (not from a browser) and
//! from the service's own origin (the dashboard, GraphiQL; its host and
//! port equal the `Host` header's, whatever the scheme, so a TLS proxy in
//! front changes nothing) always pass. Without `--cors-origin` nothing
//! cross-origin is allowed.

mod origins;

use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};

pub use origins::Origins;

use super::AppState;
use crate::domain::error::Error;
use origins::{origin, same_origin};

/// The methods clients use on the GraphQL routes.
const METHODS: &str = "GET, POST, OPTIONS";
/// The request headers browsers may send cross-origin: GraphQL's, Apollo
/// Client's, graphql-sse's.
const HEADERS: &str = "content-type, authorization, accept, apollographql-client-name, \
                       apollographql-client-version, apollo-require-preflight, \
                       x-apollo-operation-name, x-graphql-event-stream-token";
/// How long a browser may cache a preflight's answer, in seconds.
const MAX_AGE: &str = "600";

/// The middleware on routes a browser may call without a preflight (the
/// seed's REST routes): another origin's request is refused (403) before
/// anything runs.
pub async fn same_origin_only(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if state.web.cors.admits(request.headers()) {
        return next.run(request).await;
    }
    let error = Error::Forbidden("this origin may not call the API (see --cors-origin)".into());
    (StatusCode::FORBIDDEN, super::error_body(&error)).into_response()
}

/// The middleware on the GraphQL routes.
pub async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let origins = &state.web.cors;
    let Some(origin) = origin(request.headers()).map(str::to_owned) else {
        return next.run(request).await;
    };
    let allowed = origins.allows(&origin) && !same_origin(&origin, request.headers());
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        if !allowed {
            return (
                StatusCode::FORBIDDEN,
                [(header::VARY, HeaderValue::from_static("Origin"))],
                "this origin may not call the API (see --cors-origin)",
            )
                .into_response();
        }
        let mut response = StatusCode::NO_CONTENT.into_response();
        let headers = response.headers_mut();
        allow(headers, &origin);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(METHODS),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(HEADERS),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(MAX_AGE),
        );
        return response;
    }
    let mut response = next.run(request).await;
    if allowed {
        allow(response.headers_mut(), &origin);
    }
    response
}

fn allow(headers: &mut HeaderMap, origin: &str) {
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
}
