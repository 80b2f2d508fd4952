//! The two GraphQL-over-WebSocket subprotocols, as messages: what a client
//! may send, parsed into [`ClientMessage`], and what the server sends,
//! written by [`Protocol`]'s methods. Nothing else in the service reads or
//! writes these messages' text.
//!
//! - `graphql-transport-ws` (graphql-ws, Apollo's current link):
//!   `connection_init`, `ping`/`pong`, `subscribe`, `complete`; the server
//!   answers `connection_ack`, `next`, `error`, `complete`, and closes with
//!   the codes the protocol defines (4400, 4401, 4403, 4408, 4409, 4429).
//! - `graphql-ws` (the legacy subscriptions-transport-ws): `connection_init`,
//!   `start`, `stop`, `connection_terminate`; the server answers
//!   `connection_ack`, `connection_error`, `data`, `error`, `complete`.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::{json, value::RawValue, Value};

/// Longest subscription id accepted, in bytes.
pub const MAX_ID_BYTES: usize = 128;

/// Close codes, as graphql-ws defines them (and 1001/1009 from RFC 6455).
pub mod close {
    pub const GOING_AWAY: u16 = 1001;
    pub const TOO_BIG: u16 = 1009;
    pub const BAD_REQUEST: u16 = 4400;
    pub const UNAUTHORIZED: u16 = 4401;
    pub const FORBIDDEN: u16 = 4403;
    pub const INIT_TIMEOUT: u16 = 4408;
    pub const DUPLICATE_ID: u16 = 4409;
    pub const TOO_MANY: u16 = 4429;

    /// The most a close frame's reason may hold: a control frame carries
    /// 125 bytes, two of them the code (RFC 6455 §5.5). A longer one makes
    /// clients fail the connection (1002) and never see the code.
    pub const MAX_REASON_BYTES: usize = 123;

    /// `reason` cut to [`MAX_REASON_BYTES`], on a character boundary.
    pub fn reason(reason: &str) -> &str {
        let mut end = reason.len().min(MAX_REASON_BYTES);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        &reason[..end]
    }
}

/// Which subprotocol a socket speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `graphql-transport-ws`.
    TransportWs,
    /// `graphql-ws`, the legacy subscriptions-transport-ws protocol.
    LegacyWs,
}

impl Protocol {
    /// The `Sec-WebSocket-Protocol` value.
    pub fn name(self) -> &'static str {
        match self {
            Self::TransportWs => "graphql-transport-ws",
            Self::LegacyWs => "graphql-ws",
        }
    }

    /// The subprotocol a client asked for: the first it lists that we speak.
    pub fn choose<'a>(offered: impl Iterator<Item = &'a str>) -> Option<Self> {
        offered
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .find_map(|p| match p {
                "graphql-transport-ws" => Some(Self::TransportWs),
                "graphql-ws" => Some(Self::LegacyWs),
                _ => None,
            })
    }

    pub fn ack(self) -> String {
        json!({"type": "connection_ack"}).to_string()
    }

    pub fn pong(self, payload: Option<&RawValue>) -> String {
        match payload {
            Some(payload) => format!(r#"{{"type":"pong","payload":{}}}"#, payload.get()),
            None => json!({"type": "pong"}).to_string(),
        }
    }

    /// One result of an operation: `next` (or the legacy `data`).
    pub fn next(self, id: &str, response: &async_graphql::Response) -> String {
        let payload = serde_json::to_string(response)
            .unwrap_or_else(|_| r#"{"errors":[{"message":"unserializable result"}]}"#.into());
        self.next_json(id, &payload)
    }

    /// A result already serialised (shared by several subscribers).
    pub fn next_json(self, id: &str, payload: &str) -> String {
        let kind = match self {
            Self::TransportWs => "next",
            Self::LegacyWs => "data",
        };
        format!(
            r#"{{"type":"{kind}","id":{},"payload":{payload}}}"#,
            Value::from(id)
        )
    }

    /// The server ended an operation.
    pub fn complete(self, id: &str) -> String {
        json!({"type": "complete", "id": id}).to_string()
    }

    /// An operation refused before it ran: graphql-ws sends a list of
    /// errors, the legacy protocol one.
    pub fn error(self, id: &str, message: &str, code: &str) -> String {
        let error = json!({"message": message, "extensions": {"code": code}});
        match self {
            Self::TransportWs => json!({"type": "error", "id": id, "payload": [error]}),
            Self::LegacyWs => json!({"type": "error", "id": id, "payload": error}),
        }
        .to_string()
    }

    /// An operation refused before it ran, with the GraphQL errors that
    /// say why (graphql-ws sends them all, the legacy protocol the first).
    pub fn errors(self, id: &str, errors: &[async_graphql::ServerError]) -> String {
        let payload = match self {
            Self::TransportWs => serde_json::to_value(errors),
            Self::LegacyWs => serde_json::to_value(errors.first()),
        }
        .unwrap_or_default();
        json!({"type": "error", "id": id, "payload": payload}).to_string()
    }

    /// A refused `connection_init`, for the legacy protocol (graphql-ws
    /// closes with 4403 instead).
    pub fn connection_error(self, message: &str, code: &str) -> String {
        json!({"type": "connection_error", "payload": {"message": message, "extensions": {"code": code}}})
            .to_string()
    }
}

/// A message from the client.
#[derive(Debug)]
pub enum ClientMessage<'a> {
    Init { payload: Option<&'a RawValue> },
    Subscribe { id: String, payload: &'a RawValue },
    Complete { id: String },
    Ping { payload: Option<&'a RawValue> },
    Pong,
    Terminate,
}

/// Just enough of a message to know what it is: its payload is borrowed,
/// not parsed (the raw value is only delimited).
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    id: Option<String>,
    #[serde(borrow)]
    payload: Option<&'a RawValue>,
}

/// Only the type of a message: what is read of a message that arrives
/// before `connection_init` was accepted.
#[derive(Deserialize)]
struct TypeOnly<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
}

/// The type of a message, without looking at anything else in it.
pub fn message_type(text: &str) -> Option<Cow<'_, str>> {
    serde_json::from_str::<TypeOnly<'_>>(text)
        .ok()
        .map(|t| t.kind)
}

