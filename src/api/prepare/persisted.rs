//! Persisted documents: Apollo's automatic persisted queries (APQ) and an
//! operator's list of trusted documents.
//!
//! A request may name its document by hash instead of sending it
//! (`extensions.persistedQuery.sha256Hash`). An unknown hash is
//! `PERSISTED_QUERY_NOT_FOUND`, upon which APQ clients send the text with
//! the hash once; the text is checked against the hash and, once it is
//! known to be a valid document, remembered, in
//! this process (bounded) and, on Redis, for every instance (bounded there
//! too: see `store::redis::documents`). Anyone may register, so a
//! registration is only ever a document that hashes to its key and fits
//! the query-size limit.
//!
//! With `--persisted-documents FILE` the file's documents are known from
//! the start; with `--only-persisted` they are the only ones that run:
//! registration is off, an unknown hash is `PERSISTED_QUERY_NOT_FOUND`, and
//! a text that is not in the file is `FORBIDDEN`.

use std::{
    collections::{HashMap, HashSet},
    path::Path,
    sync::{Arc, Mutex, PoisonError},
};

use async_graphql::{Request, ServerError, Value};
use sha2::{Digest, Sha256};
use tracing::warn;

use crate::{api::coded, domain::error::codes, store::SharedDocuments};

/// The code of an unknown hash, as Apollo's clients expect it.
pub const PERSISTED_QUERY_NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";
/// Registered documents kept in this process at most.
const LOCAL_CAPACITY: usize = 1024;
/// Longest id in a trusted-documents file.
const MAX_ID_CHARS: usize = 256;

/// What the service knows of persisted documents.
#[derive(Default)]
pub struct Persisted {
    /// The operator's documents by id.
    trusted: HashMap<String, Arc<str>>,
    /// The same documents' texts, for requests that send them in full.
    trusted_texts: HashSet<Arc<str>>,
    only: bool,
    /// Registered documents (`None` under `--only-persisted`).
    apq: Option<Apq>,
}

#[derive(Default)]
struct Apq {
    local: Mutex<HashMap<String, Arc<str>>>,
    shared: Option<Arc<dyn SharedDocuments>>,
}

impl Persisted {
    /// APQ in this process, shared through `shared` when given.
    pub fn automatic(shared: Option<Arc<dyn SharedDocuments>>) -> Self {
        Self {
            apq: Some(Apq {
                local: Mutex::default(),
                shared,
            }),
            ..Self::default()
        }
    }

    /// Adds an operator's documents (`--persisted-documents`); `only`: they
    /// are the only documents that run (`--only-persisted`).
    pub fn with_trusted(mut self, documents: HashMap<String, String>, only: bool) -> Self {
        for (id, text) in documents {
            let text: Arc<str> = text.into();
            self.trusted_texts.insert(text.clone());
            self.trusted.insert(id, text);
        }
        self.only = only;
        if only {
            self.apq = None;
        }
        self
    }

    /// How many trusted documents there are.
    pub fn trusted(&self) -> usize {
        self.trusted.len()
    }

    /// Puts the text of the document a request names into `request.query`,
    /// or says why it cannot run. `Ok(Some(hash))`: the request registers
    /// its text under `hash`, which [`Self::register`] does once the
    /// document is known to be valid.
    pub async fn resolve(&self, request: &mut Request) -> Result<Option<String>, ServerError> {
        let hash = requested_hash(request)?;
        match hash {
            None if request.query.is_empty() => Err(coded(
                codes::BAD_USER_INPUT,
                "the request has no query (send `query`, or a persisted query's hash in `extensions.persistedQuery`)",
            )),
            None => {
                if self.only && !self.trusted_texts.contains(request.query.as_str()) {
                    return Err(not_trusted());
                }
                Ok(None)
            }
            Some(hash) if request.query.is_empty() => {
                let text = self.find(&hash).await.ok_or_else(|| {
                    coded(PERSISTED_QUERY_NOT_FOUND, "PersistedQueryNotFound")
                })?;
                request.query = text.to_string();
                Ok(None)
            }
            Some(hash) => {
                if sha256_hex(&request.query) != hash {
                    return Err(coded(
                        codes::BAD_USER_INPUT,
                        "provided sha256Hash does not match the query",
                    ));
                }
                if self.trusted.contains_key(&hash)
                    || self.trusted_texts.contains(request.query.as_str())
                {
                    return Ok(None);
                }
                match &self.apq {
                    None => Err(not_trusted()),
                    Some(_) => Ok(Some(hash)),
                }
            }
        }
    }

    /// Remembers a valid document a client registered under its hash.
    pub async fn register(&self, hash: &str, text: &str) {
        if let Some(apq) = &self.apq {
            apq.register(hash, text).await;
        }
    }

    async fn find(&self, hash: &str) -> Option<Arc<str>> {
        if let Some(text) = self.trusted.get(hash) {
            return Some(text.clone());
        }
        self.apq.as_ref()?.find(hash).await
    }
}

impl Apq {
    async fn find(&self, hash: &str) -> Option<Arc<str>> {
        if let Some(text) = self.lock().get(hash) {
            return Some(text.clone());
        }
        // Only a well-formed hash is ever looked up in Redis.
        if !is_sha256_hex(hash) {
            return None;
        }
        let shared = self.shared.as_ref()?;
        match shared.get(hash).await {
            Ok(Some(text)) if sha256_hex(&text) == hash => {
                let text: Arc<str> = text.into();
                self.remember(hash, text.clone());
                Some(text)
            }
            Ok(_) => None,
            Err(error) => {
                warn!(%error, "cannot read persisted queries from Redis");
                None
            }
        }
    }

