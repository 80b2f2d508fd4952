//! The `tracking` binary: parse the configuration, start logging, serve.

use std::io::IsTerminal;

use clap::Parser;
use tracing_subscriber::EnvFilter;
use tracking::{config::LogFormat, Config};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = Config::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    match config.log_format {
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(std::io::stdout().is_terminal())
            .init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init(),
    }
    match tracking::run(config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tracking: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
