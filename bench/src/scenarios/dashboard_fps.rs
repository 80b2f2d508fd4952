//! The dashboard in headless Chromium with a city's fleet: frames per
//! second and the share of time in long tasks with 500, 2,000 and 5,000
//! drivers moving every 2 s, measured by `bench/browser/fps.mjs` (node and
//! playwright-core, from tests/browser; Debian's chromium). The store plays
//! no part: it runs once, in memory.

use std::process::Command;

use serde_json::Value;

use crate::{
    error::{BenchError, Result},
    report::Row,
    StoreKind,
};

pub fn run() -> Result<Vec<Row>> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let output = Command::new("node")
        .arg(format!("{root}/bench/browser/fps.mjs"))
        .arg(format!("{root}/target/release/tracking"))
        .output()
        .map_err(|e| BenchError::Unexpected(format!("node bench/browser/fps.mjs: {e}")))?;
    if !output.status.success() {
        return Err(BenchError::Unexpected(format!(
            "node bench/browser/fps.mjs failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    let mut rows = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(figures) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let drivers = figures["drivers"].as_u64().unwrap_or_default();
        let fps = figures["fps"].as_f64().unwrap_or_default();
        let long = figures["longTaskShare"].as_f64().unwrap_or(1.0) * 100.0;
        let in_view = figures["inView"].as_u64().unwrap_or_default();
        let draws = figures["drawsPerSec"].as_f64().unwrap_or_default();
        let judged = drivers == 5_000;
        rows.push(Row {
            scenario: "dashboard-fps",
            store: StoreKind::Memory,
            flags: "defaults".into(),
            measured: format!(
                "{drivers} drivers ({in_view} drawn in view), moving every 2 s: {fps:.0} frames/s, long tasks {long:.1}% of the time, {draws:.1} redraws/s"
            ),
            reference: "—".into(),
            result: format!("{fps:.0} fps, {long:.1}% long tasks"),
            target: if judged {
                "≥ 30 fps, long tasks < 10%".into()
            } else {
                "reported".into()
            },
            met: judged.then_some(fps >= 30.0 && long < 10.0 && in_view == drivers),
            cpu_secs: f64::NAN,
            peak_rss_mib: f64::NAN,
        });
    }
    if rows.is_empty() {
        return Err(BenchError::Unexpected(
            "node bench/browser/fps.mjs printed no figures".into(),
        ));
    }
    Ok(rows)
}
