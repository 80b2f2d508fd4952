//! Connections to Redis: one node (a reconnecting `ConnectionManager`) or
//! a Redis Cluster (redis-rs's async cluster client, which follows the
//! slots as they move and fails over with the Cluster), over TCP, TLS
//! (`rediss://`, rustls, with an optional CA bundle for a private CA) or a
//! unix socket. Credentials come from the URL (`rediss://user:secret@…`)
//! or the environment, and never appear in a log line or an error: every
//! URL shown goes through [`redact`].

use std::{path::Path, time::Duration};

use redis::{
    aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig},
    cluster::ClusterClientBuilder,
    cluster_async::ClusterConnection,
    Cmd, IntoConnectionInfo, Pipeline, RedisFuture, TlsCertificates, Value,
};

use crate::domain::error::{Error, Result};

/// How long one Redis command may take before it fails as `UNAVAILABLE`.
pub(super) const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// How long connecting may take.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// What to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One Redis: `redis://`, `rediss://` or `unix://`.
    Node(String),
    /// A Redis Cluster, by some of its nodes' URLs.
    Cluster(Vec<String>),
}

/// A URL as it may be shown: any password replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let shown = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                "***".to_owned()
            };
            format!("{scheme}://{shown}@{host}{path}")
        }
        None => url.to_owned(),
    }
}

/// How to reach Redis, checked once at start.
#[derive(Clone)]
pub struct Connector {
    target: Target,
    /// A PEM CA bundle to trust instead of the system's (`--redis-ca`).
    ca: Option<Vec<u8>>,
    /// A password from the environment, for URLs that carry none.
    password: Option<String>,
}

