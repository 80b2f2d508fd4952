//! Subscriptions over HTTP, read as a client would: Apollo's multipart
//! protocol and Server-Sent Events, each part or event parsed as it comes.

use serde_json::{json, Value};

use super::{within, Client, PATIENCE};

/// Which HTTP streaming protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Streaming {
    /// `POST /graphql`, `Accept: multipart/mixed;subscriptionSpec=1.0`.
    Multipart,
    /// `POST /graphql/stream`, `Accept: text/event-stream`.
    Sse,
}

/// What a stream delivered.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// A result (`payload` of a multipart part, `data` of a `next` event).
    Next(Value),
    /// A heartbeat (`{}`, or an SSE comment).
    Heartbeat,
    /// The transport ended the stream with these errors (multipart's
    /// `{"payload": null, "errors": …}`).
    Failed(Value),
    /// The stream ended (`--graphql--`, or the `complete` event).
    End,
}

/// One open stream.
pub struct HttpStream {
    pub status: u16,
    pub content_type: String,
    response: Option<reqwest::Response>,
    protocol: Streaming,
    buffer: String,
    ended: bool,
    /// Parts read but not yet taken.
    ready: std::collections::VecDeque<Part>,
}

impl HttpStream {
    /// Opens a stream for `query` as `client` (with its token, if any).
    pub async fn open(client: &Client, protocol: Streaming, query: &str, variables: Value) -> Self {
        let (path, accept) = match protocol {
            Streaming::Multipart => (
                "/graphql",
                "multipart/mixed;boundary=\"graphql\";subscriptionSpec=\"1.0\",application/json;q=0.9",
            ),
            Streaming::Sse => ("/graphql/stream", "text/event-stream"),
        };
        let mut request = client
            .http()
            .post(client.url(path))
            .header("content-type", "application/json")
            .header("accept", accept)
            .body(json!({"query": query, "variables": variables}).to_string());
        if let Some(token) = &client.token {
            request = request.bearer_auth(token);
        }
        let response = within(PATIENCE, "the stream's response", request.send())
            .await
            .expect("the stream's response");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Self {
            status,
            content_type,
            response: Some(response),
            protocol,
            buffer: String::new(),
            ended: false,
            ready: Default::default(),
        }
    }

    /// The whole body of a response that is not a stream.
    pub async fn body(mut self) -> Value {
        let response = self.response.take().expect("a response");
        let text = within(PATIENCE, "the body", response.text())
            .await
            .expect("the body");
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    }

    /// The next part, heartbeats included.
    pub async fn next_part(&mut self) -> Part {
        loop {
            if let Some(part) = self.ready.pop_front() {
                return part;
            }
            if self.ended {
                return Part::End;
            }
            let response = self.response.as_mut().expect("a response");
            let chunk = within(PATIENCE, "the next part of the stream", response.chunk())
                .await
                .expect("the stream reads");
            match chunk {
                Some(bytes) => {
                    self.buffer.push_str(&String::from_utf8_lossy(&bytes));
                    self.parse();
                }
                None => {
                    self.ended = true;
                    self.ready.push_back(Part::End);
                }
            }
        }
    }

    /// The next part that is not a heartbeat.
    pub async fn next(&mut self) -> Part {
        loop {
            match self.next_part().await {
                Part::Heartbeat => continue,
                other => return other,
            }
        }
    }

    /// The next result's `data.<field>`, failing on anything else.
    pub async fn next_data(&mut self, field: &str) -> Value {
        match self.next().await {
            Part::Next(payload) => {
                assert!(payload.get("errors").is_none(), "errors: {payload}");
                payload["data"][field].clone()
            }
            other => panic!("expected a result, got {other:?}"),
        }
    }

    /// Drops the connection.
    pub fn close(mut self) {
        self.response.take();
    }

    fn parse(&mut self) {
        match self.protocol {
            Streaming::Multipart => self.parse_multipart(),
            Streaming::Sse => self.parse_sse(),
        }
    }

    fn parse_multipart(&mut self) {
        const DELIMITER: &str = "\r\n--graphql";
        loop {
            let Some(start) = self.buffer.find(DELIMITER) else {
                return;
            };
            let after = start + DELIMITER.len();
            if self.buffer[after..].starts_with("--") {
                self.buffer.clear();
                self.ended = true;
                self.ready.push_back(Part::End);
                return;
            }
            // A part runs to the next delimiter.
            let Some(next) = self.buffer[after..].find(DELIMITER) else {
                return;
            };
            let part = self.buffer[after..after + next].to_owned();
            self.buffer.drain(..after + next);
            let body = part.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
            let value: Value = serde_json::from_str(body.trim())
                .unwrap_or_else(|e| panic!("a part that is not JSON ({e}): {body:?}"));
            let parsed = match value.get("payload") {
                None if value.as_object().is_some_and(|o| o.is_empty()) => Part::Heartbeat,
                Some(Value::Null) => Part::Failed(value["errors"].clone()),
                Some(payload) => Part::Next(payload.clone()),
                None => panic!("a part without payload: {value}"),
            };
            self.ready.push_back(parsed);
        }
    }

    fn parse_sse(&mut self) {
        while let Some(end) = self.buffer.find("\n\n") {
            let event = self.buffer[..end].to_owned();
            self.buffer.drain(..end + 2);
            let mut kind = None;
            let mut data = String::new();
            let mut comment = false;
            for line in event.lines() {
                if line.starts_with(':') {
                    comment = true;
                } else if let Some(k) = line.strip_prefix("event:") {
                    kind = Some(k.trim().to_owned());
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push_str(d.trim_start());
                }
            }
            let part =
                match kind.as_deref() {
                    Some("next") => Part::Next(serde_json::from_str(&data).unwrap_or_else(|e| {
                        panic!("a next event that is not JSON ({e}): {data:?}")
                    })),
                    Some("complete") => {
                        self.ended = true;
                        Part::End
                    }
                    None if comment => Part::Heartbeat,
                    other => panic!("an unknown event {other:?}: {event:?}"),
                };
            self.ready.push_back(part);
        }
    }
}
