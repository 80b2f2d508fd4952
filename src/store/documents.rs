//! Where registered persisted documents (APQ) are shared between
//! instances: the role the API's persisted-query cache asks of a store,
//! implemented on Redis by `redis::documents`.

use crate::domain::error::Error;

/// Where registered documents are shared between instances.
#[async_trait::async_trait]
pub trait SharedDocuments: Send + Sync {
    /// The document registered under `hash`, if any.
    async fn get(&self, hash: &str) -> Result<Option<String>, Error>;
    /// Registers `text` under `hash` (which is its SHA-256, checked).
    async fn put(&self, hash: &str, text: &str) -> Result<(), Error>;
}
