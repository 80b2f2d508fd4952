//! GraphQL over HTTP's encoding, shared by the routes that speak it
//! ([`super::graphql`], and the streams of [`super::stream`]): what a
//! request's `Accept` allows, a request read from URL parameters, the
//! `Content-Type` a POST must have, and a response's body and status in the
//! media type the client accepts (no `data` for a request error; under
//! `application/graphql-response+json`, a 4xx status for one).

use async_graphql::{Request, Response as GraphQLResponse, ServerError};
use axum::{
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use super::{error_body, error_response};
use crate::domain::error::{codes, Error};

/// The media type of a GraphQL response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    /// `application/json`: request errors are 200.
    Json,
    /// `application/graphql-response+json`: request errors are 4xx.
    GraphQLResponse,
}

impl Media {
    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Self::Json => "application/json; charset=utf-8",
            Self::GraphQLResponse => "application/graphql-response+json; charset=utf-8",
        })
    }
}

/// What a request's `Accept` header allows.
#[derive(Debug, Clone, Copy)]
pub struct Accepts {
    pub media: Media,
    /// Apollo's multipart subscriptions (`multipart/mixed` with
    /// `subscriptionSpec`).
    pub multipart: bool,
    /// `text/event-stream`.
    pub event_stream: bool,
    /// `text/html` is preferred to any JSON (a browser's address bar).
    pub html: bool,
}

impl Accepts {
    pub fn of(headers: &HeaderMap) -> Self {
        let mut json = None::<f32>;
        let mut graphql_response = None::<f32>;
        let mut html = None::<f32>;
        let mut multipart = false;
        let mut event_stream = false;
        for value in headers.get_all(header::ACCEPT) {
            let Ok(value) = value.to_str() else { continue };
            for range in value.split(',') {
                let mut parts = range.split(';').map(str::trim);
                let media = parts.next().unwrap_or_default().to_ascii_lowercase();
                let mut q = 1.0_f32;
                let mut subscription_spec = false;
                for param in parts {
                    let (name, value) = param.split_once('=').unwrap_or((param, ""));
                    let value = value.trim().trim_matches('"');
                    match name.trim().to_ascii_lowercase().as_str() {
                        "q" => q = value.parse().unwrap_or(0.0),
                        "subscriptionspec" => subscription_spec = true,
                        _ => {}
                    }
                }
                if q <= 0.0 {
                    continue;
                }
                let best = |slot: &mut Option<f32>| *slot = Some(slot.map_or(q, |s| s.max(q)));
                match media.as_str() {
                    "application/json" => best(&mut json),
                    "application/graphql-response+json" => best(&mut graphql_response),
                    "text/html" => best(&mut html),
                    "multipart/mixed" if subscription_spec => multipart = true,
                    "text/event-stream" => event_stream = true,
                    _ => {}
                }
            }
        }
        let media = match (graphql_response, json) {
            (Some(g), Some(j)) if j > g => Media::Json,
            (Some(_), _) => Media::GraphQLResponse,
            _ => Media::Json,
        };
        let best_json = graphql_response.unwrap_or(0.0).max(json.unwrap_or(0.0));
        Self {
            media,
            multipart,
            event_stream,
            html: html.is_some_and(|h| h > best_json),
        }
    }
}

/// A GraphQL request from URL parameters (`variables` and `extensions` as
/// JSON text).
pub fn request_from_query(raw: &str) -> Result<Request, String> {
    let mut query = None;
    let mut operation_name = None;
    let mut variables = None;
    let mut extensions = None;
    for (name, value) in form_urlencoded(raw)? {
        match name.as_str() {
            "query" => query = Some(value),
            "operationName" => operation_name = Some(value),
            "variables" => variables = Some(value),
            "extensions" => extensions = Some(value),
            _ => {}
        }
    }
    let mut request = Request::new(query.unwrap_or_default());
    if let Some(name) = operation_name.filter(|n| !n.is_empty()) {
        request = request.operation_name(name);
    }
    if let Some(text) = variables.filter(|v| !v.is_empty()) {
        let json: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| format!("the variables parameter is not JSON: {e}"))?;
        match json {
            serde_json::Value::Object(_) => {
                request = request.variables(async_graphql::Variables::from_json(json))
            }
            serde_json::Value::Null => {}
            _ => return Err("the variables parameter must be a JSON object".into()),
        }
    }
    if let Some(text) = extensions.filter(|v| !v.is_empty()) {
        let json: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| format!("the extensions parameter is not JSON: {e}"))?;
        match json {
            serde_json::Value::Object(map) => {
                for (name, value) in map {
                    let value = async_graphql::Value::from_json(value)
                        .map_err(|e| format!("the extensions parameter: {e}"))?;
                    request.extensions.insert(name, value);
                }
            }
            serde_json::Value::Null => {}
            _ => return Err("the extensions parameter must be a JSON object".into()),
        }
    }
    Ok(request)
}

