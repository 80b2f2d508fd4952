//! The batched-matching flags (`--match-window` and how a window weighs
//! and bounds its work), flattened into `Config`.

use std::time::Duration;

use crate::domain::rules::{BATCH_WAIT_WEIGHT, MAX_BATCHES};

/// Most rides one assignment solves.
const MAX_BATCH_SIZE: usize = 10_000;

/// How rides are matched together.
#[derive(Debug, Clone, clap::Args)]
pub struct BatchConfig {
    /// Match the rides of an area together every this long: each window
    /// assigns its searching rides and available drivers so that the most
    /// rides are matched, then the least total pickup time; 0s: each ride
    /// on its own as it comes (greedy); else 100ms to 1m. An area's
    /// `matchWindow` overrides it.
    #[arg(long = "match-window", env = "TRACKING_MATCH_WINDOW", default_value = "0s", value_parser = humantime::parse_duration)]
    pub match_window: Duration,

    /// Pickup seconds a second of waiting is worth in a window (breaks
    /// near-ties in favour of the rider who waited longer); 0 to 100.
    #[arg(long = "batch-wait-weight", env = "TRACKING_BATCH_WAIT_WEIGHT", default_value_t = 0.01, value_parser = parse_weight)]
    pub wait_weight: f64,

    /// Most rides one window's assignment solves at once (a larger group
    /// is matched greedily beyond it, and counted); 1 to 10000.
    #[arg(long = "max-batch-size", env = "TRACKING_MAX_BATCH_SIZE", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=MAX_BATCH_SIZE as u64))]
    pub max_batch_size: u64,

    /// A ride this many windows unmatched is matched first in the next,
    /// greedily, so newer riders never starve it; 1 to 1000.
    #[arg(long = "max-batches", env = "TRACKING_MAX_BATCHES", default_value_t = 3, value_parser = clap::value_parser!(u32).range(i64::from(MAX_BATCHES.0)..=i64::from(MAX_BATCHES.1)))]
    pub max_batches: u32,
}

fn parse_weight(text: &str) -> Result<f64, String> {
    let (lo, hi) = BATCH_WAIT_WEIGHT;
    match text.trim().parse::<f64>() {
        Ok(w) if (lo..=hi).contains(&w) => Ok(w),
        _ => Err(format!("must be a number from {lo} to {hi}")),
    }
}