    async fn register(&self, hash: &str, text: &str) {
        self.remember(hash, text.into());
        if let Some(shared) = &self.shared {
            if let Err(error) = shared.put(hash, text).await {
                // This instance still knows it; others will ask for the text.
                warn!(%error, "cannot share a persisted query through Redis");
            }
        }
    }

    fn remember(&self, hash: &str, text: Arc<str>) {
        let mut local = self.lock();
        if local.len() >= LOCAL_CAPACITY && !local.contains_key(hash) {
            local.clear();
        }
        local.insert(hash.to_owned(), text);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<str>>> {
        self.local.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The hash a request names in `extensions.persistedQuery`, if it names one.
fn requested_hash(request: &Request) -> Result<Option<String>, ServerError> {
    let Some(persisted) = request.extensions.get("persistedQuery") else {
        return Ok(None);
    };
    let Value::Object(persisted) = persisted else {
        return Err(coded(
            codes::BAD_USER_INPUT,
            "extensions.persistedQuery must be an object",
        ));
    };
    match persisted.get("version") {
        Some(Value::Number(n)) if n.as_u64() == Some(1) => {}
        _ => {
            return Err(coded(
                codes::BAD_USER_INPUT,
                "extensions.persistedQuery.version must be 1",
            ))
        }
    }
    match persisted.get("sha256Hash") {
        Some(Value::String(hash)) if !hash.is_empty() && hash.len() <= MAX_ID_CHARS => {
            Ok(Some(hash.clone()))
        }
        _ => Err(coded(
            codes::BAD_USER_INPUT,
            "extensions.persistedQuery.sha256Hash must be a document's hash",
        )),
    }
}

/// The SHA-256 of a text, in lowercase hex (as APQ clients send it).
pub fn sha256_hex(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push(char::from_digit(u32::from(byte >> 4), 16).unwrap_or('0'));
        hex.push(char::from_digit(u32::from(byte & 0xf), 16).unwrap_or('0'));
    }
    hex
}

fn is_sha256_hex(hash: &str) -> bool {
    hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn not_trusted() -> ServerError {
    coded(
        codes::FORBIDDEN,
        "only persisted documents may run here (--only-persisted), and this one is not among them",
    )
}

/// Reads a trusted-documents file: a JSON object of id → document (what
/// graphql-codegen's client preset and similar tools write), or Apollo's
/// persisted query manifest (`{"format": "apollo-persisted-query-manifest",
/// "operations": [{"id", "body"}, …]}`).
pub fn read_trusted(path: &Path) -> Result<HashMap<String, String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_trusted(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn parse_trusted(text: &str) -> Result<HashMap<String, String>, String> {
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let mut documents = HashMap::new();
    let mut add = |id: &str, body: &str| -> Result<(), String> {
        if id.is_empty() || id.chars().count() > MAX_ID_CHARS {
            return Err(format!(
                "document id {id:?} is empty or longer than {MAX_ID_CHARS} characters"
            ));
        }
        async_graphql::parser::parse_query(body)
            .map_err(|e| format!("document {id:?} does not parse: {e}"))?;
        documents.insert(id.to_owned(), body.to_owned());
        Ok(())
    };
    match &json {
        serde_json::Value::Object(map)
            if map.get("format").and_then(|f| f.as_str())
                == Some("apollo-persisted-query-manifest") =>
        {
            for operation in map
                .get("operations")
                .and_then(|o| o.as_array())
                .ok_or("an Apollo manifest needs an `operations` array")?
            {
                let id = operation["id"]
                    .as_str()
                    .ok_or("an operation without an `id`")?;
                let body = operation["body"]
                    .as_str()
                    .ok_or("an operation without a `body`")?;
                add(id, body)?;
            }
        }
        serde_json::Value::Object(map) => {
            for (id, body) in map {
                let body = body
                    .as_str()
                    .ok_or_else(|| format!("document {id:?} is not a string"))?;
                add(id, body)?;
            }
        }
        _ => return Err("expected an object of id → document, or an Apollo manifest".into()),
    }
    Ok(documents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_lowercase_hex_sha256() {
        assert_eq!(
            sha256_hex("{ __typename }"),
            "7f56e67dd21ab3f30d1ff8b7bed08893f0a0db86449836189b361dd1e56ddb4b"
        );
        assert!(is_sha256_hex(&sha256_hex("x")));
        assert!(!is_sha256_hex("../../etc"));
    }

    #[test]
    fn both_manifest_formats_are_read_and_bad_ones_refused() {
        let map = parse_trusted(r#"{"abc": "{ __typename }"}"#).unwrap_or_default();
        assert_eq!(map.get("abc").map(String::as_str), Some("{ __typename }"));
        let apollo = parse_trusted(
            r#"{"format": "apollo-persisted-query-manifest", "version": 1,
                "operations": [{"id": "h1", "name": "T", "type": "query", "body": "{ __typename }"}]}"#,
        )
        .unwrap_or_default();
        assert!(apollo.contains_key("h1"));
        assert!(parse_trusted(r#"{"abc": "{ broken"}"#).is_err());
        assert!(parse_trusted(r#"["{ __typename }"]"#).is_err());
        assert!(parse_trusted(r#"{"": "{ __typename }"}"#).is_err());
    }
}
