//! Starting with an areas file: a file the service cannot honour stops the
//! start with one line naming the area and the problem (and so do the
//! equivalent flags out of bounds); a very detailed area starts in bounded
//! time, and the port accepts connections only once the service answers.

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    process::Stdio,
    time::{Duration, Instant},
};

use serde_json::{json, Value};

use crate::common::{
    areas::{areas_file, two_cities},
    process::tracking_command,
    ServiceProcess,
};

#[test]
fn a_bad_areas_file_stops_the_start_naming_the_feature() {
    let mut overlapping = two_cities();
    overlapping["features"][1]["geometry"]["coordinates"][0][0][0] = json!(-70.6);
    overlapping["features"][1]["geometry"]["coordinates"][0][3][0] = json!(-70.6);
    overlapping["features"][1]["geometry"]["coordinates"][0][4][0] = json!(-70.6);
    let mut twice = two_cities();
    twice["features"][1]["properties"]["id"] = json!("scl");
    let mut unknown = two_cities();
    unknown["features"][0]["properties"]["colour"] = json!("red");
    let mut reserved = two_cities();
    reserved["features"][1]["properties"]["id"] = json!("outside");
    let mut bowtie = two_cities();
    bowtie["features"][0]["geometry"]["coordinates"] = json!([[
        [-70.8, -33.6],
        [-70.5, -33.3],
        [-70.5, -33.6],
        [-70.8, -33.3],
        [-70.8, -33.6]
    ]]);
    for (name, file, expected) in [
        ("overlap", overlapping, "overlap"),
        ("twice", twice, "twice"),
        ("unknown", unknown, "colour"),
        ("reserved", reserved, "reserved"),
        ("bowtie", bowtie, "feature 0"),
    ] {
        let path = areas_file(&format!("bad-{name}"), &file);
        let (ok, stderr) = ServiceProcess::run_to_exit(&["--areas", path.to_str().expect("path")]);
        assert!(!ok, "{name}: must not start");
        assert_eq!(stderr.trim().lines().count(), 1, "{name}: {stderr}");
        assert!(stderr.contains(expected), "{name}: {stderr}");
    }
}

fn refused(name: &str, file: &Value) -> String {
    let path = areas_file(&format!("refused-{name}"), file);
    let (ok, stderr) = ServiceProcess::run_to_exit(&["--areas", path.to_str().expect("path")]);
    assert!(!ok, "{name}: must not start");
    assert_eq!(
        stderr.trim().lines().count(),
        1,
        "{name}: one line: {stderr}"
    );
    stderr
}

fn with_ring(ring: Value) -> Value {
    let mut file = two_cities();
    file["features"][1]["geometry"]["coordinates"] = json!([ring]);
    file
}

fn with_rule(key: &str, value: &str) -> Value {
    let mut file = two_cities();
    file["features"][1]["properties"][key] = json!(value);
    file
}

#[test]
fn unusable_shapes_and_rules_stop_the_start_naming_the_area() {
    let cases = [
        (
            "zero-area",
            with_ring(json!([
                [-70.5, -33.6],
                [-70.4, -33.5],
                [-70.3, -33.4],
                [-70.5, -33.6]
            ])),
            "area east: the outer ring has no area",
        ),
        (
            "two-points",
            with_ring(json!([
                [-70.5, -33.6],
                [-70.4, -33.5],
                [-70.4, -33.5],
                [-70.5, -33.6]
            ])),
            "area east: the outer ring has fewer than 3 distinct points",
        ),
        (
            "antimeridian",
            with_ring(json!([[179, 0], [-179, 0], [-179, 1], [179, 1], [179, 0]])),
            "area east: an edge runs from longitude 179 to -179",
        ),
        (
            "search-interval",
            with_rule("searchInterval", "1ns"),
            "area east: searchInterval \"1ns\": must be from 50ms to 1day",
        ),
        (
            "request-timeout",
            with_rule("requestTimeout", "500000000y"),
            "area east: requestTimeout \"500000000y\": must be from 1ms to 1day",
        ),
        (
            "offer-timeout",
            with_rule("offerTimeout", "2days"),
            "area east: offerTimeout \"2days\": must be 0 (off) or from 100ms to 1day",
        ),
    ];
    for (name, file, expected) in cases {
        let stderr = refused(name, &file);
        assert!(stderr.contains(expected), "{name}: {stderr}");
    }
}

