//! Synthetic cities whose right answers are known by construction, written
//! as `.osm` XML: a river crossed by one bridge far away, and a loop of
//! one-way streets; an island no road reaches; a country 18° of latitude
//! tall. Every street is `residential` at 50 km/h.

use std::{fmt::Write, path::PathBuf};

/// Metres per degree of latitude, and of longitude at 60° north.
const LAT_M: f64 = 111_200.0;
const LNG_M: f64 = 55_600.0;

/// The river city: a south and a north street along the river, 300 m
/// apart, joined only by a bridge 4 km east of the pickup.
pub mod river {
    /// Where the rider waits, on the south street.
    pub const PICKUP: (f64, f64) = (60.0, 25.01);
    /// 300 m north, on the far bank (8 km away by road, over the bridge).
    pub const FAR_BANK: (f64, f64) = (60.0 + 300.0 / super::LAT_M, 25.01);
    /// 800 m east, on the same bank (800 m by road).
    pub const SAME_BANK: (f64, f64) = (60.0, 25.01 + 800.0 / super::LNG_M);
    /// 2 km north of every road (off the network, at the default snap).
    pub const OFF_NETWORK: (f64, f64) = (60.0 + 2_000.0 / super::LAT_M, 25.01);
    /// On an island 1 km south: a street no road joins to the rest.
    pub const ISLAND: (f64, f64) = (60.0 - 1_000.0 / super::LAT_M, 25.01);
}

/// The one-way loop: a rectangle 2.2 × 1 km driven anticlockwise (the
/// south street eastbound).
pub mod loop_city {
    /// Where the rider waits, on the south street.
    pub const PICKUP: (f64, f64) = (61.0, 25.02);
    /// 300 m east, downstream: it must drive the whole loop round (~6 km).
    pub const DOWNSTREAM: (f64, f64) = (61.0, 25.02 + 300.0 / super::LNG_M);
    /// 700 m west, upstream: 700 m by road.
    pub const UPSTREAM: (f64, f64) = (61.0, 25.02 - 700.0 / super::LNG_M);
}

/// The island town: a mainland street, and 300 m north across water an
/// island street no road joins to it (a ferry's, say).
pub mod island {
    /// Where the rider waits, on the mainland street.
    pub const PICKUP: (f64, f64) = (60.5, 25.01);
    /// 300 m north, on the island: no road reaches the pickup.
    pub const ISLAND: (f64, f64) = (60.5 + 300.0 / super::LAT_M, 25.01);
    /// 2.5 km east on the mainland street (3 minutes at 50 km/h).
    pub const MAINLAND: (f64, f64) = (60.5, 25.01 + 2_500.0 / super::LNG_M);
}

/// An `.osm` document being written: nodes along straight lines, ways.
#[derive(Default)]
struct Osm {
    nodes: String,
    ways: String,
    next: u64,
}

impl Osm {
    /// A street from `a` to `b` with a node every ~100 m; its node ids.
    fn street(&mut self, a: (f64, f64), b: (f64, f64), tags: &[(&str, &str)]) -> Vec<u64> {
        let metres = ((b.0 - a.0) * LAT_M).hypot((b.1 - a.1) * LNG_M);
        let steps = (metres / 100.0).ceil().max(1.0) as u64;
        let ids: Vec<u64> = (0..=steps)
            .map(|i| {
                let t = i as f64 / steps as f64;
                self.node((a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t))
            })
            .collect();
        self.way(&ids, tags);
        ids
    }

    fn node(&mut self, (lat, lng): (f64, f64)) -> u64 {
        self.next += 1;
        let _ = writeln!(
            self.nodes,
            r#"  <node id="{}" lat="{lat:.7}" lon="{lng:.7}"/>"#,
            self.next
        );
        self.next
    }

