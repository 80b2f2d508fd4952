//! The processes a benchmark runs: its own `redis-server`, service
//! instances from the release build, and `redis-benchmark` for references;
//! plus CPU time and memory of a process, read from `/proc`.

use std::{
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::error::{BenchError, Result};

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// CPU seconds used and memory of a process.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcStats {
    pub cpu_secs: f64,
    pub rss_kib: u64,
    pub peak_rss_kib: u64,
}

/// Reads `/proc/<pid>/stat` and `/proc/<pid>/status`.
pub fn proc_stats(pid: u32) -> ProcStats {
    let ticks = 100.0; // USER_HZ on Linux
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat; here 11 and 12.
    let cpu_secs = (num(11) + num(12)) / ticks;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    ProcStats {
        cpu_secs,
        rss_kib: kib("VmRSS:"),
        peak_rss_kib: kib("VmHWM:"),
    }
}

/// A private `redis-server`, gone when dropped.
pub struct Redis {
    child: Child,
    pub port: u16,
    dir: PathBuf,
}

impl Redis {
    /// Starts a `redis-server` of the run's own on a free port, and checks
    /// that the server answering there is that process.
    pub async fn start() -> Result<Self> {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("tracking-bench-redis-{port}"));
        std::fs::create_dir_all(&dir).map_err(|e| BenchError::Process(e.to_string()))?;
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| BenchError::Process(format!("cannot start redis-server: {e}")))?;
        let mut redis = Self { child, port, dir };
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(status)) = redis.child.try_wait() {
                return Err(BenchError::Process(format!(
                    "redis-server exited at start ({status}); port {port} taken?"
                )));
            }
            if let Ok(mut conn) = redis.connection().await {
                let info: redis::RedisResult<String> = redis::cmd("INFO")
                    .arg("server")
                    .query_async(&mut conn)
                    .await;
                if let Ok(info) = info {
                    let pid = info
                        .lines()
                        .find_map(|l| l.strip_prefix("process_id:"))
                        .and_then(|v| v.trim().parse::<u32>().ok());
                    if pid == Some(redis.child.id()) {
                        return Ok(redis);
                    }
                    return Err(BenchError::Process(format!(
                        "another Redis answers on port {port}"
                    )));
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(BenchError::Process("redis-server did not answer".into()))
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub async fn connection(&self) -> Result<redis::aio::MultiplexedConnection> {
        let client = redis::Client::open(self.url())?;
        Ok(client.get_multiplexed_async_connection().await?)
    }

    pub fn stats(&self) -> ProcStats {
        proc_stats(self.child.id())
    }

    /// `INFO commandstats`' microseconds per call of `command`.
    pub async fn usec_per_call(&self, command: &str) -> f64 {
        let Ok(mut conn) = self.connection().await else {
            return f64::NAN;
        };
        let info: String = redis::cmd("INFO")
            .arg("commandstats")
            .query_async(&mut conn)
            .await
            .unwrap_or_default();
        info.lines()
            .find(|l| l.starts_with(&format!("cmdstat_{command}:")))
            .and_then(|l| l.split(',').find_map(|f| f.strip_prefix("usec_per_call=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN)
    }

    /// `INFO memory`'s `used_memory`, in MiB.
    pub async fn used_memory_mib(&self) -> f64 {
        let Ok(mut conn) = self.connection().await else {
            return f64::NAN;
        };
        let info: String = redis::cmd("INFO")
            .arg("memory")
            .query_async(&mut conn)
            .await
            .unwrap_or_default();
        info.lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map(|bytes| bytes / 1024.0 / 1024.0)
            .unwrap_or(f64::NAN)
    }

    /// Keys in the database.
    pub async fn dbsize(&self) -> u64 {
        let Ok(mut conn) = self.connection().await else {
            return 0;
        };
        redis::cmd("DBSIZE")
            .query_async(&mut conn)
            .await
            .unwrap_or(0)
    }

    /// Commands Redis has processed so far.
    pub async fn commands_processed(&self) -> u64 {
        let Ok(mut conn) = self.connection().await else {
            return 0;
        };
        let info: String = redis::cmd("INFO")
            .arg("stats")
            .query_async(&mut conn)
            .await
            .unwrap_or_default();
        info.lines()
            .find_map(|l| l.strip_prefix("total_commands_processed:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }

    /// `redis-benchmark` on this server: requests per second for `command`.
    pub fn benchmark(
        &self,
        clients: u32,
        pipeline: u32,
        requests: u32,
        command: &[&str],
    ) -> Result<f64> {
        let output = Command::new("redis-benchmark")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args([
                "-c",
                &clients.to_string(),
                "-P",
                &pipeline.to_string(),
                "-n",
                &requests.to_string(),
            ])
            .args(["-r", "10000", "--csv", "-q"])
            .args(command)
            .output()
            .map_err(|e| BenchError::Process(format!("cannot run redis-benchmark: {e}")))?;
        let text = String::from_utf8_lossy(&output.stdout);
        // CSV: "test","rps",... then one row per test.
        text.lines()
            .filter(|l| !l.starts_with("\"test\""))
            .find_map(|l| l.split(',').nth(1).map(|v| v.trim_matches('"').to_owned()))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| {
                BenchError::Process(format!("cannot read redis-benchmark's output: {text}"))
            })
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A `tracking` instance from the release build, gone when dropped.
pub struct Service {
    child: Child,
    pub url: String,
    pub ws_url: String,
    /// The flags it runs with beyond `--listen` and `--redis-url`.
    pub flags: String,
}

impl Service {
    /// Starts the service (in memory, or on `redis_url`) with `flags`, and
    /// waits until it answers. It inherits no `TRACKING_*` variable: what
    /// runs is exactly what the flags say.
    pub async fn start(redis_url: Option<&str>, flags: &[&str]) -> Result<Self> {
        let binary = std::env::var("TRACKING_BIN").unwrap_or_else(|_| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/../target/release/tracking").to_owned()
        });
        let port = free_port();
        let mut command = Command::new(&binary);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("TRACKING_") {
                command.env_remove(name);
            }
        }
        command
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(flags)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null());
        if let Some(url) = redis_url {
            command.args(["--redis-url", url]);
        }
        let child = command
            .spawn()
            .map_err(|e| BenchError::Process(format!("cannot start {binary}: {e}")))?;
        let service = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            ws_url: format!("ws://127.0.0.1:{port}/ws"),
            flags: if flags.is_empty() {
                "defaults".into()
            } else {
                format!("`{}`", flags.join(" "))
            },
        };
        let http = reqwest::Client::new();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            if let Ok(r) = http.get(format!("{}/ready", service.url)).send().await {
                if r.status().is_success() {
                    return Ok(service);
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(BenchError::Process(
            "the service did not become ready".into(),
        ))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stats(&self) -> ProcStats {
        proc_stats(self.pid())
    }

    /// A gauge from the service's `/metrics`.
    pub async fn gauge(&self, name: &str) -> Option<f64> {
        let text = reqwest::get(format!("{}/metrics", self.url))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.trim().parse().ok())
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
