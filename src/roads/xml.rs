//! Reading `.osm` XML (what a test writes by hand for a small city) with
//! `quick-xml`: nodes, then car ways, into an [`Extract`].

use std::io::BufReader;
use std::path::Path;

use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

use crate::roads::error::RoadsError;
use crate::roads::extract::Extract;
use crate::roads::network::judge;

const KIND: &str = "OSM XML";

/// A way being read: its node ids and its tags.
type OpenWay = (Vec<i64>, Vec<(String, String)>);

/// Reads an OSM XML file into an [`Extract`] (every node is kept: XML is for
/// small files; the ways are judged by [`judge`]).
pub fn read_xml(path: &Path) -> Result<Extract, RoadsError> {
    let file = std::fs::File::open(path).map_err(|e| RoadsError::open(path, &e))?;
    let mut reader = Reader::from_reader(BufReader::new(file));
    let mut all_nodes = std::collections::HashMap::new();
    let mut ways = Vec::new();
    let mut seen_osm = false;
    let mut way: Option<OpenWay> = None;
    let mut buf = Vec::new();
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| RoadsError::invalid(path, KIND, e))?;
        match event {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) => match e.name().as_ref() {
                "osm" => seen_osm = true,
                "node" if seen_osm => {
                    let id: Option<i64> = attr(path, &e, "id")?;
                    let lat: Option<f64> = attr(path, &e, "lat")?;
                    let lon: Option<f64> = attr(path, &e, "lon")?;
                    if let (Some(id), Some(lat), Some(lon)) = (id, lat, lon) {
                        all_nodes.insert(id, (lat, lon));
                    }
                }
                "way" if seen_osm => way = Some((Vec::new(), Vec::new())),
                "nd" => {
                    if let (Some((refs, _)), Some(r)) =
                        (way.as_mut(), attr::<i64>(path, &e, "ref")?)
                    {
                        refs.push(r);
                    }
                }
                "tag" => {
                    if let Some((_, tags)) = way.as_mut() {
                        let k: Option<String> = attr(path, &e, "k")?;
                        let v: Option<String> = attr(path, &e, "v")?;
                        if let (Some(k), Some(v)) = (k, v) {
                            tags.push((k, v));
                        }
                    }
                }
                _ if !seen_osm => {
                    return Err(RoadsError::invalid(
                        path,
                        KIND,
                        "its root element is not <osm>",
                    ))
                }
                _ => {}
            },
            Event::End(e) if e.name().as_ref() == "way" => {
                if let Some((refs, tags)) = way.take() {
                    let verdict = judge(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                    if let (Some(verdict), true) = (verdict, refs.len() >= 2) {
                        ways.push((refs, verdict));
                    }
                }
            }
            _ => {}
        }
        buf.clear();
    }
    if !seen_osm {
        return Err(RoadsError::invalid(path, KIND, "no <osm> element"));
    }
    let mut extract = Extract {
        ways,
        ..Extract::default()
    };
    for (refs, _) in &extract.ways {
        for r in refs {
            if let Some(c) = all_nodes.get(r) {
                extract.nodes.insert(*r, *c);
            }
        }
    }
    Ok(extract)
}

/// An attribute parsed as `T`; `None` when absent, an error when unreadable.
fn attr<T: std::str::FromStr>(
    path: &Path,
    e: &BytesStart<'_>,
    key: &str,
) -> Result<Option<T>, RoadsError> {
    for a in e.attributes() {
        let a = a.map_err(|e| RoadsError::invalid(path, KIND, e))?;
        if a.key.as_ref() == key {
            let value = a
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|e| RoadsError::invalid(path, KIND, e))?;
            return value.parse::<T>().map(Some).map_err(|_| {
                RoadsError::invalid(
                    path,
                    KIND,
                    format!("attribute {key}=\"{value}\" unreadable"),
                )
            });
        }
    }
    Ok(None)
}
