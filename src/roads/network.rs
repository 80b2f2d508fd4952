//! The car network's rules: which OSM ways a car may drive, in which
//! direction, and how fast — every rule in the one table and the few
//! functions below.

/// One row of the highway table: an OSM `highway=` value a car may drive,
/// its default speed where `maxspeed` is missing or unreadable, and whether
/// it is one-way unless tagged otherwise (motorways, as OSM implies).
struct HighwayClass {
    highway: &'static str,
    default_kmh: f64,
    implied_oneway: bool,
}

/// The car network: every `highway=` value not listed here is not driven.
const HIGHWAYS: &[HighwayClass] = &[
    row("motorway", 100.0, true),
    row("motorway_link", 60.0, true),
    row("trunk", 80.0, false),
    row("trunk_link", 50.0, false),
    row("primary", 60.0, false),
    row("primary_link", 40.0, false),
    row("secondary", 50.0, false),
    row("secondary_link", 40.0, false),
    row("tertiary", 40.0, false),
    row("tertiary_link", 30.0, false),
    row("residential", 30.0, false),
    row("unclassified", 30.0, false),
    row("living_street", 10.0, false),
    row("service", 15.0, false),
];

const fn row(highway: &'static str, default_kmh: f64, implied_oneway: bool) -> HighwayClass {
    HighwayClass {
        highway,
        default_kmh,
        implied_oneway,
    }
}

/// `access=` values that close a way to cars (unless `motor_vehicle`/`motorcar` reopen it).
const CLOSED: &[&str] = &["no", "private"];
/// `motor_vehicle=`/`motorcar=` values that reopen a way closed by `access`.
const REOPENED: &[&str] = &["yes", "permissive", "designated", "destination"];
/// `oneway=` values meaning "along the way's node order".
const ONEWAY_FORWARD: &[&str] = &["yes", "true", "1"];
/// `oneway=` values meaning "against the way's node order".
const ONEWAY_BACKWARD: &[&str] = &["-1", "reverse"];
/// `oneway=` values meaning "both ways", overriding an implied one-way.
const ONEWAY_NO: &[&str] = &["no", "false", "0"];
/// `junction=` values implying one-way along the node order.
const ROUNDABOUTS: &[&str] = &["roundabout", "circular"];
/// Kilometres per mile, for `maxspeed=30 mph`.
const KM_PER_MILE: f64 = 1.609_344;
/// Speeds outside this range (km/h) are taken as junk.
const PLAUSIBLE_KMH: std::ops::RangeInclusive<f64> = 1.0..=200.0;

/// Which way a car may drive a way, relative to its node order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Direction {
    /// Both ways.
    Both,
    /// Only along the node order.
    Forward,
    /// Only against the node order.
    Backward,
}

impl Direction {
    /// Whether a car may drive from the way's earlier node to its later one.
    pub fn forward(self) -> bool {
        matches!(self, Direction::Both | Direction::Forward)
    }

    /// Whether a car may drive from the way's later node to its earlier one.
    pub fn backward(self) -> bool {
        matches!(self, Direction::Both | Direction::Backward)
    }
}

/// The verdict on a car way: its direction and speed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CarWay {
    /// Which way it may be driven.
    pub direction: Direction,
    /// Speed in km/h.
    pub kmh: f64,
}

/// Judges a way by its tags (`(key, value)` pairs): `None` when a car may not
/// drive it (not a car highway, or closed by `access`/`motor_vehicle`).
pub fn judge<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<CarWay> {
    let (mut highway, mut oneway, mut junction, mut maxspeed) = (None, None, None, None);
    let (mut access, mut motor) = (None, None);
    for (key, value) in tags {
        match key {
            "highway" => highway = Some(value),
            "oneway" => oneway = Some(value),
            "junction" => junction = Some(value),
            "maxspeed" => maxspeed = Some(value),
            "access" => access = Some(value),
            // The stricter of the two wins: a "no" is never reopened.
            "motor_vehicle" | "motorcar" if motor.is_none() || CLOSED.contains(&value) => {
                motor = Some(value)
            }
            _ => {}
        }
    }
    let class = HIGHWAYS.iter().find(|c| Some(c.highway) == highway)?;
    if motor.is_some_and(|m| CLOSED.contains(&m)) {
        return None;
    }
    if access.is_some_and(|a| CLOSED.contains(&a)) && !motor.is_some_and(|m| REOPENED.contains(&m))
    {
        return None;
    }
    let direction = match oneway {
        Some(o) if ONEWAY_FORWARD.contains(&o) => Direction::Forward,
        Some(o) if ONEWAY_BACKWARD.contains(&o) => Direction::Backward,
        Some(o) if ONEWAY_NO.contains(&o) => Direction::Both,
        _ if junction.is_some_and(|j| ROUNDABOUTS.contains(&j)) || class.implied_oneway => {
            Direction::Forward
        }
        _ => Direction::Both,
    };
    let kmh = maxspeed
        .and_then(parse_maxspeed)
        .unwrap_or(class.default_kmh);
    Some(CarWay { direction, kmh })
}

/// Reads an OSM `maxspeed` in km/h: a plain number (km/h), `"50 km/h"`,
/// `"50kmh"`, or `"30 mph"`; `None` for anything else (`none`, `signals`,
/// `FI:urban`, junk) or a speed outside 1–200 km/h.
pub fn parse_maxspeed(value: &str) -> Option<f64> {
    let value = value.trim();
    let (number, factor) = if let Some(n) = value.strip_suffix("mph") {
        (n, KM_PER_MILE)
    } else if let Some(n) = value
        .strip_suffix("km/h")
        .or_else(|| value.strip_suffix("kmh"))
    {
        (n, 1.0)
    } else {
        (value, 1.0)
    };
    let kmh = number.trim().parse::<f64>().ok()? * factor;
    (kmh.is_finite() && PLAUSIBLE_KMH.contains(&kmh)).then_some(kmh)
}
