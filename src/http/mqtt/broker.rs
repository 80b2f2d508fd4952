//! Where the MQTT ingest connects: `--mqtt-url` parsed (`mqtt://` or
//! `mqtts://`, credentials in the URL or given apart), the TLS settings of
//! an `mqtts://` broker (rustls on `ring`, the service's one crypto
//! provider, with `--mqtt-ca` as the only root when given), and the URL as
//! it may be logged: never with its user or password.

use std::{path::Path, sync::Arc};

use rustls::pki_types::{pem::PemObject, CertificateDer};

/// The MQTT port of `mqtt://` when the URL names none.
pub const MQTT_PORT: u16 = 1883;
/// The MQTT port of `mqtts://` when the URL names none.
pub const MQTTS_PORT: u16 = 8883;

/// A broker, from `--mqtt-url` and the credential flags.
#[derive(Clone)]
pub struct Broker {
    /// The host name or IP address (IPv6 in brackets).
    pub host: String,
    pub port: u16,
    /// The TLS settings of an `mqtts://` broker.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// User name and password, when given (the URL's or the flags').
    pub username: Option<String>,
    pub password: Option<String>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("url", &self.shown())
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .finish()
    }
}

/// What `--mqtt-url` says, before the credential flags are added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
}

impl BrokerUrl {
    /// Parses `mqtt://[user[:password]@]host[:port]` or `mqtts://…`; an
    /// error never repeats the URL's credentials.
    pub fn parse(text: &str) -> Result<Self, String> {
        let expected = "expected mqtt://host:1883 or mqtts://host:8883";
        let url = url::Url::parse(text.trim()).map_err(|e| {
            format!(
                "--mqtt-url {:?} is not a URL ({e}; {expected})",
                redact(text)
            )
        })?;
        let tls = match url.scheme() {
            "mqtt" => false,
            "mqtts" => true,
            other => {
                return Err(format!(
                    "--mqtt-url scheme {other:?} is not mqtt or mqtts ({expected})"
                ))
            }
        };
        let host = url.host_str().unwrap_or_default().to_owned();
        if host.is_empty() {
            return Err(format!(
                "--mqtt-url {:?} names no host ({expected})",
                redact(text)
            ));
        }
        if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "--mqtt-url {:?} has a path or query; the topic is --mqtt-topic ({expected})",
                redact(text)
            ));
        }
        let username = Some(decode(url.username())?).filter(|u| !u.is_empty());
        let password = url.password().map(decode).transpose()?;
        Ok(Self {
            tls,
            port: url
                .port()
                .unwrap_or(if tls { MQTTS_PORT } else { MQTT_PORT }),
            host,
            username,
            password,
        })
    }
}

impl Broker {
    /// The broker as it may be logged: scheme, host and port only.
    pub fn shown(&self) -> String {
        let scheme = if self.tls.is_some() { "mqtts" } else { "mqtt" };
        format!("{scheme}://{}:{}", self.host, self.port)
    }
}

/// `text` without what a URL's user-info part holds (for error messages).
pub fn redact(text: &str) -> String {
    match (text.split_once("://"), text.rfind('@')) {
        (Some((scheme, rest)), Some(_)) => {
            let after = rest.rsplit_once('@').map(|(_, h)| h).unwrap_or(rest);
            format!("{scheme}://…@{after}")
        }
        _ => text.to_owned(),
    }
}

/// Percent-decodes a URL's user or password.
fn decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("--mqtt-url has a malformed %-escape in its credentials")?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "--mqtt-url's credentials are not UTF-8".to_owned())
}

/// The TLS settings of an `mqtts://` broker: rustls on `ring`; the roots
/// are the PEM bundle at `ca` alone when given, else the system's.
pub fn tls_config(ca: Option<&Path>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    match ca {
        Some(ca) => {
            let shown = ca.display();
            let certs = CertificateDer::pem_file_iter(ca)
                .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                .map_err(|e| format!("cannot read the --mqtt-ca bundle {shown}: {e}"))?;
            if certs.is_empty() {
                return Err(format!(
                    "the --mqtt-ca bundle {shown} holds no certificate (expected PEM)"
                ));
            }
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|e| format!("a certificate in --mqtt-ca {shown} is unusable: {e}"))?;
            }
        }
        // The system store may hold certificates rustls cannot parse.
        None => {
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        }
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map(|builder| builder.with_root_certificates(roots).with_no_client_auth())
        .map_err(|e| format!("cannot set up TLS for MQTT: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_host_port_and_credentials() {
        let url = BrokerUrl::parse("mqtt://broker.example:1884").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (url.tls, url.host.as_str(), url.port),
            (false, "broker.example", 1884)
        );
        assert_eq!((url.username, url.password), (None, None));
        let url =
            BrokerUrl::parse("mqtts://ingest:p%40ss@10.0.0.1").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((url.tls, url.port), (true, MQTTS_PORT));
        assert_eq!(url.username.as_deref(), Some("ingest"));
        assert_eq!(url.password.as_deref(), Some("p@ss"));
        assert_eq!(BrokerUrl::parse("mqtt://h").map(|u| u.port), Ok(MQTT_PORT));
    }

    #[test]
    fn bad_urls_are_refused_without_their_secrets() {
        for bad in [
            "http://user:hunter2@host:1883",
            "mqtt://user:hunter2@host:1883/owntracks",
            "mqtt://user:hunter2@",
            "user:hunter2@host",
            "mqtt://user:hunter2@host:1883?x=1",
        ] {
            let error = BrokerUrl::parse(bad).err().unwrap_or_default();
            assert!(!error.is_empty(), "{bad} accepted");
            assert!(!error.contains("hunter2"), "{bad}: {error}");
        }
    }

    #[test]
    fn a_tls_config_is_built_on_ring_alone() {
        // Building the config installs nothing process-wide and does not
        // panic: the only provider linked is ring (see Cargo.toml).
        let config = tls_config(None).unwrap_or_else(|e| panic!("{e}"));
        assert!(config.crypto_provider().cipher_suites.len() > 1);
    }
}