impl Connector {
    pub fn new(target: Target, ca_file: Option<&Path>, password: Option<String>) -> Result<Self> {
        let ca = match ca_file {
            Some(path) => Some(std::fs::read(path).map_err(|e| {
                Error::unavailable(format!(
                    "cannot read the Redis CA bundle {}: {e}",
                    path.display()
                ))
            })?),
            None => None,
        };
        let connector = Self {
            target,
            ca,
            password,
        };
        // Refuse a malformed URL at once, naming it without its password.
        for url in connector.urls() {
            connector.info(url)?;
        }
        Ok(connector)
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self.target, Target::Cluster(_))
    }

    fn urls(&self) -> Vec<&str> {
        match &self.target {
            Target::Node(url) => vec![url.as_str()],
            Target::Cluster(urls) => urls.iter().map(String::as_str).collect(),
        }
    }

    /// The target as it may be shown.
    pub fn describe(&self) -> String {
        match &self.target {
            Target::Node(url) => format!("Redis at {}", redact(url)),
            Target::Cluster(urls) => format!(
                "the Redis Cluster at {}",
                urls.iter().map(|u| redact(u)).collect::<Vec<_>>().join(",")
            ),
        }
    }

    fn info(&self, url: &str) -> Result<redis::ConnectionInfo> {
        let info = url.into_connection_info().map_err(|e| {
            Error::unavailable_because(
                format!(
                    "bad Redis URL {} (expected redis://[user:password@]host:port[/db], rediss://… for TLS, or unix:///path/to/redis.sock): {e}",
                    redact(url)
                ),
                e,
            )
        })?;
        Ok(match (&self.password, info.redis_settings().password()) {
            (Some(password), None) => {
                let settings = info.redis_settings().clone().set_password(password.clone());
                info.set_redis_settings(settings)
            }
            _ => info,
        })
    }

    fn certificates(&self) -> Option<TlsCertificates> {
        self.ca.as_ref().map(|ca| TlsCertificates {
            client_tls: None,
            root_cert: Some(ca.clone()),
        })
    }

    /// A client of the one node.
    pub fn client(&self) -> Result<redis::Client> {
        let url = match &self.target {
            Target::Node(url) => url.as_str(),
            Target::Cluster(urls) => urls.first().map(String::as_str).unwrap_or_default(),
        };
        let info = self.info(url)?;
        let client = match self.certificates() {
            Some(certs) => redis::Client::build_with_tls(info, certs),
            None => redis::Client::open(info),
        };
        client.map_err(|e| {
            Error::unavailable_because(format!("cannot use Redis at {}: {e}", redact(url)), e)
        })
    }

    /// A cluster client, delivering pushes (sharded pub/sub) to `push`.
    pub fn cluster_client(
        &self,
        push: Option<tokio::sync::mpsc::UnboundedSender<redis::PushInfo>>,
    ) -> Result<redis::cluster::ClusterClient> {
        let infos = self
            .urls()
            .into_iter()
            .map(|url| self.info(url))
            .collect::<Result<Vec<_>>>()?;
        let mut builder = ClusterClientBuilder::new(infos)
            .connection_timeout(CONNECT_TIMEOUT)
            .response_timeout(COMMAND_TIMEOUT);
        if let Some(certs) = self.certificates() {
            builder = builder.certs(certs);
        }
        if let Some(push) = push {
            builder = builder
                .use_protocol(redis::ProtocolVersion::RESP3)
                .push_sender(push);
        }
        builder.build().map_err(|e| {
            Error::unavailable_because(format!("cannot use {}: {e}", self.describe()), e)
        })
    }

    /// Connects (failing at once when Redis cannot be reached).
    pub async fn connect(&self) -> Result<Conn> {
        let failed = |e: redis::RedisError| {
            Error::unavailable_because(format!("cannot connect to {}: {e}", self.describe()), e)
        };
        let connecting = async {
            Ok(match &self.target {
                Target::Node(_) => {
                    let config = ConnectionManagerConfig::new()
                        .set_connection_timeout(Some(CONNECT_TIMEOUT))
                        .set_response_timeout(Some(COMMAND_TIMEOUT))
                        .set_number_of_retries(1)
                        .set_max_delay(Duration::from_millis(200));
                    Conn::Node(
                        ConnectionManager::new_with_config(self.client()?, config)
                            .await
                            .map_err(failed)?,
                    )
                }
                Target::Cluster(_) => Conn::Cluster(
                    self.cluster_client(None)?
                        .get_async_connection()
                        .await
                        .map_err(failed)?,
                ),
            })
        };
        tokio::time::timeout(CONNECT_TIMEOUT * 4, connecting)
            .await
            .map_err(|_| Error::unavailable(format!("no answer from {}", self.describe())))?
    }
}

/// A connection to one node or to a Cluster, cheap to clone.
#[derive(Clone)]
pub enum Conn {
    Node(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Conn {
    /// Runs `cmd` on the node that owns `key`'s slot (a Cluster); on one
    /// node, simply runs it.
    pub async fn on_node_of(&mut self, key: &str, cmd: Cmd) -> redis::RedisResult<Value> {
        match self {
            Self::Node(conn) => cmd.query_async(conn).await,
            Self::Cluster(conn) => {
                use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
                let route = Route::with_key(key, SlotAddr::Master);
                conn.route_command(
                    cmd,
                    RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route)),
                )
                .await
            }
        }
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Node(conn) => conn.req_packed_command(cmd),
            Self::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Node(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Node(conn) => conn.get_db(),
            Self::Cluster(conn) => conn.get_db(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            redact("rediss://:s3cret@cache.example:6380/0"),
            "rediss://:***@cache.example:6380/0"
        );
        assert_eq!(
            redact("redis://app:s3cret@10.0.0.1:6379"),
            "redis://app:***@10.0.0.1:6379"
        );
        assert_eq!(redact("redis://token@host"), "redis://***@host");
        assert_eq!(redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(redact("unix:///run/redis.sock"), "unix:///run/redis.sock");
        let refused = Connector::new(Target::Node("redis://:s3cret@[bad".into()), None, None)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(!refused.contains("s3cret"), "{refused}");
    }
}
