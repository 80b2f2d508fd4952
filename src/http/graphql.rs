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
//! stream. The encoding this route shares with the streams is
//! [`super::codec`].

use async_graphql::{BatchRequest, Request};
use axum::{
    body::Bytes,
    extract::{RawQuery, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
};

use super::{
    bad_request,
    codec::{encode, encode_batch, request_from_query, wrong_content_type, Accepts, Media},
    error_response, graphiql, stream, AppState,
};
use crate::{
    api::{
        limits::{record_operation, ComplexityShare},
        prepare::{Kind, Refused},
    },
    auth::Session,
    domain::error::{codes, Error},
};

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
    if requests.is_empty() || requests.len() > state.limits.max_batch {
        return bad_request(format!(
            "a batch holds 1 to {} operations; this one holds {}",
            state.limits.max_batch,
            requests.len()
        ));
    }
    let share = ComplexityShare(state.limits.max_complexity / requests.len());
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
    encode_batch(&bodies, accepts.media)
}

/// A refusal from the gate, as a response.
fn refusal(refused: &Refused, media: Media) -> Response {
    encode(&refused.response(), media)
}
