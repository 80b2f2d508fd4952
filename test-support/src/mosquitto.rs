//! A `mosquitto` broker of the caller's own, on a free port of 127.0.0.1,
//! gone when dropped.
//!
//! Mosquitto 2 listens beyond localhost only with a configuration file, so
//! each server writes its own (`listener <port> 127.0.0.1`,
//! `allow_anonymous true`, no persistence, optionally TLS). A restart
//! ([`MosquittoServer::start_again`]) comes back on the same port, its
//! sessions and subscriptions gone, as a broker without persistence
//! restarts. Every start checks that the broker answering is the one just
//! spawned (the child still runs once the port accepts connections).

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

/// A private Mosquitto broker.
pub struct MosquittoServer {
    dir: PathBuf,
    port: u16,
    child: Mutex<Option<Child>>,
}

/// The TLS files of a broker started with [`MosquittoServer::start_tls`].
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Makes each server's directory unique within this process.
static NEXT: AtomicU32 = AtomicU32::new(0);

impl MosquittoServer {
    /// Starts `mosquitto` on a free port and waits until it accepts
    /// connections.
    pub async fn start() -> Self {
        Self::start_with(None).await
    }

    /// Starts it with TLS on its port (the certificate and key in PEM).
    pub async fn start_tls(tls: TlsFiles) -> Self {
        Self::start_with(Some(tls)).await
    }

    async fn start_with(tls: Option<TlsFiles>) -> Self {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("tracking-mqtt-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir for mosquitto");
        let mut tls_lines = String::new();
        if let Some(tls) = &tls {
            // Mosquitto started as root reads these after dropping to its
            // own user: copies it may read.
            for (from, name) in [(&tls.cert, "server.crt"), (&tls.key, "server.key")] {
                let to = dir.join(name);
                std::fs::copy(from, &to).expect("copy a TLS file for mosquitto");
                set_readable(&to);
                tls_lines.push_str(&format!(
                    "{} {}\n",
                    if name.ends_with("crt") {
                        "certfile"
                    } else {
                        "keyfile"
                    },
                    to.display()
                ));
            }
        }
        let mut server = Self {
            dir,
            port: 0,
            child: Mutex::new(None),
        };
        // A port taken between choosing and binding: try another.
        for _ in 0..5 {
            server.port = free_port();
            let config = format!(
                "listener {} 127.0.0.1\nallow_anonymous true\npersistence false\n\
                 max_queued_messages 100000\n{tls_lines}",
                server.port
            );
            std::fs::write(server.dir.join("mosquitto.conf"), config)
                .expect("write mosquitto.conf");
            if server.try_start().await {
                return server;
            }
        }
        panic!("mosquitto did not start on any of five free ports (its configuration unusable?)");
    }

    /// The `mqtt://` URL of the broker (`mqtts://` for a TLS one).
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// The broker's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Starts the broker again on its port after [`MosquittoServer::stop`].
    pub async fn start_again(&self) {
        assert!(
            self.try_start().await,
            "mosquitto did not start again on {}",
            self.port
        );
    }

    /// Starts the child; false when it exited (its port taken).
    async fn try_start(&self) -> bool {
        let mut child = Command::new(binary())
            .arg("-c")
            .arg(self.dir.join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto installed (scripts/test.sh installs it)");
        let port = self.port;
        let up = within(PATIENCE, "mosquitto to accept connections", async {
            loop {
                if child.try_wait().ok().flatten().is_some() {
                    return false;
                }
                if tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok()
                {
                    // Ours, not another process's: ours still runs.
                    return child.try_wait().ok().flatten().is_none();
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        if up {
            *self.child.lock().unwrap_or_else(|p| p.into_inner()) = Some(child);
        } else {
            let _ = child.kill();
            let _ = child.wait();
        }
        up
    }

    /// Kills the broker (SIGKILL) and waits until it is gone.
    pub fn stop(&self) {
        if let Some(mut child) = self.child.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Makes `path` readable by every user (mode 0644).
fn set_readable(path: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644));
    }
}

/// `mosquitto` from PATH, else where Debian's package puts it (`/usr/sbin`,
/// not on every user's PATH).
fn binary() -> PathBuf {
    let debian = PathBuf::from("/usr/sbin/mosquitto");
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).any(|dir| dir.join("mosquitto").is_file()))
        .unwrap_or(false);
    if on_path || !debian.is_file() {
        PathBuf::from("mosquitto")
    } else {
        debian
    }
}

impl Drop for MosquittoServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
