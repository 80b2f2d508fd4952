//! Generated cities as `.osm` XML (what `src/roads/xml.rs` reads), the same
//! for the same seed: a street grid with an arterial every tenth street,
//! one-way pairs, a river crossed by a few bridges and some dead ends (the
//! ~15 × 15 km city of the `eta-ranking` benchmark), or a plain grid of a
//! million nodes (the `roads-load` benchmark). Here, in the dev crate, so
//! the benchmarks and the tests build the same cities.

use std::io::{self, Write};

/// Metres per degree of latitude.
const METRES_PER_DEGREE: f64 = 111_195.0;

/// A river between two neighbouring east–west streets, crossed only on bridges.
#[derive(Debug, Clone, PartialEq)]
pub struct River {
    /// It flows between street `row` and street `row + 1` (counted from the south).
    pub row: usize,
    /// The north–south streets that cross it on a bridge.
    pub bridges: Vec<usize>,
}

/// A city laid out as a square grid of streets.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// Streets each way (so `streets²` crossings, the nodes).
    pub streets: usize,
    /// Metres between neighbouring streets.
    pub spacing_m: f64,
    /// Every this-many-th street is an arterial (`primary`, 60 km/h; the
    /// others `residential`, 30 km/h).
    pub arterial_every: usize,
    /// The south-west corner, `(lat, lng)`.
    pub origin: (f64, f64),
    /// Streets `4` and `5` of every ten (each way) are a one-way pair:
    /// one runs north (east), its neighbour south (west).
    pub one_way_pairs: bool,
    pub river: Option<River>,
    /// The share of two-way residential blocks left out (dead ends and
    /// cul-de-sacs); never a block of an arterial or a one-way street.
    pub missing_blocks: f64,
    pub seed: u64,
}

/// What [`Grid::write_osm`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub nodes: usize,
    pub ways: usize,
    pub bytes: u64,
}

/// A block's street, as tagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Arterial,
    Residential,
    /// One-way along the street's node order (`true`) or against it.
    OneWay(bool),
}

impl Grid {
    /// The `eta-ranking` city: 101 streets 150 m apart each way (15 × 15
    /// km), arterials every tenth street, one-way pairs, a river across the
    /// middle with four bridges (one per quarter of its length, two of them
    /// on residential streets), 4 % of the residential blocks missing.
    pub fn city(seed: u64) -> Grid {
        let mut rng = SplitMix(seed);
        let streets = 101;
        let quarter = streets / 4;
        let bridges = (0..4)
            .map(|q| q * quarter + 2 + rng.below(quarter as u64 - 4) as usize)
            .collect();
        Grid {
            streets,
            spacing_m: 150.0,
            arterial_every: 10,
            origin: (50.0, 10.0),
            one_way_pairs: true,
            river: Some(River {
                row: streets / 2 - 3 + rng.below(6) as usize,
                bridges,
            }),
            missing_blocks: 0.04,
            seed,
        }
    }

    /// A grid of 1,000 × 1,000 crossings 100 m apart (a million nodes, 100
    /// × 100 km), arterials every tenth street, nothing else.
    pub fn million() -> Grid {
        Grid {
            streets: 1000,
            spacing_m: 100.0,
            arterial_every: 10,
            origin: (50.0, 10.0),
            one_way_pairs: false,
            river: None,
            missing_blocks: 0.0,
            seed: 0,
        }
    }

    /// Crossings, the nodes written.
    pub fn nodes(&self) -> usize {
        self.streets * self.streets
    }

    /// The point `(lat, lng)` at `col` streets east and `row` streets north
    /// of the origin (fractions fall between streets).
    pub fn point(&self, col: f64, row: f64) -> (f64, f64) {
        let lat = self.origin.0 + row * self.spacing_m / METRES_PER_DEGREE;
        let lng = self.origin.1
            + col * self.spacing_m / (METRES_PER_DEGREE * self.origin.0.to_radians().cos());
        (lat, lng)
    }

    /// The south-west and north-east corners, `(lat, lng)`.
    pub fn bounds(&self) -> ((f64, f64), (f64, f64)) {
        let last = (self.streets - 1) as f64;
        (self.point(0.0, 0.0), self.point(last, last))
    }

    fn kind(&self, street: usize) -> Kind {
        if street.is_multiple_of(self.arterial_every) {
            Kind::Arterial
        } else if self.one_way_pairs && street % 10 == 4 {
            Kind::OneWay(true)
        } else if self.one_way_pairs && street % 10 == 5 {
            Kind::OneWay(false)
        } else {
            Kind::Residential
        }
    }

    fn node_id(&self, col: usize, row: usize) -> usize {
        1 + row * self.streets + col
    }

