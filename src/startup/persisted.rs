//! Persisted documents at start: the operator's trusted file and the
//! automatic persisted queries (shared through Redis when the fleet is
//! there), handed to the API's gate; and the service's own documents (the
//! dashboard's and the typed client's), which `tracking persisted-documents`
//! prints.

use std::{collections::BTreeMap, sync::Arc};

use tracing::info;

use super::{config::Config, error::StartError, store::connector};
use crate::{
    api::prepare::persisted::{read_trusted, sha256_hex, Persisted},
    http::dashboard,
    store::{redis::documents::RedisDocuments, SharedDocuments},
};

/// Persisted documents: the operator's file, and automatic persisted
/// queries (shared through Redis when the fleet is there).
pub async fn persisted(config: &Config) -> Result<Persisted, StartError> {
    let shared: Option<Arc<dyn SharedDocuments>> = match connector(config)? {
        Some(connector) => Some(Arc::new(
            RedisDocuments::connect(
                &connector,
                &config.redis_prefix,
                config.apq_ttl,
                config.apq_max_entries,
            )
            .await?,
        )),
        None => None,
    };
    let mut persisted = Persisted::automatic(shared);
    if let Some(path) = &config.persisted_documents {
        let documents = read_trusted(path)
            .map_err(|e| StartError::Config(format!("--persisted-documents {e}")))?;
        persisted = persisted.with_trusted(documents, config.only_persisted);
        info!(
            documents = persisted.trusted(),
            only = config.only_persisted,
            "persisted documents loaded"
        );
    }
    Ok(persisted)
}

/// The service's own documents, the dashboard's and the typed client's (and
/// so the simulator's), by hash: what `tracking persisted-documents` prints
/// for operators to merge into their `--persisted-documents` file.
pub fn own_manifest() -> BTreeMap<String, String> {
    dashboard::documents()
        .into_iter()
        .chain(
            tracking_client::documents::all()
                .into_iter()
                .map(str::to_owned),
        )
        .map(|text| (sha256_hex(&text), text))
        .collect()
}

/// The service's own documents as pretty JSON (hash → document), what
/// `tracking persisted-documents` prints.
pub fn own_manifest_json() -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(&own_manifest())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_own_manifest_lists_every_document_the_service_sends_and_each_is_valid() {
        let manifest = own_manifest();
        // Seven of the dashboard's, eighteen of the typed client's.
        assert_eq!(manifest.len(), 25, "{manifest:#?}");
        let gate = crate::api::prepare::Gate::default();
        for text in manifest.values() {
            let refusals = gate.refusals(text);
            assert!(refusals.is_empty(), "{text}: {refusals:?}");
        }
    }
}
