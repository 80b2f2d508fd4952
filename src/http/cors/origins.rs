//! The origins `--cors-origin` allows, and whether a request's `Origin` is
//! one of them or the service's own.

use axum::http::{header, HeaderMap};

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

    pub(super) fn allows(&self, origin: &str) -> bool {
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

pub(super) fn origin(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())
}

/// Whether `origin` is this service as the request reached it (its `Host`).
pub(super) fn same_origin(origin: &str, headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    origin
        .split_once("://")
        .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

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
