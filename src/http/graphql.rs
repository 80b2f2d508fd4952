//! GraphQL over HTTP, as the GraphQL Foundation's spec has it:
//!
//! - `POST /graphql` with `Content-Type: application/json` (anything else is
//!   415): one request or a batch (a JSON array, at most `max_batch`
//!   operations sharing one request's complexity budget);
//! - `GET /graphql?query=…&variables=…&operationName=…&extensions=…`:
//!   queries only (a mutation is 405, `Allow: POST`); a browser asking for
//!   `text/html`, or a GET with no query at all, gets GraphiQL;
//! - the answer is `application/graphql-response+json` when the client
//!   accepts it, and then a request error (the document does not parse,
//!   breaks a validation rule, names no operation, or its variables do not
//!   coerce: nothing ran) is a 400 without `data`; under
//!   `application/json` those are 200, as clients of that media type
//!   expect. A malformed body is 400 under either.
//!
//! A subscription sent here streams when the client asks for it in
//! `Accept`: Apollo's multipart protocol or Server-Sent Events (see
//! [`super::stream`]); otherwise the error names the transports that
//! stream.

use async_graphql::{BatchRequest, Request, Response as GraphQLResponse, ServerError};
use axum::{
    body::Bytes,
    extract::{RawQuery, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use super::{bad_request, error_response, graphiql, stream, AppState};
use crate::{
    api::{
        limits::{record_operation, ComplexityShare},
        prepare::{Kind, Refused},
    },
    auth::Session,
    error::{codes, Error},
};

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

/// `POST /graphql`.
pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let accepts = Accepts::of(&headers);
    if let Some(refusal) = wrong_content_type(&headers) {
        return refusal;
    }
    let session = match state.session(&headers).await {
        Ok(session) => session,
        Err(error) => return error_response(&error),
    };
    if body.is_empty() {
        return bad_request("the request body is empty: send a JSON GraphQL request".into());
    }
    let batch: BatchRequest = match serde_json::from_slice(&body) {
        Ok(batch) => batch,
        Err(error) => {
            return bad_request(format!("request body is not a GraphQL request: {error}"))
        }
    };
    match batch {
        BatchRequest::Single(request) => {
            run_one(&state, session, request, accepts, Method::POST).await
        }
        BatchRequest::Batch(requests) => run_batch(&state, session, requests, accepts).await,
    }
}

/// `GET /graphql`: GraphiQL for browsers, queries for everyone else.
pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let accepts = Accepts::of(&headers);
    let raw = raw.unwrap_or_default();
    if accepts.html || raw.is_empty() {
        return graphiql::page(&state).await;
    }
    let request = match request_from_query(&raw) {
        Ok(request) => request,
        Err(message) => return bad_request(message),
    };
    let session = match state.session(&headers).await {
        Ok(session) => session,
        Err(error) => return error_response(&error),
    };
    run_one(&state, session, request, accepts, Method::GET).await
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
        Some(
            (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                super::error_body(&error),
            )
                .into_response(),
        )
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

/// Runs one request, however it came.
async fn run_one(
    state: &AppState,
    session: Session,
    request: Request,
    accepts: Accepts,
    method: Method,
) -> Response {
    if request.query.is_empty() && !request.extensions.contains_key("persistedQuery") {
        return bad_request(
            "the request has no query: send `query` (or a persisted query's hash in `extensions`)"
                .into(),
        );
    }
    let prepared = match state.gate.prepare(request, &session.caller).await {
        Ok(prepared) => prepared,
        Err(refused) => {
            record_operation(refused.label, &refused.response());
            return refusal(&refused, accepts.media);
        }
    };
    match prepared.kind {
        Kind::Mutation if method == Method::GET => {
            let error = Error::bad_input("mutations are not run on GET: POST them");
            let mut response =
                (StatusCode::METHOD_NOT_ALLOWED, super::error_body(&error)).into_response();
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            response
        }
        Kind::Subscription if accepts.multipart => {
            stream::multipart::respond(state, session, prepared)
        }
        Kind::Subscription if accepts.event_stream => {
            stream::sse::respond(state, session, prepared)
        }
        Kind::Subscription => {
            let refused = subscription_needs_a_stream(prepared.label);
            record_operation(refused.label, &refused.response());
            refusal(&refused, accepts.media)
        }
        Kind::Query | Kind::Mutation => {
            let label = prepared.label;
            let response = state
                .schemas
                .of(&prepared)
                .execute(prepared.request.data(session.caller))
                .await;
            record_operation(label, &response);
            encode(&response, accepts.media)
        }
    }
}

/// The refusal of a subscription sent without a streaming `Accept`.
pub fn subscription_needs_a_stream(label: &'static str) -> Refused {
    Refused {
        errors: vec![crate::api::coded(
            codes::BAD_USER_INPUT,
            "a subscription needs a transport that streams: a WebSocket at /ws (subprotocol \
             graphql-transport-ws, as graphql-ws and Apollo's GraphQLWsLink speak it, or the \
             legacy graphql-ws), POST /graphql with Accept: multipart/mixed;subscriptionSpec=1.0 \
             (Apollo Client's HttpLink), or /graphql/stream with Accept: text/event-stream \
             (graphql-sse)",
        )],
        label,
    }
}

async fn run_batch(
    state: &AppState,
    session: Session,
    requests: Vec<Request>,
    accepts: Accepts,
) -> Response {
    if requests.is_empty() || requests.len() > state.max_batch {
        return bad_request(format!(
            "a batch holds 1 to {} operations; this one holds {}",
            state.max_batch,
            requests.len()
        ));
    }
    let share = ComplexityShare(state.max_complexity / requests.len());
    let mut bodies = Vec::with_capacity(requests.len());
    for request in requests {
        let response = match state.gate.prepare(request, &session.caller).await {
            Err(refused) => {
                let response = refused.response();
                record_operation(refused.label, &response);
                response
            }
            Ok(prepared) if prepared.kind == Kind::Subscription => {
                let refused = subscription_needs_a_stream(prepared.label);
                let response = refused.response();
                record_operation(refused.label, &response);
                response
            }
            Ok(prepared) => {
                let label = prepared.label;
                let response = state
                    .schemas
                    .of(&prepared)
                    .execute(prepared.request.data(session.caller.clone()).data(share))
                    .await;
                record_operation(label, &response);
                response
            }
        };
        bodies.push(response);
    }
    let bodies: Vec<Body<'_>> = bodies.iter().map(Body::of).collect();
    json(StatusCode::OK, accepts.media, &bodies)
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

/// A refusal from the gate, as a response.
fn refusal(refused: &Refused, media: Media) -> Response {
    encode(&refused.response(), media)
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
