//! A `redis-server` of the test's own, on a free port, gone with the test.

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
};

use super::{eventually, PATIENCE};

/// A private Redis: started from PATH with nothing saved to disk.
pub struct RedisServer {
    port: u16,
    dir: std::path::PathBuf,
    child: std::sync::Mutex<Option<Child>>,
}

impl RedisServer {
    /// Starts `redis-server` on a free port and waits until it answers.
    pub async fn start() -> Self {
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("tracking-test-redis-{port}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir for redis");
        let server = Self {
            port,
            dir,
            child: std::sync::Mutex::new(None),
        };
        server.start_again().await;
        server
    }

    /// The URL the service connects to.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server again on the same port after [`RedisServer::stop`].
    pub async fn start_again(&self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on PATH (the README's test command installs it)");
        *self.child.lock().expect("lock") = Some(child);
        let url = self.url();
        eventually("redis-server to answer PING", || {
            let url = url.clone();
            async move {
                let client = redis::Client::open(url).ok()?;
                let mut conn = client.get_multiplexed_async_connection().await.ok()?;
                let pong: String = redis::cmd("PING").query_async(&mut conn).await.ok()?;
                (pong == "PONG").then_some(())
            }
        })
        .await;
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
        if let Some(mut child) = self.child.lock().expect("lock").take() {
            let _ = child.wait();
        }
    }

    /// Kills the server (its data is gone: nothing is saved).
    pub fn stop(&self) {
        if let Some(mut child) = self.child.lock().expect("lock").take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A connection for tests that look at Redis directly.
    pub async fn connection(&self) -> redis::aio::MultiplexedConnection {
        let client = redis::Client::open(self.url()).expect("redis url");
        tokio::time::timeout(PATIENCE, client.get_multiplexed_async_connection())
            .await
            .expect("connect to the test redis in time")
            .expect("connect to the test redis")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let port = listener.local_addr().expect("local address").port();
    drop(listener);
    port
}
