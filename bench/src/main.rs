//! `tracking-bench`: measures the service against references taken in the
//! same run, prints a table and rewrites `BENCHMARKS.md`.
//!
//! `scripts/bench.sh [scenario…]` builds in release mode and runs this. Each
//! scenario (one file in `scenarios/`) starts its own service (and uses the
//! run's own `redis-server`), is bounded in requests and time, and records
//! the service's CPU time and peak RSS. This machine is shared and noisy:
//! read the ratios, not the absolute rates.

mod client;
mod error;
mod procs;
mod report;
mod scenarios;

use std::process::ExitCode;

use clap::Parser;
use error::{BenchError, Result};
use procs::Redis;
use report::{table, Row};

/// Which store a scenario runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Memory,
    Redis,
    /// A Redis Cluster of the run's own (rows of the areas scenario).
    Cluster,
}

impl StoreKind {
    fn name(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Redis => "redis",
            Self::Cluster => "redis cluster",
        }
    }
}

/// The scenarios, in the order a full run takes them.
const ALL: [&str; 20] = [
    "ingest",
    "validation",
    "ingest-batch",
    "report-cost",
    "mqtt-ingest",
    "areas",
    "search",
    "eta-cost",
    "time-to-match",
    "offers",
    "subscribers",
    "fleet-feed",
    "dashboard-fps",
    "searching-load",
    "ws-oversized",
    "roads-load",
    "eta-ranking",
    "batched-matching",
    "events",
    "soak",
];

/// What `BENCHMARKS.md` says above its results: the method lives in
/// `docs/benchmarks.md`, so the generated file holds only the tables.
const HEADER: &str = "# Benchmarks

Written by `scripts/bench.sh` (the `tracking-bench` binary in `bench/`); do not edit the results by
hand. How each scenario is measured, its reference and its target, and why a target is not met:
[docs/benchmarks.md](docs/benchmarks.md).";

/// `BENCHMARKS.md` for a run: the header, then the run's results table and
/// the scenarios that did not finish.
fn document(
    commit: &str,
    when: &str,
    machine: &str,
    rendered: &str,
    failures: &[String],
) -> String {
    format!(
        "{HEADER}\n\n## Results\n\nCommit {commit}, {when} UTC, on {machine}.\n\n{}",
        document_tail(rendered, failures)
    )
}

/// A run's table, then the scenarios that did not finish.
fn document_tail(rendered: &str, failures: &[String]) -> String {
    format!(
        "{rendered}\n{}",
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
    )
}

/// Benchmarks for tracking, each against a reference measured in the same run.
#[derive(Parser)]
#[command(name = "tracking-bench")]
struct Args {
    /// Scenarios to run (default: all): ingest, validation, ingest-batch,
    /// report-cost, mqtt-ingest,
    /// areas, search, eta-cost,
    /// time-to-match, offers (time-to-offer and accept-to-found),
    /// subscribers, fleet-feed, dashboard-fps, searching-load, ws-oversized,
    /// roads-load, eta-ranking, batched-matching, events, soak.
    scenarios: Vec<String>,
    /// Print the table only; leave BENCHMARKS.md as it is.
    #[arg(long)]
    no_write: bool,
    /// Sockets in the subscribers scenario (at most the service's
    /// computed connection cap, less some room for the HTTP clients).
    #[arg(long, env = "BENCH_SUBSCRIBERS", default_value_t = 20_000)]
    subscribers: usize,
    /// Minutes the soak runs (its target is judged on 10).
    #[arg(long, default_value_t = 10)]
    soak_minutes: u64,
    /// Whether the soak's service writes the event log (`on`: with
    /// `--event-log on --event-retention 60s`, so the log must be trimmed
    /// within the run; `off`: the soak as before issue 24).
    #[arg(long, default_value = "on", value_parser = ["on", "off"])]
    soak_event_log: String,
}

