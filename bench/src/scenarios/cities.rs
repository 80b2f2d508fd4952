//! The road networks the roads scenarios use: the Helsinki extract
//! (`scripts/bench.sh` fetches it, SHA-256 checked, as `scripts/test.sh`
//! does), the generated ~15 km city and the generated million-node grid
//! (`test_support::city`), each prepared into a `.roads` file by the
//! release binary's `tracking roads prepare`, timed, its peak memory read.

use std::{
    path::PathBuf,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use test_support::city::Grid;

use crate::{
    error::{BenchError, Result},
    procs::{binary, proc_stats},
};

/// The seed of the generated city every run uses.
pub const CITY_SEED: u64 = 22;

/// Where generated and prepared files go (under `target/`, never committed).
pub fn data_dir() -> Result<PathBuf> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/bench-data"));
    std::fs::create_dir_all(&dir)
        .map_err(|e| BenchError::Process(format!("cannot create {}: {e}", dir.display())))?;
    Ok(dir)
}

/// The Helsinki extract: `TRACKING_TEST_HELSINKI`, else where the scripts put it.
pub fn helsinki() -> Result<PathBuf> {
    let path = std::env::var_os("TRACKING_TEST_HELSINKI")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../target/test-data/helsinki/Helsinki.osm.pbf"
            ))
        });
    if path.is_file() {
        Ok(path)
    } else {
        Err(BenchError::Process(format!(
            "no Helsinki extract at {} (scripts/bench.sh fetches it)",
            path.display()
        )))
    }
}

/// A generated grid written as `.osm` into the data directory: its path and size in bytes.
pub fn write_grid(grid: &Grid, name: &str) -> Result<(PathBuf, u64)> {
    let path = data_dir()?.join(format!("{name}.osm"));
    let file = std::fs::File::create(&path)
        .map_err(|e| BenchError::Process(format!("cannot create {}: {e}", path.display())))?;
    let written = grid
        .write_osm(file)
        .map_err(|e| BenchError::Process(format!("cannot write {}: {e}", path.display())))?;
    Ok((path, written.bytes))
}

/// What `tracking roads prepare` did.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub roads: PathBuf,
    pub nodes: u64,
    pub edges: u64,
    /// Wall time of the whole command (read, build, write).
    pub elapsed: Duration,
    pub cpu_secs: f64,
    pub peak_rss_kib: u64,
}

/// The longest a prepare may take before the scenario gives up on it.
const PREPARE_WITHIN: Duration = Duration::from_secs(600);

/// Runs `tracking roads prepare input --out <name>.roads`, timing it and
/// sampling its memory until it exits.
pub async fn prepare(input: &std::path::Path, name: &str) -> Result<Prepared> {
    let out = data_dir()?.join(format!("{name}.roads"));
    let started = Instant::now();
    let mut child = Command::new(binary())
        .args(["roads", "prepare"])
        .arg(input)
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| BenchError::Process(format!("cannot run tracking roads prepare: {e}")))?;
    let pid = child.id();
    let mut last = proc_stats(pid);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) => {}
            Err(e) => return Err(BenchError::Process(format!("roads prepare: {e}"))),
        }
        if started.elapsed() > PREPARE_WITHIN {
            let _ = child.kill();
            let _ = child.wait();
            return Err(BenchError::Process(format!(
                "roads prepare {} took over {PREPARE_WITHIN:?}",
                input.display()
            )));
        }
        // Memory and CPU are read while it runs (gone once it exits).
        let now = proc_stats(pid);
        if now.peak_rss_kib > 0 {
            last = now;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    let output = child
        .wait_with_output()
        .map_err(|e| BenchError::Process(format!("roads prepare: {e}")))?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(BenchError::Process(format!(
            "roads prepare {} failed: {}",
            input.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    // "<out>: N nodes, M edges, prepared in T s"
    let count = |what: &str| {
        text.split(',')
            .find_map(|part| {
                let part = part.trim();
                let number = part.strip_suffix(what)?.trim();
                number.rsplit(' ').next()?.parse().ok()
            })
            .ok_or_else(|| BenchError::Unexpected(format!("roads prepare said: {text}")))
    };
    Ok(Prepared {
        roads: out,
        nodes: count("nodes")?,
        edges: count("edges")?,
        elapsed,
        cpu_secs: last.cpu_secs,
        peak_rss_kib: last.peak_rss_kib,
    })
}