    /// Writes the city as OSM XML: every crossing a node, each street a run
    /// of ways (split where a block is missing and around bridges).
    pub fn write_osm(&self, out: impl Write) -> io::Result<Written> {
        let mut out = Counting {
            inner: io::BufWriter::with_capacity(1 << 20, out),
            bytes: 0,
        };
        let mut rng = SplitMix(self.seed ^ 0x5eed_c17e);
        writeln!(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>")?;
        writeln!(out, "<osm version=\"0.6\" generator=\"test-support city\">")?;
        for row in 0..self.streets {
            for col in 0..self.streets {
                let (lat, lng) = self.point(col as f64, row as f64);
                writeln!(
                    out,
                    "<node id=\"{}\" lat=\"{lat:.7}\" lon=\"{lng:.7}\"/>",
                    self.node_id(col, row)
                )?;
            }
        }
        let mut ways = 0;
        // East–west streets (rows), then north–south ones (columns).
        for vertical in [false, true] {
            for street in 0..self.streets {
                let kind = self.kind(street);
                let mut run: Vec<usize> = Vec::new();
                let mut run_bridge = false;
                for block in 0..self.streets - 1 {
                    let (a, b) = if vertical {
                        (self.node_id(street, block), self.node_id(street, block + 1))
                    } else {
                        (self.node_id(block, street), self.node_id(block + 1, street))
                    };
                    let over_river =
                        vertical && self.river.as_ref().is_some_and(|r| r.row == block);
                    let bridge = over_river
                        && self
                            .river
                            .as_ref()
                            .is_some_and(|r| r.bridges.contains(&street));
                    let missing = (over_river && !bridge)
                        || (kind == Kind::Residential
                            && self.missing_blocks > 0.0
                            && rng.unit() < self.missing_blocks);
                    if missing || bridge != run_bridge {
                        ways += self.write_way(&mut out, ways + 1, &run, kind, run_bridge)?;
                        run.clear();
                    }
                    if !missing {
                        if run.is_empty() {
                            run.push(a);
                        }
                        run.push(b);
                        run_bridge = bridge;
                    }
                }
                ways += self.write_way(&mut out, ways + 1, &run, kind, run_bridge)?;
            }
        }
        writeln!(out, "</osm>")?;
        out.inner.flush()?;
        Ok(Written {
            nodes: self.nodes(),
            ways,
            bytes: out.bytes,
        })
    }

    /// One way through `nodes` (none when fewer than two); how many written.
    fn write_way(
        &self,
        out: &mut impl Write,
        id: usize,
        nodes: &[usize],
        kind: Kind,
        bridge: bool,
    ) -> io::Result<usize> {
        if nodes.len() < 2 {
            return Ok(0);
        }
        writeln!(out, "<way id=\"{id}\">")?;
        for n in nodes {
            writeln!(out, "<nd ref=\"{n}\"/>")?;
        }
        let (highway, maxspeed) = match kind {
            Kind::Arterial => ("primary", 60),
            _ => ("residential", 30),
        };
        writeln!(out, "<tag k=\"highway\" v=\"{highway}\"/>")?;
        writeln!(out, "<tag k=\"maxspeed\" v=\"{maxspeed}\"/>")?;
        match kind {
            Kind::OneWay(true) => writeln!(out, "<tag k=\"oneway\" v=\"yes\"/>")?,
            Kind::OneWay(false) => writeln!(out, "<tag k=\"oneway\" v=\"-1\"/>")?,
            _ => {}
        }
        if bridge {
            writeln!(out, "<tag k=\"bridge\" v=\"yes\"/>")?;
        }
        writeln!(out, "</way>")?;
        Ok(1)
    }
}

/// A writer that counts the bytes through it.
struct Counting<W: Write> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// SplitMix64: a few lines of deterministic randomness, so the city needs
/// no generator crate and stays the same across its versions.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// In `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// In `0..n` (`n` ≥ 1).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(grid: &Grid) -> (String, Written) {
        let mut out = Vec::new();
        let w = grid.write_osm(&mut out).expect("written");
        (String::from_utf8(out).expect("UTF-8"), w)
    }

    #[test]
    fn the_same_seed_writes_the_same_city_and_another_seed_another() {
        let (a, wa) = written(&Grid::city(7));
        let (b, _) = written(&Grid::city(7));
        let (c, _) = written(&Grid::city(8));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(wa.bytes, a.len() as u64);
        assert_eq!(wa.nodes, 101 * 101);
    }

    #[test]
    fn the_river_is_crossed_only_on_its_four_bridges() {
        let grid = Grid::city(1);
        let (xml, _) = written(&grid);
        let river = grid.river.clone().expect("a river");
        assert_eq!(river.bridges.len(), 4);
        assert_eq!(xml.matches("k=\"bridge\"").count(), 4, "one way per bridge");
        assert!(xml.contains("v=\"-1\"") && xml.contains("k=\"oneway\" v=\"yes\""));
    }

    #[test]
    fn a_million_node_grid_fits_under_the_xml_readers_cap() {
        let grid = Grid::million();
        assert_eq!(grid.nodes(), 1_000_000);
        let w = grid.write_osm(io::sink()).expect("written");
        // src/roads/loaded.rs: MAX_XML_BYTES.
        assert!(w.bytes < 256 * 1024 * 1024, "{} bytes", w.bytes);
        assert_eq!(w.ways, 2000);
    }
}
