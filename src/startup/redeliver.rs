//! `tracking events redeliver`: asks a running service (through its public
//! GraphQL API, the `redeliverEvents` mutation) to send an area's dead
//! letters back to their sinks, and says how many it queued. The store is
//! the service's (memory or Redis alike): this command opens none.

use std::time::Duration;

use serde_json::json;

/// How long the call may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// What `tracking events redeliver` takes.
#[derive(Debug, Clone, clap::Args)]
pub struct RedeliverArgs {
    /// The service's GraphQL endpoint (`http://host:port/graphql`, or its
    /// base `http://host:port`).
    #[arg(long)]
    pub url: String,
    /// A dispatcher's token, when the service verifies tokens.
    #[arg(long, env = "TRACKING_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The area whose dead letters go back (`default` without an areas file).
    #[arg(long)]
    pub area: String,
    /// Only this sink's (`webhook-<8 hex>` or `nats`, as the metrics name
    /// them); every sink's when left out.
    #[arg(long)]
    pub sink: Option<String>,
}

/// TLS for an `https://` service: rustls on `ring` (as the JWKS client
/// and Redis TLS), trusting the system's roots.
fn tls() -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    // The system store may hold certificates rustls cannot parse; skip them.
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map(|builder| builder.with_root_certificates(roots).with_no_client_auth())
    .map_err(|e| format!("cannot set up TLS: {e}"))
}

const REDELIVER: &str =
    "mutation Redeliver($area: ID!, $sink: String) { redeliverEvents(area: $area, sink: $sink) }";

/// Calls `redeliverEvents`; what to print, or why it failed.
pub async fn redeliver(args: &RedeliverArgs) -> Result<String, String> {
    let base = args.url.trim_end_matches('/');
    let base = base.strip_suffix("/graphql").unwrap_or(base);
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        return Err(format!(
            "--url must be an http:// or https:// URL, not {base:?}"
        ));
    }
    let http = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .use_preconfigured_tls(tls()?)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    let mut client = tracking_client::Client::with_http(base, http);
    if let Some(token) = &args.token {
        client = client.with_token(token.clone());
    }
    let data = client
        .data(REDELIVER, json!({"area": args.area, "sink": args.sink}))
        .await
        .map_err(|e| e.to_string())?;
    let queued = data
        .get("redeliverEvents")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| format!("unexpected answer: {data}"))?;
    let whose = args
        .sink
        .as_deref()
        .map_or_else(|| "their sinks".to_owned(), |s| format!("sink {s}"));
    Ok(format!(
        "{queued} dead letters of area {} queued for redelivery to {whose}",
        args.area
    ))
}
