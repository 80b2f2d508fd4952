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

use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::AppState;
use crate::error::Error;

/// The methods clients use on the GraphQL routes.
const METHODS: &str = "GET, POST, OPTIONS";
/// The request headers browsers may send cross-origin: GraphQL's, Apollo
/// Client's, graphql-sse's.
const HEADERS: &str = "content-type, authorization, accept, apollographql-client-name, \
                       apollographql-client-version, apollo-require-preflight, \
                       x-apollo-operation-name, x-graphql-event-stream-token";
/// How long a browser may cache a preflight's answer, in seconds.
const MAX_AGE: &str = "600";

/// The origins allowed to call the API from a browser.
#[derive(Debug, Clone, Default)]
pub struct Origins {
    exact: Vec<String>,
    any: bool,
}

impl Origins {
    /// From `--cors-origin` values; each is `*` or a scheme, host and
    /// optional port, with nothing after.
    pub fn parse(values: &[String]) -> Result<Self, String> {
        let mut origins = Self::default();
        for value in values {
            let value = value.trim();
            if value == "*" {
                origins.any = true;
                continue;
            }
            let (scheme, rest) = value.split_once("://").ok_or_else(|| {
                format!("--cors-origin {value:?}: expected an origin such as https://app.example.com, or *")
            })?;
            if !matches!(scheme, "http" | "https")
                || rest.is_empty()
                || rest.contains('/')
                || rest.contains('?')
                || rest.contains('#')
            {
                return Err(format!(
                    "--cors-origin {value:?}: expected scheme://host[:port] with no path (such as https://app.example.com), or *"
                ));
            }
            origins.exact.push(value.to_ascii_lowercase());
        }
        Ok(origins)
    }

    fn allows(&self, origin: &str) -> bool {
        self.any || self.exact.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }

    /// Whether a request with these headers may proceed, as far as its
    /// origin goes (for the routes a browser reaches without a preflight):
    /// no `Origin`, the service's own, or one on the list. Without a list,
    /// no other.
    pub fn admits(&self, headers: &HeaderMap) -> bool {
        match origin(headers) {
            None => true,
            Some(origin) => same_origin(origin, headers) || self.allows(origin),
        }
    }
}

fn origin(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())
}

/// Whether `origin` is this service as the request reached it (its `Host`).
fn same_origin(origin: &str, headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    origin
        .split_once("://")
        .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host))
}

/// The middleware on routes a browser may call without a preflight (the
/// seed's REST routes): another origin's request is refused (403) before
/// anything runs.
pub async fn same_origin_only(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if state.cors.admits(request.headers()) {
        return next.run(request).await;
    }
    let error = Error::Forbidden("this origin may not call the API (see --cors-origin)".into());
    (StatusCode::FORBIDDEN, super::error_body(&error)).into_response()
}

/// The middleware on the GraphQL routes.
pub async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let origins = &state.cors;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_exact_or_star_and_nothing_else() {
        let origins = Origins::parse(&["https://app.example.com".into()]).unwrap_or_default();
        assert!(origins.allows("https://app.example.com"));
        assert!(!origins.allows("https://app.example.com.evil.net"));
        assert!(!origins.allows("http://app.example.com"));
        assert!(Origins::parse(&["app.example.com".into()]).is_err());
        assert!(Origins::parse(&["https://app.example.com/".into()]).is_err());
        assert!(Origins::parse(&["ftp://x".into()]).is_err());
        let any = Origins::parse(&["*".into()]).unwrap_or_default();
        assert!(any.allows("http://localhost:3000"));
    }

    #[test]
    fn only_no_origin_the_services_own_or_a_listed_one_is_admitted() {
        let headers = |origin: Option<&str>| {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::HOST,
                HeaderValue::from_static("tracking.example:8443"),
            );
            if let Some(origin) = origin {
                headers.insert(
                    header::ORIGIN,
                    HeaderValue::from_str(origin).unwrap_or(HeaderValue::from_static("x")),
                );
            }
            headers
        };
        let none = Origins::default();
        assert!(none.admits(&headers(None)));
        assert!(none.admits(&headers(Some("https://tracking.example:8443"))));
        assert!(none.admits(&headers(Some("http://tracking.example:8443"))));
        assert!(!none.admits(&headers(Some("https://tracking.example"))));
        assert!(!none.admits(&headers(Some("https://evil.example"))));
        assert!(!none.admits(&headers(Some("null"))));
        let listed = Origins::parse(&["https://app.example.com".into()]).unwrap_or_default();
        assert!(listed.admits(&headers(Some("https://app.example.com"))));
        assert!(!listed.admits(&headers(Some("https://evil.example"))));
    }
}
