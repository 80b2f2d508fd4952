//! GraphQL over Server-Sent Events, the `graphql-sse` protocol's
//! distinct-connections mode: one `text/event-stream` response per
//! operation on `/graphql/stream` (`POST` with a JSON body, or `GET` with
//! the parameters in the URL), each result a `next` event, then a
//! `complete` event. As the protocol asks, a request refused before it runs
//! (it does not parse or validate) is reported in the stream, as a `next`
//! event holding the errors; only what is not GraphQL (a body that is not
//! JSON, a bad token) is an HTTP error. A comment line is the heartbeat.

use async_graphql::Request;
use axum::{
    body::{Body, Bytes},
    extract::{RawQuery, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
};
use futures_util::StreamExt;

use super::{events, Event};
use crate::{
    api::{
        limits::record_operation,
        prepare::{Kind, Prepared},
    },
    auth::Session,
    domain::error::Error,
    http::{
        bad_request,
        codec::{self, request_from_query, wrong_content_type},
        error_body, error_response, AppState,
    },
};

/// `POST /graphql/stream`.
pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(refusal) = wrong_content_type(&headers) {
        return refusal;
    }
    let request: Request = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => {
            return bad_request(format!(
                "request body is not one GraphQL request (a stream runs one operation): {error}"
            ))
        }
    };
    run(&state, &headers, request, Method::POST).await
}

/// `GET /graphql/stream?query=…`.
pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    match request_from_query(&raw.unwrap_or_default()) {
        Ok(request) => run(&state, &headers, request, Method::GET).await,
        Err(message) => bad_request(message),
    }
}

async fn run(state: &AppState, headers: &HeaderMap, request: Request, method: Method) -> Response {
    let session = match state.session(headers).await {
        Ok(session) => session,
        Err(error) => return error_response(&error),
    };
    if request.query.is_empty() && !request.extensions.contains_key("persistedQuery") {
        return bad_request("the request has no query".into());
    }
    match state.gate.prepare(request, &session.caller).await {
        Err(refused) => {
            let response = refused.response();
            record_operation(refused.label, &response);
            let body = format!(
                "event: next\ndata: {}\n\nevent: complete\ndata: \n\n",
                serde_json::to_string(&codec::Body::of(&response)).unwrap_or_default()
            );
            stream_response(Body::from(body))
        }
        Ok(prepared) if prepared.kind == Kind::Mutation && method == Method::GET => {
            let error = Error::bad_input("mutations are not run on GET: POST them");
            let mut response = (StatusCode::METHOD_NOT_ALLOWED, error_body(&error)).into_response();
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            response
        }
        Ok(prepared) => respond(state, session, prepared),
    }
}

/// Streams an operation's results as Server-Sent Events.
pub fn respond(state: &AppState, session: Session, prepared: Prepared) -> Response {
    let events = events(state, session, prepared, "sse").map(|event| {
        let text = match event {
            Event::Next(response) => format!(
                "event: next\ndata: {}\n\n",
                serde_json::to_string(&codec::Body::of(&response)).unwrap_or_default()
            ),
            Event::Heartbeat => ":\n\n".to_owned(),
            Event::Complete => "event: complete\ndata: \n\n".to_owned(),
            Event::Fail(error) => format!(
                "event: next\ndata: {}\n\nevent: complete\ndata: \n\n",
                serde_json::json!({ "errors": [error] })
            ),
        };
        Ok::<_, std::convert::Infallible>(Bytes::from(text))
    });
    stream_response(Body::from_stream(events))
}

fn stream_response(body: Body) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            // nginx and its kin would otherwise hold events back.
            (
                header::HeaderName::from_static("x-accel-buffering"),
                HeaderValue::from_static("no"),
            ),
        ],
        body,
    )
        .into_response()
}
