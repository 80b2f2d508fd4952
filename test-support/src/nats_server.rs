//! A `nats-server -js` of the caller's own, gone when dropped.
//!
//! The first start lets the server pick its port (`-p -1`) and learns it
//! from the ports file the server writes (`--ports_file_dir`): no port to
//! race for. A restart ([`NatsServer::start_again`]) comes back on the same
//! port and the same JetStream store directory, so streams survive it.
//! Every start checks that the server answering is the one just spawned
//! (its `server_name` in the `INFO` line a client is greeted with).

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicU32, Ordering},
        Mutex,
    },
    time::Duration,
};

use tokio::io::AsyncReadExt;

use crate::{within, PATIENCE};

/// A private NATS server with JetStream, on 127.0.0.1.
pub struct NatsServer {
    dir: PathBuf,
    name: String,
    port: Mutex<u16>,
    extra: Vec<String>,
    child: Mutex<Option<Child>>,
}

/// Makes each server's directory and name unique within this process.
static NEXT: AtomicU32 = AtomicU32::new(0);

impl NatsServer {
    /// Starts `nats-server -js` on a port of its choosing and waits until it
    /// answers.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Starts it with extra arguments (for example `--tls --tlscert …`).
    pub async fn start_with(extra: &[&str]) -> Self {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("tracking-test-{}-{n}", std::process::id());
        let dir = std::env::temp_dir().join(&name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("ports")).expect("temp dir for nats-server");
        let server = Self {
            dir,
            name,
            port: Mutex::new(0),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            child: Mutex::new(None),
        };
        server.start_again().await;
        server
    }

    /// The URL clients connect to.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port())
    }

    /// The URL of a server started with `--tls`.
    pub fn tls_url(&self) -> String {
        format!("tls://127.0.0.1:{}", self.port())
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        *self.port.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts the server again (same port, same JetStream store) after
    /// [`NatsServer::stop`].
    pub async fn start_again(&self) {
        let port = self.port();
        let ports = self.dir.join("ports");
        let mut child = Command::new(binary())
            .args(["-js", "-a", "127.0.0.1", "-n", &self.name])
            .args([
                "-p",
                &if port == 0 {
                    "-1".into()
                } else {
                    port.to_string()
                },
            ])
            .arg("-sd")
            .arg(self.dir.join("store"))
            .arg("--ports_file_dir")
            .arg(&ports)
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server on PATH (scripts/test.sh installs it)");
        let pid = child.id();
        let port = within(PATIENCE, "nats-server to answer", async {
            loop {
                if let Some(status) = child.try_wait().expect("wait for nats-server") {
                    panic!("nats-server exited at start ({status}); its port taken?");
                }
                let port = match port {
                    0 => ports_file_port(&ports.join(format!("nats-server_{pid}.ports"))),
                    port => Some(port),
                };
                if let Some(port) = port {
                    if self.answers(port).await {
                        return port;
                    }
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        *self.port.lock().unwrap_or_else(|p| p.into_inner()) = port;
        *self.child.lock().unwrap_or_else(|p| p.into_inner()) = Some(child);
    }

    /// Whether this server (by its name) greets a client at `port`.
    async fn answers(&self, port: u16) -> bool {
        let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
            return false;
        };
        let mut greeting = vec![0; 4096];
        let mut read = 0;
        while read < greeting.len() && !greeting[..read].contains(&b'\n') {
            match stream.read(&mut greeting[read..]).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => read += n,
            }
        }
        let line = String::from_utf8_lossy(&greeting[..read]);
        line.starts_with("INFO ") && line.contains(&format!("\"server_name\":\"{}\"", self.name))
    }

    /// Kills the server (SIGKILL) and waits until it is gone. JetStream's
    /// store stays in its directory for [`NatsServer::start_again`].
    pub fn stop(&self) {
        if let Some(mut child) = self.child.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `nats-server` from PATH, else where Debian's package puts it (`/usr/sbin`,
/// not on every user's PATH).
fn binary() -> PathBuf {
    let debian = PathBuf::from("/usr/sbin/nats-server");
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).any(|dir| dir.join("nats-server").is_file()))
        .unwrap_or(false);
    if on_path || !debian.is_file() {
        PathBuf::from("nats-server")
    } else {
        debian
    }
}

/// The client port a ports file names (`{"nats": ["nats://…:port"], …}`),
/// once the server has written it.
fn ports_file_port(path: &std::path::Path) -> Option<u16> {
    let text = std::fs::read_to_string(path).ok()?;
    // `nats://…` or, with `--tls`, `tls://…`.
    let url = &text[text.find("\"nats\"")?..];
    let url = &url[url.find("://")?..];
    let end = url.find('"')?;
    url[..end].rsplit(':').next()?.parse().ok()
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
