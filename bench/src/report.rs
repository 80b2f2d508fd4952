//! The results table: one row per measurement, written to stdout and into
//! `BENCHMARKS.md`.

use std::fmt::Write as _;

use crate::StoreKind;

/// One line of the results table.
#[derive(Debug, Clone)]
pub struct Row {
    pub scenario: &'static str,
    pub store: StoreKind,
    /// The service's flags that differ from its defaults ("defaults" when
    /// none do), so no row hides a relaxed limit.
    pub flags: String,
    pub measured: String,
    pub reference: String,
    pub result: String,
    pub target: String,
    pub met: Option<bool>,
    pub cpu_secs: f64,
    pub peak_rss_mib: f64,
}

fn cell(x: f64, digits: usize) -> String {
    if x.is_finite() {
        format!("{x:.digits$}")
    } else {
        "—".into()
    }
}

/// The rows as a Markdown table.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| scenario | store | service flags | measured | reference (same run) | result | target | met | service CPU s | service peak RSS MiB |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let met = match r.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "—",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.scenario,
            r.store.name(),
            r.flags,
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

/// The machine the figures come from.
pub fn machine() -> String {
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

/// The commit the figures were measured at.
pub fn commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// Percentiles of sorted values, p in 0..=100.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// The heading under which runs of some scenarios only are kept.
pub const SINCE: &str = "## Measured since the full run";

/// `BENCHMARKS.md` after a run of some scenarios only (`names`): the file as
/// it was, with the run's rows as a section of their own under [`SINCE`],
/// replacing the section an earlier run of the same scenarios wrote.
pub fn with_partial_run(existing: &str, names: &[String], about: &str, rendered: &str) -> String {
    let key = format!("### {}", names.join(", "));
    let section = format!(
        "{key}\n\n`scripts/bench.sh {}`, {about}. These rows stand in for the full run's rows of the same scenarios.\n\n{rendered}",
        names.join(" ")
    );
    let mut doc = existing.trim_end().to_owned();
    if let Some(start) = doc.find(&format!("\n{key}\n")).map(|i| i + 1) {
        let rest = &doc[start + key.len()..];
        let end = ["\n### ", "\n## "]
            .iter()
            .filter_map(|h| rest.find(h))
            .min()
            .map_or(doc.len(), |i| start + key.len() + i);
        let tail = doc[end..].to_owned();
        doc.truncate(start);
        doc.push_str(section.trim_end());
        doc.push('\n');
        doc.push_str(&tail);
        return format!("{}\n", doc.trim_end());
    }
    if !doc.contains(&format!("\n{SINCE}\n")) {
        doc.push_str(&format!("\n\n{SINCE}"));
    }
    format!("{doc}\n\n{}\n", section.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_run_adds_its_section_once_and_replaces_it_the_next_time() {
        let full = "# Benchmarks\n\n## Results\n\n| a |\n";
        let names = vec!["roads-load".to_owned()];
        let once = with_partial_run(full, &names, "commit a", "| one |\n");
        assert!(once.starts_with(full.trim_end()), "{once}");
        assert!(
            once.contains("\n## Measured since the full run\n\n### roads-load\n"),
            "{once}"
        );
        assert!(once.contains("| one |"), "{once}");
        let other = with_partial_run(&once, &["eta-ranking".to_owned()], "commit b", "| two |\n");
        let again = with_partial_run(&other, &names, "commit c", "| three |\n");
        assert!(!again.contains("| one |"), "{again}");
        assert!(
            again.contains("| three |") && again.contains("| two |"),
            "{again}"
        );
        assert_eq!(again.matches(SINCE).count(), 1, "{again}");
        assert_eq!(again.matches("### roads-load").count(), 1, "{again}");
        // Replaced where it was.
        assert!(
            again.find("### roads-load") < again.find("### eta-ranking"),
            "{again}"
        );
    }
}
