//! A Redis Cluster of the caller's own: `redis-server --cluster-enabled
//! yes` on free ports (a data port and a cluster-bus port each, both found
//! free, so no port is derived and none can be out of range), joined with
//! `redis-cli --cluster create`, gone when dropped.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicU32, Ordering},
        Mutex,
    },
    time::Duration,
};

use crate::{free_port, within, PATIENCE};

/// One node of the cluster.
struct Node {
    port: u16,
    bus: u16,
    child: Option<Child>,
}

/// A local Redis Cluster: `masters` primaries, each with `replicas`.
pub struct RedisCluster {
    dir: PathBuf,
    nodes: Mutex<Vec<Node>>,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

impl RedisCluster {
    /// Starts the nodes, joins them and waits until the cluster says `ok`
    /// on every node.
    pub async fn start(masters: usize, replicas: usize) -> Self {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("tracking-cluster-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir for the cluster");
        let total = masters * (1 + replicas);
        let mut nodes = Vec::with_capacity(total);
        for _ in 0..total {
            let (port, bus) = (free_port(), free_port());
            let mut node = Node {
                port,
                bus,
                child: None,
            };
            node.child = Some(spawn(&dir, &node));
            nodes.push(node);
        }
        // A port found free may be taken before the node binds it (another
        // test's server, a client's ephemeral port): the node then exits,
        // and starts again on other ports.
        for node in nodes.iter_mut() {
            for attempt in 0.. {
                let url = format!("redis://127.0.0.1:{}", node.port);
                let up = within(PATIENCE, "a cluster node to answer", async {
                    loop {
                        let exited = node
                            .child
                            .as_mut()
                            .is_none_or(|c| matches!(c.try_wait(), Ok(Some(_))));
                        if exited {
                            return false;
                        }
                        if ping(&url).await {
                            return true;
                        }
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                })
                .await;
                if up {
                    break;
                }
                assert!(attempt < 5, "a cluster node could not bind a free port");
                (node.port, node.bus) = (free_port(), free_port());
                node.child = Some(spawn(&dir, node));
            }
        }
        let cluster = Self {
            dir,
            nodes: Mutex::new(nodes),
        };
        let addresses: Vec<String> = cluster
            .ports()
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .expect("redis-cli on PATH (it comes with redis-server)");
        assert!(
            created.status.success(),
            "redis-cli --cluster create: {}",
            String::from_utf8_lossy(&created.stderr)
        );
        within(PATIENCE * 3, "the cluster to be ok on every node", async {
            loop {
                let mut ok = true;
                for url in cluster.urls() {
                    ok &= cluster_ok(&url, total).await;
                }
                if ok {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        if replicas > 0 {
            within(PATIENCE * 3, "every replica to be in sync", async {
                loop {
                    let mut linked = 0;
                    for url in cluster.urls() {
                        if replication(&url).await.contains("master_link_status:up") {
                            linked += 1;
                        }
                    }
                    if linked == masters * replicas {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
            .await;
        }
        cluster
    }

    fn ports(&self) -> Vec<u16> {
        self.nodes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|n| n.port)
            .collect()
    }

    /// Every node's URL.
    pub fn urls(&self) -> Vec<String> {
        self.ports()
            .into_iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect()
    }

    /// The port of the primary that owns `key`'s slot now.
    pub async fn primary_of(&self, key: &str) -> u16 {
        match self.try_primary_of(key).await {
            Ok(port) => port,
            Err(nodes) => panic!("no primary owns the slot of {key}:\n{nodes}"),
        }
    }

    /// The port of the primary that owns `key`'s slot now; what the
    /// cluster says of its nodes when none does (failing over).
    async fn try_primary_of(&self, key: &str) -> Result<u16, String> {
        let mut conn = None;
        for url in self.running() {
            conn = connect(&url).await;
            if conn.is_some() {
                break;
            }
        }
        let mut conn = conn.expect("a node answers");
        let slot: i64 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query_async(&mut conn)
            .await
            .expect("CLUSTER KEYSLOT");
        let nodes: String = redis::cmd("CLUSTER")
            .arg("NODES")
            .query_async(&mut conn)
            .await
            .expect("CLUSTER NODES");
        for line in nodes.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 9 || !fields[2].contains("master") || fields[2].contains("fail") {
                continue;
            }
            let port: u16 = fields[1]
                .split(['@', ':'])
                .nth(1)
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            for range in &fields[8..] {
                let (low, high) = match range.split_once('-') {
                    Some((l, h)) => (l.parse().unwrap_or(-1), h.parse().unwrap_or(-1)),
                    None => {
                        let s = range.parse().unwrap_or(-1);
                        (s, s)
                    }
                };
                if (low..=high).contains(&slot) {
                    return Ok(port);
                }
            }
        }
        Err(nodes)
    }

    /// The URLs of the nodes still running.
    fn running(&self) -> Vec<String> {
        let nodes = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
        nodes
            .iter()
            .filter(|n| n.child.is_some())
            .map(|n| format!("redis://127.0.0.1:{}", n.port))
            .collect()
    }

    /// Kills one node (SIGKILL): its replica, if any, takes over.
    pub fn kill(&self, port: u16) {
        let mut nodes = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(node) = nodes.iter_mut().find(|n| n.port == port) {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }

    /// Waits until every node still running says the cluster is `ok` and a
    /// running primary owns `key`'s slot again (after a failover); returns
    /// its port.
    pub async fn wait_healed(&self, key: &str) -> u16 {
        let running = self.running();
        within(PATIENCE * 3, "the cluster to fail over", async {
            loop {
                let mut ok = true;
                for url in &running {
                    ok &= state_ok(url).await;
                }
                if ok {
                    if let Ok(port) = self.try_primary_of(key).await {
                        if running.iter().any(|u| u.ends_with(&format!(":{port}"))) {
                            return port;
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        let mut nodes = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
        for node in nodes.iter_mut() {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn spawn(dir: &std::path::Path, node: &Node) -> Child {
    let own = dir.join(node.port.to_string());
    std::fs::create_dir_all(&own).expect("a node's dir");
    Command::new("redis-server")
        .args(["--port", &node.port.to_string()])
        .args(["--cluster-port", &node.bus.to_string()])
        .args(["--bind", "127.0.0.1", "--cluster-enabled", "yes"])
        .args([
            "--cluster-node-timeout",
            "1000",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .arg("--dir")
        .arg(&own)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server on PATH (the README's test command installs it)")
}

async fn connect(url: &str) -> Option<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(url).ok()?;
    tokio::time::timeout(
        Duration::from_millis(500),
        client.get_multiplexed_async_connection(),
    )
    .await
    .ok()?
    .ok()
}

async fn ping(url: &str) -> bool {
    match connect(url).await {
        Some(mut conn) => redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .is_ok(),
        None => false,
    }
}

async fn cluster_info(url: &str) -> String {
    match connect(url).await {
        Some(mut conn) => redis::cmd("CLUSTER")
            .arg("INFO")
            .query_async(&mut conn)
            .await
            .unwrap_or_default(),
        None => String::new(),
    }
}

async fn replication(url: &str) -> String {
    match connect(url).await {
        Some(mut conn) => redis::cmd("INFO")
            .arg("replication")
            .query_async(&mut conn)
            .await
            .unwrap_or_default(),
        None => String::new(),
    }
}

async fn state_ok(url: &str) -> bool {
    cluster_info(url).await.contains("cluster_state:ok")
}

async fn cluster_ok(url: &str, total: usize) -> bool {
    let info = cluster_info(url).await;
    info.contains("cluster_state:ok") && info.contains(&format!("cluster_known_nodes:{total}"))
}
