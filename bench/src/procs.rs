//! The processes a benchmark runs: its own `redis-server`, service
//! instances from the release build, and `redis-benchmark` for references;
//! plus CPU time and memory of a process, read from `/proc`.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use test_support::{free_port, Listen, RedisServer};

use crate::error::{BenchError, Result};

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

/// `total_commands_processed` of the Redis at `url` (a server or one
/// Cluster node); 0 when it cannot be read.
pub async fn commands_processed(url: &str) -> u64 {
    let Ok(client) = redis::Client::open(url) else {
        return 0;
    };
    let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
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

/// A private `redis-server` on a free TCP port (`redis-benchmark` measures
/// the references over TCP, as the service talks to it), gone when dropped.
pub struct Redis {
    server: RedisServer,
}

impl Redis {
    /// Starts a `redis-server` of the run's own (see `test-support`: it
    /// checks that the server answering is the process it started).
    pub async fn start() -> Result<Self> {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            return Err(BenchError::Process("redis-server is not on PATH".into()));
        }
        Ok(Self {
            server: RedisServer::start_with(Listen::Tcp, &[]).await,
        })
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    pub async fn connection(&self) -> Result<redis::aio::MultiplexedConnection> {
        let client = redis::Client::open(self.url())?;
        Ok(client.get_multiplexed_async_connection().await?)
    }

    pub fn stats(&self) -> ProcStats {
        self.server.pid().map(proc_stats).unwrap_or_default()
    }

    /// `INFO commandstats`' calls and total microseconds of `command`
    /// (top-level and, since Redis 7, inside scripts too: reset between
    /// phases that mix them).
    pub async fn command_stats(&self, command: &str) -> (f64, f64) {
        let Ok(mut conn) = self.connection().await else {
            return (f64::NAN, f64::NAN);
        };
        let info: String = redis::cmd("INFO")
            .arg("commandstats")
            .query_async(&mut conn)
            .await
            .unwrap_or_default();
        let line = info
            .lines()
            .find(|l| l.starts_with(&format!("cmdstat_{command}:")))
            .unwrap_or_default();
        let field = |name: &str| {
            line.split([':', ','])
                .find_map(|f| f.strip_prefix(&format!("{name}=")))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0)
        };
        (field("calls"), field("usec"))
    }

    /// `CONFIG RESETSTAT`: command statistics start from zero.
    /// Starts recording every command in the slow log (threshold 0), so
    /// [`Self::function_stats`] can tell one function's calls from the
    /// others' (`INFO commandstats` counts every `FCALL` together, the
    /// service's upkeep included).
    pub async fn record_calls(&self) -> Result<()> {
        let mut conn = self.connection().await?;
        for (name, value) in [
            ("slowlog-log-slower-than", "0"),
            ("slowlog-max-len", "1000000"),
        ] {
            let _: () = redis::cmd("CONFIG")
                .arg("SET")
                .arg(name)
                .arg(value)
                .query_async(&mut conn)
                .await?;
        }
        let _: () = redis::cmd("SLOWLOG")
            .arg("RESET")
            .query_async(&mut conn)
            .await?;
        Ok(())
    }

    /// Calls of the function `name` since [`Self::record_calls`] and their
    /// total time (µs), from the slow log; stops recording.
    pub async fn function_stats(&self, name: &str) -> Result<(f64, f64)> {
        let mut conn = self.connection().await?;
        let log: Vec<redis::Value> = redis::cmd("SLOWLOG")
            .arg("GET")
            .arg(-1)
            .query_async(&mut conn)
            .await?;
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("slowlog-log-slower-than")
            .arg("10000")
            .query_async(&mut conn)
            .await?;
        let text = |v: &redis::Value| match v {
            redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
            redis::Value::SimpleString(s) => s.clone(),
            _ => String::new(),
        };
        let (mut calls, mut usec) = (0.0, 0.0);
        for entry in &log {
            let redis::Value::Array(fields) = entry else {
                continue;
            };
            let (Some(redis::Value::Int(micros)), Some(redis::Value::Array(args))) =
                (fields.get(2), fields.get(3))
            else {
                continue;
            };
            let command = args.first().map(text).unwrap_or_default();
            let function = args.get(1).map(text).unwrap_or_default();
            if command.eq_ignore_ascii_case("fcall") && function == name {
                calls += 1.0;
                usec += *micros as f64;
            }
        }
        Ok((calls, usec))
    }

    pub async fn reset_stats(&self) -> Result<()> {
        let mut conn = self.connection().await?;
        let _: () = redis::cmd("CONFIG")
            .arg("RESETSTAT")
            .query_async(&mut conn)
            .await?;
        Ok(())
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

    /// `XLEN` of the stream at `key` (0 when it is missing or unreadable).
    pub async fn stream_len(&self, key: &str) -> u64 {
        let Ok(mut conn) = self.connection().await else {
            return 0;
        };
        redis::cmd("XLEN")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap_or(0)
    }

    /// Commands Redis has processed so far.
    pub async fn commands_processed(&self) -> u64 {
        commands_processed(&self.url()).await
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
            .args(["-h", "127.0.0.1", "-p", &self.server.port().to_string()])
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

/// The `tracking` binary the benchmarks run: `TRACKING_BIN`, else the release build.
pub fn binary() -> String {
    std::env::var("TRACKING_BIN").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../target/release/tracking").to_owned()
    })
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
    /// Starts the service with `flags` on the store `store_args` name
    /// (none: in memory; `--redis-url …`, `--redis-cluster …`, `--areas …`,
    /// which the rows do not repeat), and waits until it answers. It
    /// inherits no `TRACKING_*` variable: what runs is exactly what the
    /// flags say.
    pub async fn start(store_args: &[&str], flags: &[&str]) -> Result<Self> {
        let binary = binary();
        let port = free_port();
        let mut command = Command::new(&binary);
        test_support::without_tracking_env(&mut command);
        command
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(store_args)
            .args(flags)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null());
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