#[test]
fn ride_rule_flags_out_of_bounds_stop_the_start() {
    for (flag, value) in [
        ("--search-interval", "1ns"),
        ("--search-interval", "2days"),
        ("--request-timeout", "500000000y"),
        ("--offer-timeout", "1year"),
        ("--offer-timeout", "1ns"),
    ] {
        let (ok, stderr) = ServiceProcess::run_to_exit(&[flag, value]);
        assert!(!ok, "{flag} {value}: must not start");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains(flag) && stderr.contains("must be ") && stderr.contains(" to 1day"),
            "{flag} {value}: {stderr}"
        );
    }
}

/// A 100,000-vertex city border: a circle of 0.2° with two wiggles.
fn detailed_area() -> Value {
    let n = 100_000;
    let mut ring: Vec<[f64; 2]> = (0..n)
        .map(|i| {
            let t = std::f64::consts::TAU * f64::from(i) / f64::from(n);
            let r = 0.2 + 0.01 * (7.0 * t).sin() + 0.0005 * (997.0 * t).sin();
            [-70.65 + r * t.cos(), -33.45 + r * t.sin()]
        })
        .collect();
    ring.push(ring[0]);
    json!({"type": "FeatureCollection", "features": [{
        "type": "Feature",
        "properties": {"id": "detailed"},
        "geometry": {"type": "Polygon", "coordinates": [ring]}
    }]})
}

/// Asks `GET /health` on a fresh connection; the status line, or why not.
fn health(addr: SocketAddr, patience: Duration) -> Result<String, String> {
    let mut stream = TcpStream::connect_timeout(&addr, patience).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(patience))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("write: {e}"))?;
    let mut answer = String::new();
    match stream.read_to_string(&mut answer) {
        Ok(_) | Err(_) if !answer.is_empty() => {
            Ok(answer.lines().next().unwrap_or_default().to_owned())
        }
        Ok(_) => Err("accepted, then closed without an answer".into()),
        Err(e) => Err(format!("accepted, but no answer within {patience:?} ({e})")),
    }
}

/// Start-up time measured (debug build, this machine): about 4 s for this
/// area; before areas were indexed, hours (74 s at 10,000 vertices). The
/// bound leaves room for a busy machine.
const DETAILED_START_BOUND: Duration = Duration::from_secs(20);

#[test]
fn a_detailed_area_starts_in_bounded_time_and_the_port_opens_only_when_ready() {
    let path = areas_file("detailed", &detailed_area());
    let port = test_support::free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let started = Instant::now();
    let mut child = tracking_command()
        .args(["--listen", &addr.to_string()])
        .args(["--areas", path.to_str().expect("path")])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the tracking binary");
    // Every connection the port accepts is answered at once; until then,
    // connections are refused.
    let outcome = loop {
        if started.elapsed() > DETAILED_START_BOUND {
            break Err(format!("not serving within {DETAILED_START_BOUND:?}"));
        }
        if let Ok(Some(status)) = child.try_wait() {
            break Err(format!("exited: {status}"));
        }
        match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
            Ok(probe) => {
                drop(probe);
                break health(addr, Duration::from_secs(2));
            }
        }
    };
    let elapsed = started.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    let status = outcome.unwrap_or_else(|e| panic!("after {elapsed:?}: {e}"));
    assert!(status.contains(" 200 "), "{status}");
    assert!(elapsed < DETAILED_START_BOUND, "{elapsed:?}");
}
