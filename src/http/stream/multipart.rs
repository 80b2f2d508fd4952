//! Apollo's multipart subscriptions: the response is
//! `multipart/mixed; boundary="graphql"; subscriptionSpec="1.0"`, each
//! part one JSON object: `{"payload": {"data": …}}` per result, `{}` as a
//! heartbeat, `{"payload": null, "errors": […]}` when the transport ends
//! the stream (shutdown, an expired token), and the closing delimiter
//! `--graphql--` when the stream ends.

use axum::{
    body::{Body, Bytes},
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
};

use futures_util::StreamExt;
use serde_json::json;

use super::{events, Event};
use crate::{
    api::prepare::Prepared,
    auth::Session,
    http::{codec, AppState},
};

const CONTENT_TYPE: &str = "multipart/mixed; boundary=\"graphql\"; subscriptionSpec=\"1.0\"";
const PART: &str = "\r\n--graphql\r\ncontent-type: application/json; charset=utf-8\r\n\r\n";
const END: &str = "\r\n--graphql--\r\n";

/// Streams a subscription to an Apollo client.
pub fn respond(state: &AppState, session: Session, prepared: Prepared) -> Response {
    let parts = events(state, session, prepared, "multipart").flat_map(|event| {
        let chunks: Vec<Bytes> = match event {
            Event::Next(response) => {
                let payload = codec::Body::of(&response);
                vec![part(&Envelope { payload })]
            }
            Event::Heartbeat => vec![part(&json!({}))],
            Event::Complete => vec![Bytes::from_static(END.as_bytes())],
            Event::Fail(error) => vec![
                part(&json!({ "payload": null, "errors": [error] })),
                Bytes::from_static(END.as_bytes()),
            ],
        };
        futures_util::stream::iter(chunks.into_iter().map(Ok::<_, std::convert::Infallible>))
    });
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        Body::from_stream(parts),
    )
        .into_response()
}

/// A result's part: the response's fields in the order the document asked
/// for them, as on every other transport.
#[derive(serde::Serialize)]
struct Envelope<T> {
    payload: T,
}

fn part(value: &impl serde::Serialize) -> Bytes {
    let mut bytes = PART.as_bytes().to_vec();
    // A GraphQL response and a JSON value always serialise.
    bytes.extend_from_slice(&serde_json::to_vec(value).unwrap_or_default());
    Bytes::from(bytes)
}
