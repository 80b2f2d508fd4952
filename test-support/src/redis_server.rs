//! A `redis-server` of the caller's own, gone when dropped.
//!
//! By default it listens on a unix socket in a directory of its own
//! (`--port 0`: no TCP at all), so no other test, and no other Redis on the
//! machine, can ever answer in its place: there is no port to race for, and
//! a restart comes back on the same path. Where TCP is needed (a benchmark's
//! `redis-benchmark`) it takes a free port. Every start checks that the
//! server answering is the process just spawned (`INFO server`'s
//! `process_id`).

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicU32, Ordering},
        Mutex,
    },
    time::Duration,
};

use crate::{within, PATIENCE};

/// Where the server listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listen {
    /// A unix socket in the server's own directory.
    UnixSocket,
    /// TCP on 127.0.0.1, on a port found free.
    Tcp,
}

/// A private Redis: started from PATH with nothing saved to disk (unless
/// asked for persistence).
pub struct RedisServer {
    dir: PathBuf,
    port: u16,
    extra: Vec<String>,
    child: Mutex<Option<Child>>,
}

/// Makes each server's directory unique within this process.
static NEXT: AtomicU32 = AtomicU32::new(0);

impl RedisServer {
    /// Starts `redis-server` on its own unix socket and waits until it answers.
    pub async fn start() -> Self {
        Self::start_with(Listen::UnixSocket, &[]).await
    }

    /// Starts `redis-server` listening as asked, with extra arguments (for
    /// example `--appendonly yes`).
    pub async fn start_with(listen: Listen, extra: &[&str]) -> Self {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("tracking-redis-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir for redis");
        let server = Self {
            dir,
            port: match listen {
                Listen::UnixSocket => 0,
                Listen::Tcp => crate::free_port(),
            },
            extra: extra.iter().map(|s| s.to_string()).collect(),
            child: Mutex::new(None),
        };
        server.start_again().await;
        server
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("redis.sock")
    }

    /// The URL clients connect to.
    pub fn url(&self) -> String {
        match self.port {
            0 => format!("unix://{}", self.socket().display()),
            port => format!("redis://127.0.0.1:{port}"),
        }
    }

    /// The TCP port (0 on a unix socket).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(Child::id)
    }

    /// Starts the server again (same socket or port, same directory) after
    /// [`RedisServer::stop`] or [`RedisServer::shutdown_saving`].
    pub async fn start_again(&self) {
        let mut command = Command::new("redis-server");
        command
            .args(["--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no"]);
        if self.port == 0 {
            command
                .args(["--unixsocketperm", "700", "--unixsocket"])
                .arg(self.socket());
        } else {
            command.args(["--bind", "127.0.0.1"]);
        }
        let mut child = command
            .args(&self.extra)
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on PATH (the README's test command installs it)");
        let pid = child.id();
        let answered = within(PATIENCE, "redis-server to answer", async {
            loop {
                if let Some(status) = child.try_wait().expect("wait for redis-server") {
                    panic!("redis-server exited at start ({status}); its port taken?");
                }
                if let Some(answering) = self.answering_pid().await {
                    return answering;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        assert_eq!(answered, pid, "the Redis answering is not the one started");
        *self.child.lock().unwrap_or_else(|p| p.into_inner()) = Some(child);
    }

    /// The process id of whatever answers at the URL.
    async fn answering_pid(&self) -> Option<u32> {
        let client = redis::Client::open(self.url()).ok()?;
        let mut conn = client.get_multiplexed_async_connection().await.ok()?;
        let info: String = redis::cmd("INFO")
            .arg("server")
            .query_async(&mut conn)
            .await
            .ok()?;
        info.lines()
            .find_map(|l| l.strip_prefix("process_id:"))
            .and_then(|v| v.trim().parse().ok())
    }

    /// Stops the server after it saved its data, so that
    /// [`RedisServer::start_again`] comes back with everything.
    pub async fn shutdown_saving(&self) {
        let mut conn = self.connection().await;
        // The server closes the connection as it exits: an error is expected.
        let _: redis::RedisResult<()> = redis::cmd("SHUTDOWN")
            .arg("SAVE")
            .query_async(&mut conn)
            .await;
        self.reap();
    }

    /// Kills the server (SIGKILL: its data is gone unless it was persisted).
    pub fn stop(&self) {
        if let Some(child) = self
            .child
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            let _ = child.kill();
        }
        self.reap();
    }

    /// Waits for the process to be gone, so nothing of it answers any more.
    fn reap(&self) {
        if let Some(mut child) = self.child.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = child.wait();
        }
    }

    /// A connection for looking at Redis directly.
    pub async fn connection(&self) -> redis::aio::MultiplexedConnection {
        let client = redis::Client::open(self.url()).expect("redis url");
        within(
            PATIENCE,
            "a connection to the private redis",
            client.get_multiplexed_async_connection(),
        )
        .await
        .expect("connect to the private redis")
    }

    /// Runs one command.
    pub async fn cmd<T: redis::FromRedisValue>(&self, args: &[&str]) -> T {
        let mut conn = self.connection().await;
        let mut cmd = redis::cmd(args[0]);
        for arg in &args[1..] {
            cmd.arg(*arg);
        }
        cmd.query_async(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("redis {args:?}: {e}"))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