async fn run(scenario: &str, store: StoreKind, redis: &Redis, args: &Args) -> Result<Vec<Row>> {
    use scenarios::*;
    let subscribers = args.subscribers;
    Ok(match scenario {
        "ingest" => ingest::run(store, redis).await?,
        "ingest-batch" => ingest_batch::run(store, redis).await?,
        "report-cost" => report_cost::run(store, redis).await?,
        "mqtt-ingest" => mqtt_ingest::run(store, redis).await?,
        "areas" => areas::run(store, redis).await?,
        "search" => vec![search::run(store, redis).await?],
        "eta-cost" => vec![eta_cost::run(store, redis).await?],
        "time-to-match" => vec![time_to_match::run(store, redis).await?],
        "offers" => offers::run(store, redis).await?,
        "subscribers" => vec![subscribers::run(store, redis, subscribers).await?],
        "fleet-feed" => fleet_feed::run(store, redis).await?,
        "searching-load" => vec![searching_load::run(store, redis).await?],
        "soak" => {
            vec![soak::run(store, redis, args.soak_minutes, args.soak_event_log == "on").await?]
        }
        // Delivery is measured where its target is set: on Redis.
        "events" if store == StoreKind::Redis => events::run(store, redis).await?,
        "events" => Vec::new(),
        // The store plays no part: once is enough.
        "validation" if store == StoreKind::Memory => vec![validation::run(redis).await?],
        "validation" => Vec::new(),
        "dashboard-fps" if store == StoreKind::Memory => dashboard_fps::run()?,
        "dashboard-fps" => Vec::new(),
        "ws-oversized" if store == StoreKind::Memory => {
            vec![soak::oversized_messages(redis).await?]
        }
        "ws-oversized" => Vec::new(),
        // Roads are the service's own, whatever the store: once, in memory.
        "roads-load" if store == StoreKind::Memory => roads_load::run(redis).await?,
        "eta-ranking" if store == StoreKind::Memory => eta_ranking::run(redis).await?,
        "batched-matching" if store == StoreKind::Memory => batched_matching::run(redis).await?,
        "roads-load" | "eta-ranking" | "batched-matching" => Vec::new(),
        other => {
            return Err(BenchError::Unexpected(format!(
                "unknown scenario {other}; known: {}",
                ALL.join(", ")
            )))
        }
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let chosen: Vec<String> = if args.scenarios.is_empty() {
        ALL.iter().map(|s| s.to_string()).collect()
    } else {
        args.scenarios.clone()
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
            match run(scenario, store, &redis, &args).await {
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
            if let Ok(mut conn) = redis.connection().await {
                let _: redis::RedisResult<()> = redis::cmd("FLUSHALL").query_async(&mut conn).await;
            }
        }
    }
    let rendered = table(&rows);
    println!("{rendered}");
    if !args.no_write {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../BENCHMARKS.md");
        let (commit, when, machine) = (
            report::commit(),
            chrono::Utc::now().format("%Y-%m-%d %H:%M").to_string(),
            report::machine(),
        );
        // A run of some scenarios keeps the full run's tables and adds its
        // own section; a full run rewrites the file.
        let doc = match std::fs::read_to_string(path) {
            Ok(existing) if !args.scenarios.is_empty() => report::with_partial_run(
                &existing,
                &args.scenarios,
                &format!("commit {commit}, {when} UTC, on {machine}"),
                &document_tail(&rendered, &failures),
            ),
            _ => document(&commit, &when, &machine, &rendered, &failures),
        };
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

#[cfg(test)]
mod tests {
    use super::*;

    /// What a run writes: the header linking the method, then the tables (as
    /// the checked-in file has them); the method's page is where the link says.
    #[test]
    fn the_written_file_links_the_method_and_holds_the_tables() {
        let rows = table(&[]);
        let doc = document(
            "abc1234",
            "2026-01-01 00:00",
            "2 cores",
            &rows,
            &["soak on redis: gone".into()],
        );
        assert!(doc.starts_with("# Benchmarks\n"), "{doc}");
        assert!(doc.contains("](docs/benchmarks.md)"), "{doc}");
        assert!(doc.contains("## Results\n\nCommit abc1234, 2026-01-01 00:00 UTC, on 2 cores."));
        assert!(doc.contains(&rows), "{doc}");
        assert!(doc.contains("\n- soak on redis: gone\n"), "{doc}");
        let written = concat!(env!("CARGO_MANIFEST_DIR"), "/../BENCHMARKS.md");
        let written = std::fs::read_to_string(written).expect("BENCHMARKS.md");
        assert!(
            written.starts_with(&format!("{HEADER}\n\n## Results\n")),
            "BENCHMARKS.md starts as a run writes it"
        );
        let method = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/benchmarks.md");
        let method = std::fs::read_to_string(method).expect("docs/benchmarks.md");
        for scenario in ALL {
            assert!(
                method.contains(&format!("`{scenario}`")),
                "docs/benchmarks.md says nothing of {scenario}"
            );
        }
    }
}
