//! GraphQL over HTTP: the client, its token, and raw execution.

use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::{Error, GraphQLError, Result};

/// A client of one service.
#[derive(Clone, Debug)]
pub struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Client {
    /// A client of the service at `base` (`http://host:port`).
    pub fn new(base: impl Into<String>) -> Result<Self> {
        let http = reqwest::Client::builder()
            .build()
            .map_err(|e| Error::Transport(e.to_string()))?;
        Ok(Self::with_http(base, http))
    }

    /// A client sending through `http` (to share its connection pool, or
    /// set its timeouts).
    pub fn with_http(base: impl Into<String>, http: reqwest::Client) -> Self {
        Self {
            base: base.into().trim_end_matches('/').to_owned(),
            token: None,
            http,
        }
    }

    /// The same client, sending `Authorization: Bearer <token>` (and the
    /// token in `connection_init` on subscriptions).
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The token sent, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The service's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// A URL on the service.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The WebSocket URL of subscriptions.
    pub fn ws_url(&self) -> String {
        let rest = self
            .base
            .strip_prefix("https://")
            .map(|r| format!("wss://{r}"))
            .or_else(|| {
                self.base
                    .strip_prefix("http://")
                    .map(|r| format!("ws://{r}"))
            })
            .unwrap_or_else(|| self.base.clone());
        format!("{rest}/ws")
    }

    /// The HTTP client underneath.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Posts a raw body to a path (with the token); the status and the
    /// body's bytes.
    pub async fn post_raw(
        &self,
        path: &str,
        body: impl Into<reqwest::Body>,
    ) -> Result<(u16, Vec<u8>)> {
        let mut request = self
            .http
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .map_err(|e| Error::Transport(e.to_string()))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| Error::Transport(e.to_string()))?;
        Ok((status, body.to_vec()))
    }

    /// Runs any GraphQL document; the whole response as JSON, whatever it
    /// holds (data, errors or both), with the HTTP status.
    pub async fn execute(&self, query: &str, variables: Value) -> Result<(u16, Value)> {
        let body = json!({"query": query, "variables": variables}).to_string();
        let (status, bytes) = self.post_raw("/graphql", body).await?;
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Ok((status, value))
    }

    /// Runs a document that must succeed; its `data`.
    pub async fn data(&self, query: &str, variables: Value) -> Result<Value> {
        let (status, body) = self.execute(query, variables).await?;
        if let Some(errors) = body.get("errors") {
            let errors: Vec<GraphQLError> = serde_json::from_value(errors.clone())
                .map_err(|e| Error::Unexpected(format!("errors of another shape: {e}")))?;
            return Err(Error::GraphQL(errors));
        }
        if !(200..300).contains(&status) {
            return Err(Error::Status {
                status,
                body: body.to_string(),
            });
        }
        Ok(body.get("data").cloned().unwrap_or(Value::Null))
    }

    /// Runs a document and reads `data.<field>` as `T`.
    pub async fn field<T: DeserializeOwned>(
        &self,
        field: &str,
        query: &str,
        variables: Value,
    ) -> Result<T> {
        let data = self.data(query, variables).await?;
        serde_json::from_value(data.get(field).cloned().unwrap_or(Value::Null))
            .map_err(|e| Error::Unexpected(format!("{field}: {e}")))
    }
}
