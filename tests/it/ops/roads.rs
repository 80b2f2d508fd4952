//! Starting with `--roads`: a missing file, a file that is not OpenStreetMap,
//! and an extract with no car roads each stop the start with one clear line;
//! a good synthetic city (and its prepared `.roads`) starts, logs what it
//! loaded, and serves `/health`.

use std::{
    io::{Read, Write},
    net::TcpStream,
    path::PathBuf,
    time::Duration,
};

use crate::common::{process::tracking_command, ServiceProcess};

/// A file in a directory of this test process's own.
fn file(name: &str, content: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tracking-it-roads-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, content).expect("write");
    path
}

/// A small `.osm` city: two streets meeting at a corner, with `highway` as given.
fn city(highway: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6">
  <node id="1" lat="60.1700" lon="24.9400"/>
  <node id="2" lat="60.1700" lon="24.9500"/>
  <node id="3" lat="60.1750" lon="24.9500"/>
  <way id="10"><nd ref="1"/><nd ref="2"/><tag k="highway" v="{highway}"/></way>
  <way id="11"><nd ref="2"/><nd ref="3"/><tag k="highway" v="{highway}"/><tag k="oneway" v="yes"/></way>
</osm>
"#
    )
}

fn refused(path: &std::path::Path, expected: &str) {
    let (ok, stderr) = ServiceProcess::run_to_exit(&["--roads", path.to_str().expect("path")]);
    assert!(!ok, "{}: must not start", path.display());
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains(expected), "{stderr}");
    assert!(
        stderr.contains(&*path.to_string_lossy()),
        "names the file: {stderr}"
    );
}

#[test]
fn a_bad_roads_file_stops_the_start_with_one_line() {
    let missing = std::env::temp_dir().join("tracking-no-such-city.osm.pbf");
    refused(&missing, "cannot open");
    refused(
        &file("not-osm.osm", "just some text"),
        "not a valid OSM XML file",
    );
    refused(
        &file("not-pbf.osm.pbf", "just some text"),
        "not a valid OSM PBF file",
    );
    refused(&file("paths.osm", &city("footway")), "no car roads");
    refused(
        &file("foreign.roads", "TRKROADS and then nothing"),
        "not a valid prepared roads file",
    );
    let (ok, stderr) = ServiceProcess::run_to_exit(&["--road-snap", "0"]);
    assert!(!ok && stderr.contains("road-snap"), "{stderr}");
}

fn health(service: &ServiceProcess) -> String {
    let mut stream = TcpStream::connect(service.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply);
    reply
}

#[test]
fn a_good_city_starts_logs_what_it_loaded_and_serves_health() {
    let osm = file("corner.osm", &city("residential"));
    let service =
        ServiceProcess::start(&["--roads", osm.to_str().expect("path"), "--road-snap", "100"]);
    assert!(health(&service).starts_with("HTTP/1.1 200"), "health");
    let log = service.log.lock().expect("log").text();
    assert!(log.contains("roads loaded"), "{log}");
    assert!(log.contains("nodes=3") && log.contains("edges=3"), "{log}");
}

#[test]
fn a_prepared_city_loads() {
    let osm = file("prepare-corner.osm", &city("primary"));
    let out = osm.with_file_name("corner.roads");
    let done = tracking_command()
        .args(["roads", "prepare", osm.to_str().expect("path"), "--out"])
        .arg(&out)
        .output()
        .expect("run roads prepare");
    assert!(done.status.success(), "{done:?}");
    let said = String::from_utf8_lossy(&done.stdout);
    assert!(said.contains("3 nodes, 3 edges"), "{said}");
    let service = ServiceProcess::start(&["--roads", out.to_str().expect("path")]);
    assert!(health(&service).starts_with("HTTP/1.1 200"), "health");
    assert!(service.log.lock().expect("log").contains("roads loaded"));
}

/// An `.osm` that is one endless run of text with no markup (here a
/// link to /dev/zero; in life a damaged or wrongly named multi-GB file):
/// under a memory limit the start must stop with one clear line, not an
/// abort on a failed allocation.
#[test]
fn an_osm_without_markup_stops_with_a_clear_line_not_an_abort() {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    let dir =
        std::env::temp_dir().join(format!("tracking-it-roads-nomarkup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let link = dir.join("zero.osm");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink("/dev/zero", &link).expect("symlink");
    let mut command = tracking_command();
    command
        .args([
            "--listen",
            "127.0.0.1:0",
            "--roads",
            link.to_str().expect("path"),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 3 << 30,
                rlim_max: 3 << 30,
            };
            libc::setrlimit(libc::RLIMIT_AS, &limit);
            Ok(())
        });
    }
    let child = command.spawn().expect("start");
    let output = child.wait_with_output().expect("exit");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.signal(), None, "killed by a signal: {stderr}");
    assert!(!output.status.success());
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("tracking: roads file"),
        "not one clear line: {}",
        &stderr[..stderr.len().min(600)]
    );
}