    fn way(&mut self, ids: &[u64], tags: &[(&str, &str)]) {
        self.next += 1;
        let _ = write!(self.ways, r#"  <way id="{}">"#, self.next);
        for id in ids {
            let _ = write!(self.ways, r#"<nd ref="{id}"/>"#);
        }
        for (k, v) in [("highway", "residential"), ("maxspeed", "50")]
            .iter()
            .chain(tags)
        {
            let _ = write!(self.ways, r#"<tag k="{k}" v="{v}"/>"#);
        }
        self.ways.push_str("</way>\n");
    }

    fn text(&self) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<osm version=\"0.6\">\n{}{}</osm>\n",
            self.nodes, self.ways
        )
    }
}

/// Both cities in one file; its path (written once per test process).
pub fn cities() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tracking-it-cities-{}", std::process::id()));
    let path = dir.join("cities.osm");
    if path.exists() {
        return path;
    }
    let mut osm = Osm::default();
    // The river city: two streets from 25.00 east to the bridge, which
    // joins their ends (dead ends beyond it are not needed).
    let (south, north, bridge) = (60.0, river::FAR_BANK.0, 25.01 + 4_000.0 / LNG_M);
    let s = osm.street((south, 25.0), (south, bridge), &[]);
    let n = osm.street((north, 25.0), (north, bridge), &[]);
    osm.way(&[s[s.len() - 1], n[n.len() - 1]], &[("bridge", "yes")]);
    // The island: 600 m of street joined to nothing.
    let island = river::ISLAND.0;
    osm.street((island, 25.005), (island, 25.015), &[]);
    // The one-way loop, anticlockwise: east, north, west, south.
    let (w, e, lo, hi) = (25.0, 25.04, 61.0, 61.009);
    let oneway = [("oneway", "yes")];
    let a = osm.street((lo, w), (lo, e), &oneway);
    let b = osm.street((lo, e), (hi, e), &oneway);
    let c = osm.street((hi, e), (hi, w), &oneway);
    let d = osm.street((hi, w), (lo, w), &oneway);
    // Corners shared: each street ends where the next begins.
    for (end, start) in [(&a, &b), (&b, &c), (&c, &d), (&d, &a)] {
        osm.way(&[end[end.len() - 1], start[0]], &oneway);
    }
    std::fs::create_dir_all(&dir).expect("temp dir");
    let written = dir.join(format!("cities-{}.osm", rand_suffix()));
    std::fs::write(&written, osm.text()).expect("write the cities");
    // Renamed into place, so concurrent tests never read half a file.
    std::fs::rename(&written, &path).expect("rename the cities");
    path
}

/// The island town alone; its path (written once per test process).
pub fn island_town() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tracking-it-island-{}", std::process::id()));
    let path = dir.join("island.osm");
    if path.exists() {
        return path;
    }
    let mut osm = Osm::default();
    let (main, isle) = (island::PICKUP.0, island::ISLAND.0);
    osm.street((main, 25.0), (main, 25.06), &[]);
    osm.street((isle, 25.0), (isle, 25.02), &[]);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let written = dir.join(format!("island-{}.osm", rand_suffix()));
    std::fs::write(&written, osm.text()).expect("write the island town");
    std::fs::rename(&written, &path).expect("rename the island town");
    path
}

/// A country from 60° to 78° north (Norway with Svalbard, say): a north–south
/// street at 60° ([`far_apart::STREET_LNG`]) and one short street at 78°.
pub mod far_apart {
    /// The south street's longitude; it runs from 60.0 to 60.01 north.
    pub const STREET_LNG: f64 = 25.0;
    /// 320 m east of the street (off the network at the default 250 m snap).
    pub const EAST_OF_IT: (f64, f64) = (60.005, 25.0 + 320.0 / super::LNG_M);
    /// On the street.
    pub const ON_IT: (f64, f64) = (60.005, 25.0);
}

/// The [`far_apart`] country; its path (written once per test process).
pub fn far_apart_country() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tracking-it-far-{}", std::process::id()));
    let path = dir.join("far.osm");
    if path.exists() {
        return path;
    }
    let mut osm = Osm::default();
    osm.street(
        (60.0, far_apart::STREET_LNG),
        (60.01, far_apart::STREET_LNG),
        &[],
    );
    osm.street((78.0, 15.0), (78.0, 15.01), &[]);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let written = dir.join(format!("far-{}.osm", rand_suffix()));
    std::fs::write(&written, osm.text()).expect("write the far-apart country");
    std::fs::rename(&written, &path).expect("rename the far-apart country");
    path
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}