fn form_urlencoded(raw: &str) -> Result<Vec<(String, String)>, String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(raw)
        .map_err(|e| format!("the URL's parameters do not parse: {e}"))
}

/// POST bodies must say they are JSON (in UTF-8, the only encoding taken):
/// `None` if so, else the 415 to answer.
pub(crate) fn wrong_content_type(headers: &HeaderMap) -> Option<Response> {
    let refuse = |message: &str| {
        let error = Error::bad_input(message);
        Some((StatusCode::UNSUPPORTED_MEDIA_TYPE, error_body(&error)).into_response())
    };
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return refuse("no Content-Type: send the request as application/json");
    };
    let value = value.to_str().unwrap_or_default().to_ascii_lowercase();
    let mut parts = value.split(';').map(str::trim);
    if parts.next() != Some("application/json") {
        return refuse("unsupported Content-Type: send the request as application/json");
    }
    for param in parts {
        if let Some(charset) = param.strip_prefix("charset=") {
            if !matches!(charset.trim_matches('"'), "utf-8" | "utf8") {
                return refuse("unsupported charset: send the request in UTF-8");
            }
        }
    }
    None
}

/// A response's body as the spec has it: no `data` for a request error.
#[derive(Serialize)]
pub struct Body<'r> {
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'r async_graphql::Value>,
    #[serde(skip_serializing_if = "<[ServerError]>::is_empty")]
    errors: &'r [ServerError],
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    extensions: &'r std::collections::BTreeMap<String, async_graphql::Value>,
}

impl<'r> Body<'r> {
    pub fn of(response: &'r GraphQLResponse) -> Self {
        Self {
            data: (!is_request_error(response)).then_some(&response.data),
            errors: &response.errors,
            extensions: &response.extensions,
        }
    }
}

/// Whether nothing ran: no data, and no error that belongs to a field
/// (errors raised before execution have no path).
pub fn is_request_error(response: &GraphQLResponse) -> bool {
    matches!(response.data, async_graphql::Value::Null)
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

/// A GraphQL response in the media type the client accepts.
pub fn encode(response: &GraphQLResponse, media: Media) -> Response {
    let status = if media == Media::GraphQLResponse && is_request_error(response) {
        request_error_status(response.errors.first())
    } else {
        StatusCode::OK
    };
    json(status, media, &Body::of(response))
}

/// A batch's responses, in order, as one JSON array (200: some may have run).
pub fn encode_batch(responses: &[GraphQLResponse], media: Media) -> Response {
    let bodies: Vec<Body<'_>> = responses.iter().map(Body::of).collect();
    json(StatusCode::OK, media, &bodies)
}

/// The status of a request error under `application/graphql-response+json`.
fn request_error_status(first: Option<&ServerError>) -> StatusCode {
    let code = first
        .and_then(|e| e.extensions.as_ref())
        .and_then(|e| e.get("code"))
        .and_then(|v| match v {
            async_graphql::Value::String(s) => Some(s.as_str()),
            _ => None,
        });
    match code {
        Some(codes::FORBIDDEN) => StatusCode::FORBIDDEN,
        Some(codes::UNAUTHENTICATED) => StatusCode::UNAUTHORIZED,
        _ => StatusCode::BAD_REQUEST,
    }
}

fn json(status: StatusCode, media: Media, body: &impl Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (
            status,
            [(header::CONTENT_TYPE, media.content_type())],
            bytes,
        )
            .into_response(),
        Err(error) => error_response(&Error::internal(format!(
            "cannot encode a response: {error}"
        ))),
    }
}