/// Parses a client message of `protocol`; `Err` with the reason when it is
/// not one.
pub fn parse(protocol: Protocol, text: &str) -> Result<ClientMessage<'_>, String> {
    let envelope: Envelope<'_> =
        serde_json::from_str(text).map_err(|e| format!("invalid message: {e}"))?;
    let id = |id: Option<String>| match id {
        Some(id) if !id.is_empty() && id.len() <= MAX_ID_BYTES => Ok(id),
        Some(_) => Err(format!("an id must be 1 to {MAX_ID_BYTES} bytes long")),
        None => Err(format!("a {} message needs an id", envelope.kind)),
    };
    let payload = envelope.payload.filter(|p| p.get() != "null");
    match (protocol, envelope.kind.as_ref()) {
        (_, "connection_init") => Ok(ClientMessage::Init { payload }),
        (Protocol::TransportWs, "subscribe") | (Protocol::LegacyWs, "start") => {
            let id = id(envelope.id)?;
            let payload = payload.ok_or_else(|| format!("{} without a payload", envelope.kind))?;
            Ok(ClientMessage::Subscribe { id, payload })
        }
        (Protocol::TransportWs, "complete") | (Protocol::LegacyWs, "stop") => {
            Ok(ClientMessage::Complete {
                id: id(envelope.id)?,
            })
        }
        (Protocol::TransportWs, "ping") => Ok(ClientMessage::Ping { payload }),
        (Protocol::TransportWs, "pong") => Ok(ClientMessage::Pong),
        (Protocol::LegacyWs, "connection_terminate") => Ok(ClientMessage::Terminate),
        (_, other) => Err(format!("unknown message type {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_reasons_are_cut_to_a_control_frame_on_a_character() {
        assert_eq!(close::reason("token expired"), "token expired");
        let ascii = "x".repeat(200);
        assert_eq!(close::reason(&ascii).len(), close::MAX_REASON_BYTES);
        // 'é' is two bytes: 123 falls inside the 62nd; 61 whole ones fit.
        let accents = "é".repeat(100);
        assert_eq!(close::reason(&accents), "é".repeat(61));
    }

    #[test]
    fn messages_of_each_protocol_parse() {
        let transport = Protocol::TransportWs;
        assert!(matches!(
            parse(transport, r#"{"type":"subscribe","id":"1","payload":{"query":"{ a }"}}"#),
            Ok(ClientMessage::Subscribe { ref id, .. }) if id == "1"
        ));
        assert!(parse(transport, r#"{"type":"start","id":"1","payload":{}}"#).is_err());
        assert!(matches!(
            parse(
                Protocol::LegacyWs,
                r#"{"type":"start","id":"1","payload":{"query":"{ a }"}}"#
            ),
            Ok(ClientMessage::Subscribe { .. })
        ));
        assert!(parse(transport, r#"{"type":"subscribe","payload":{}}"#).is_err());
        let long = format!(r#"{{"type":"complete","id":"{}"}}"#, "x".repeat(129));
        assert!(parse(transport, &long).is_err());
        assert!(parse(transport, "not json").is_err());
        assert_eq!(
            message_type(r#"{"payload":{"huge":[1,2,3]},"type":"subscribe"}"#).as_deref(),
            Some("subscribe")
        );
    }

    #[test]
    fn the_first_offered_subprotocol_we_speak_is_chosen() {
        assert_eq!(
            Protocol::choose(["foo, graphql-ws", "graphql-transport-ws"].into_iter()),
            Some(Protocol::LegacyWs)
        );
        assert_eq!(Protocol::choose(["foo"].into_iter()), None);
    }
}
