//! `tracking-bench`: measures the service against references taken in the
//! same run, prints a table and rewrites `BENCHMARKS.md`.
//!
//! `scripts/bench.sh [scenario…]` builds in release mode and runs this. Each
//! scenario starts its own service (and uses the run's own `redis-server`),
//! is bounded in requests and time, and records the service's CPU time and
//! peak RSS. This machine is shared and noisy: read the ratios, not the
//! absolute rates.

mod client;
mod procs;
mod scenarios;

use std::{fmt::Write as _, process::ExitCode};

use procs::Redis;

/// Which store a scenario runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Memory,
    Redis,
}

impl StoreKind {
    fn name(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Redis => "redis",
        }
    }
}

/// One line of the results table.
#[derive(Debug, Clone)]
pub struct Row {
    pub scenario: &'static str,
    pub store: StoreKind,
    pub measured: String,
    pub reference: String,
    pub result: String,
    pub target: String,
    pub met: Option<bool>,
    pub cpu_secs: f64,
    pub peak_rss_mib: f64,
}

const ALL: [&str; 6] = [
    "ingest",
    "ingest-batch",
    "search",
    "time-to-match",
    "subscribers",
    "searching-load",
];

async fn run(
    scenario: &str,
    store: StoreKind,
    redis: &Redis,
    subscribers: usize,
) -> Result<Vec<Row>, String> {
    Ok(match scenario {
        "ingest" => vec![scenarios::ingest(store, redis).await?],
        "ingest-batch" => scenarios::ingest_batch(store, redis).await?,
        "search" => vec![scenarios::search(store, redis).await?],
        "time-to-match" => vec![scenarios::time_to_match(store, redis).await?],
        "subscribers" => vec![scenarios::subscribers(store, redis, subscribers).await?],
        "searching-load" => vec![scenarios::searching_load(store, redis).await?],
        other => {
            return Err(format!(
                "unknown scenario {other}; known: {}",
                ALL.join(", ")
            ))
        }
    })
}

fn cell(x: f64, digits: usize) -> String {
    if x.is_finite() {
        format!("{x:.digits$}")
    } else {
        "—".into()
    }
}

fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| scenario | store | measured | reference (same run) | result | target | met | service CPU s | service peak RSS MiB |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let met = match r.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "—",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.scenario,
            r.store.name(),
            r.measured,
            r.reference,
            r.result,
            r.target,
            met,
            cell(r.cpu_secs, 1),
            cell(r.peak_rss_mib, 0)
        );
    }
    out
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<u64>().ok())
        })
        .map(|k| format!("{:.0} GiB", k as f64 / 1024.0 / 1024.0))
        .unwrap_or_default();
    let redis = std::process::Command::new("redis-server")
        .arg("--version")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .nth(2)
                .unwrap_or("")
                .to_owned()
        })
        .unwrap_or_default();
    format!("{cores} cores ({cpu}), {mem} RAM, Redis {redis}")
}

fn commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let write = !args.iter().any(|a| a == "--no-write");
    args.retain(|a| a != "--no-write");
    let subscribers = std::env::var("BENCH_SUBSCRIBERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let chosen: Vec<String> = if args.is_empty() {
        ALL.iter().map(|s| s.to_string()).collect()
    } else {
        args
    };
    let redis = match Redis::start().await {
        Ok(redis) => redis,
        Err(error) => {
            eprintln!("tracking-bench: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for scenario in &chosen {
        for store in [StoreKind::Memory, StoreKind::Redis] {
            eprintln!("running {scenario} on {}", store.name());
            match run(scenario, store, &redis, subscribers).await {
                Ok(mut more) => {
                    eprint!(
                        "{}",
                        table(&more)
                            .lines()
                            .skip(2)
                            .map(|l| format!("{l}\n"))
                            .collect::<String>()
                    );
                    rows.append(&mut more);
                }
                Err(error) => {
                    eprintln!("  {scenario} on {} failed: {error}", store.name());
                    failures.push(format!("{scenario} on {}: {error}", store.name()));
                }
            }
            let mut conn = match redis.connection().await {
                Ok(conn) => conn,
                Err(_) => continue,
            };
            let _: redis::RedisResult<()> = redis::cmd("FLUSHALL").query_async(&mut conn).await;
        }
    }
    let rendered = table(&rows);
    println!("{rendered}");
    if write {
        let doc = format!(
            "{}\n\n## Results\n\nCommit {}, {} UTC, on {}.\n\n{}\n{}",
            include_str!("../METHOD.md").trim_end(),
            commit(),
            chrono::Utc::now().format("%Y-%m-%d %H:%M"),
            machine(),
            rendered,
            if failures.is_empty() {
                String::new()
            } else {
                format!(
                    "\nScenarios that did not finish:\n\n{}\n",
                    failures
                        .iter()
                        .map(|f| format!("- {f}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            }
        );
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../BENCHMARKS.md");
        if let Err(error) = std::fs::write(path, doc) {
            eprintln!("tracking-bench: cannot write BENCHMARKS.md: {error}");
            return ExitCode::FAILURE;
        }
        eprintln!("wrote BENCHMARKS.md");
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
