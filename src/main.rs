//! The `tracking` binary: parse the command line, start logging, run.

use std::{process::ExitCode, time::Duration};

use clap::{Parser, Subcommand};
use tracking::{auth, config::LogFormat, Config};

/// mimalloc keeps memory per idle WebSocket lower than the system allocator
/// (see BENCHMARKS.md, subscribers).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "tracking",
    version,
    about = "Real-time driver tracking and dispatch over GraphQL"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    config: Config,
}

#[derive(Subcommand)]
enum Command {
    /// Drives simulated drivers and riders through a running service's API.
    Simulate(Box<tracking::simulate::SimulateArgs>),
    /// Converts a Redis fleet of the previous key layout (1) to this one, in
    /// place (same --redis-url or --redis-cluster and --redis-prefix; stop
    /// every instance first).
    Migrate,
    /// Prints the documents the dashboard and the simulator send, as a JSON
    /// object of SHA-256 → document, to merge into a --persisted-documents
    /// file (with --only-persisted, nothing else runs).
    PersistedDocuments,
    /// Prints a token signed with --jwt-secret, for development.
    Token {
        /// Who the token speaks for (a driver's or rider's id).
        #[arg(long)]
        sub: String,
        /// What the holder may do: driver, rider or dispatcher.
        #[arg(long)]
        role: auth::Role,
        /// How long the token is valid.
        #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
        ttl: Duration,
        /// The secret the service verifies with.
        #[arg(long, env = "TRACKING_JWT_SECRET", hide_env_values = true)]
        jwt_secret: Option<String>,
    },
    /// The event log of a running service: `events redeliver --url URL
    /// --area A [--sink S]`.
    Events {
        #[command(subcommand)]
        action: EventsCommand,
    },
    /// The road network: `roads prepare FILE.osm.pbf --out FILE.roads`.
    Roads {
        #[command(subcommand)]
        action: RoadsCommand,
    },
}

#[derive(Subcommand)]
enum EventsCommand {
    /// Sends an area's dead letters (events a sink gave up on) back to their
    /// sinks, through the service's `redeliverEvents` (a dispatcher's token
    /// when it verifies tokens), and prints how many were queued.
    Redeliver(tracking::startup::redeliver::RedeliverArgs),
}

#[derive(Subcommand)]
enum RoadsCommand {
    /// Reads an OpenStreetMap extract (.osm.pbf or .osm), builds its
    /// contraction hierarchy and writes it, to load in seconds with
    /// `--roads FILE.roads`.
    Prepare {
        /// The extract.
        input: std::path::PathBuf,
        /// Where to write the prepared graph.
        #[arg(long)]
        out: std::path::PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Token {
            sub,
            role,
            ttl,
            jwt_secret,
        }) => {
            let Some(secret) = jwt_secret.as_deref().or(cli.config.jwt_secret.as_deref()) else {
                eprintln!("tracking: token needs --jwt-secret (or TRACKING_JWT_SECRET)");
                return ExitCode::FAILURE;
            };
            match auth::mint(secret, &sub, role, ttl) {
                Ok(token) => {
                    println!("{token}");
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("tracking: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        Some(Command::PersistedDocuments) => match tracking::startup::own_manifest_json() {
            Ok(text) => {
                println!("{text}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("tracking: {error}");
                ExitCode::FAILURE
            }
        },
        Some(Command::Simulate(args)) => {
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(runtime) => runtime,
                Err(error) => {
                    eprintln!("tracking: cannot start the runtime: {error}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(tracking::simulate::run(*args)) {
                Ok(_) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("tracking: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        Some(Command::Migrate) => {
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(runtime) => runtime,
                Err(error) => {
                    eprintln!("tracking: cannot start the runtime: {error}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(tracking::startup::migrate(&cli.config)) {
                Ok(done) => {
                    println!("{done}");
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("tracking: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        Some(Command::Events {
            action: EventsCommand::Redeliver(args),
        }) => {
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(runtime) => runtime,
                Err(error) => {
                    eprintln!("tracking: cannot start the runtime: {error}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(tracking::startup::redeliver::redeliver(&args)) {
                Ok(done) => {
                    println!("{done}");
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("tracking: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        Some(Command::Roads {
            action: RoadsCommand::Prepare { input, out },
        }) => {
            let started = std::time::Instant::now();
            match tracking::roads::Roads::prepare(&input, &out) {
                Ok(roads) => {
                    println!(
                        "{}: {} nodes, {} edges, prepared in {:.1} s",
                        out.display(),
                        roads.nodes(),
                        roads.edges(),
                        started.elapsed().as_secs_f64()
                    );
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("tracking: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        None => serve(cli.config),
    }
}

fn serve(config: Config) -> ExitCode {
    let traces = tracking::telemetry::traces::Options {
        json_logs: config.log_format == LogFormat::Json,
        otlp_endpoint: config.otlp_endpoint.clone(),
    };
    // Dropped after the runtime, so the spans still queued are sent.
    let _traces = match tracking::telemetry::traces::init(&traces) {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("tracking: {error}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("tracking: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(tracking::run(config));
    drop(runtime);
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tracking: {error}");
            ExitCode::FAILURE
        }
    }
}
