//! A prepared file whose hierarchy was tampered with (its checksum made
//! right again) is refused at load with one clear error, never a panic in
//! a query; a real hierarchy passes, and nests far less than the limit; a
//! node that is not a place (NaN, infinite) is refused too.

use bincode::Options;
use sha2::{Digest, Sha256};

use super::{Mirror, INVALID_EDGE, MAX_UNPACK_DEPTH};
use crate::roads::{tests::write_file, Roads, RoadsError};

/// A grid of `side` × `side` streets 100 m apart, an arterial every tenth.
fn grid(side: usize) -> std::path::PathBuf {
    let mut xml = String::from("<osm version=\"0.6\">\n");
    for y in 0..side {
        for x in 0..side {
            let c = crate::roads::tests::at(x as f64 * 100.0, y as f64 * 100.0);
            xml += &format!(
                "<node id=\"{}\" lat=\"{}\" lon=\"{}\"/>\n",
                y * side + x + 1,
                c.lat(),
                c.lng()
            );
        }
    }
    for (way, (horizontal, k)) in [true, false]
        .into_iter()
        .flat_map(|h| (0..side).map(move |k| (h, k)))
        .enumerate()
    {
        let class = if k % 10 == 0 {
            "primary"
        } else {
            "residential"
        };
        xml += &format!("<way id=\"{}\">", way + 1);
        for i in 0..side {
            let id = if horizontal {
                k * side + i + 1
            } else {
                i * side + k + 1
            };
            xml += &format!("<nd ref=\"{id}\"/>");
        }
        xml += &format!("<tag k=\"highway\" v=\"{class}\"/></way>\n");
    }
    xml += "</osm>\n";
    write_file(&format!("hierarchy-grid-{side}.osm"), xml.as_bytes())
}

/// The grid prepared, and its payload read back into the mirror.
fn prepared(side: usize) -> (std::path::PathBuf, Mirror) {
    let osm = grid(side);
    let out = osm.with_file_name(format!("hierarchy-grid-{side}.roads"));
    Roads::prepare(&osm, &out).expect("prepare");
    let bytes = std::fs::read(&out).expect("read");
    let mirror = bincode::DefaultOptions::new()
        .deserialize(&bytes[52..])
        .expect("the mirror reads a real file");
    (out, mirror)
}

/// `mirror` written as a prepared file with a right header and checksum.
fn forged(name: &str, mirror: &Mirror) -> std::path::PathBuf {
    let payload = bincode::DefaultOptions::new()
        .serialize(mirror)
        .expect("serialise");
    let mut out = b"TRKROADS".to_vec();
    out.extend_from_slice(&crate::roads::FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&Sha256::digest(&payload));
    out.extend_from_slice(&payload);
    write_file(name, &out)
}

fn refused(path: &std::path::Path, says: &str) {
    match Roads::load(path) {
        Err(RoadsError::Invalid { reason, .. }) => assert!(reason.contains(says), "{reason}"),
        Err(other) => panic!("refused for the wrong reason: {other}"),
        Ok(_) => panic!("{} was loaded", path.display()),
    }
}

#[test]
fn a_real_hierarchy_passes_and_nests_far_below_the_limit() {
    let (path, mirror) = prepared(40);
    mirror.check().expect("a real hierarchy");
    assert!(Roads::load(&path).is_ok());
    let depth = mirror.max_depth();
    eprintln!("40 x 40 grid: shortcuts nest {depth} deep");
    assert!(depth < MAX_UNPACK_DEPTH / 8, "{depth}");
    // The forger writes exactly what prepare wrote.
    let again = forged("hierarchy-untouched.roads", &mirror);
    assert!(Roads::load(&again).is_ok());
}

#[test]
fn a_tampered_hierarchy_is_refused_at_load() {
    let (_, mirror) = prepared(12);
    let n = mirror.fast.num_nodes;
    assert!(
        !mirror.fast.edges_fwd.is_empty(),
        "the grid has forward edges"
    );

    let (_, mut m) = prepared(12);
    m.fast.edges_fwd[0].adj_node = n + 5;
    refused(&forged("h-node.roads", &m), "names what is not there");

    let (_, mut m) = prepared(12);
    m.fast.edges_fwd[0].replaced_in_edge = 0;
    m.fast.edges_fwd[0].replaced_out_edge = INVALID_EDGE;
    refused(&forged("h-half.roads", &m), "names what is not there");

    let (_, mut m) = prepared(12);
    m.fast.edges_fwd[0].replaced_in_edge = 0;
    m.fast.edges_fwd[0].replaced_out_edge = 0;
    refused(&forged("h-loop.roads", &m), "unpacks into itself");

    let (_, mut m) = prepared(12);
    m.fast.ranks[0] = n;
    refused(&forged("h-rank.roads", &m), "ranks");

    let (_, mut m) = prepared(12);
    m.fast.first_edge_ids_fwd.reverse();
    refused(&forged("h-ranges.roads", &m), "edge ranges");
    mirror.check().expect("the untouched one still passes");
}

/// "A crafted file is refused at start, never a panic": a node whose
/// coordinates are not numbers (NaN) or infinite, checksum made right. If
/// it loads, no query near it may panic either.
#[test]
fn a_node_that_is_not_a_place_is_refused_at_load() {
    use crate::domain::StraightLine;
    use crate::roads::{tests::at, MapBox};
    let mut loaded = Vec::new();
    for (name, bad) in [
        ("h-nan.roads", (f64::NAN, f64::NAN)),
        ("h-inf.roads", (f64::INFINITY, f64::NEG_INFINITY)),
        ("h-far.roads", (1e300, -1e300)),
    ] {
        let (_, mut m) = prepared(12);
        m._nodes[0] = bad;
        let path = forged(name, &m);
        let outcome = std::panic::catch_unwind(|| Roads::load(&path));
        let Ok(result) = outcome else {
            panic!("{name}: loading it panicked");
        };
        let Ok(roads) = result else {
            continue;
        };
        let line = StraightLine {
            speed_kmh: 20.0,
            detour: 1.4,
        };
        let (a, b) = (at(0.0, 0.0), at(1100.0, 1100.0));
        let queried = std::panic::catch_unwind(|| {
            let _ = roads.eta(&a, &b, &line);
            let _ = roads.route(&a, &b);
            let map = MapBox::new(a.lat(), a.lng(), b.lat(), b.lng()).expect("a box");
            let _ = roads.draw(&map, 16.0, 100_000);
        });
        assert!(queried.is_ok(), "{name}: a query panicked");
        loaded.push(name);
    }
    assert!(loaded.is_empty(), "loaded: {loaded:?}");
}
