//! The prepared-graph file (`.roads`): a header (magic, format version,
//! payload length, SHA-256 of the payload) then the graph in `bincode`, so a
//! region built once loads in seconds, and a damaged or foreign file is refused.

use std::io::Write;
use std::path::Path;

use bincode::Options;
use sha2::{Digest, Sha256};

use crate::roads::error::RoadsError;
use crate::roads::graph::Graph;
use crate::roads::hierarchy::Mirror;

/// First bytes of every prepared file.
const MAGIC: &[u8; 8] = b"TRKROADS";
/// The format's version: bump when `Graph` changes shape.
pub const FORMAT_VERSION: u32 = 1;
const HEADER_LEN: usize = 8 + 4 + 8 + 32;
const KIND: &str = "prepared roads";

fn options() -> impl Options {
    bincode::DefaultOptions::new()
}

/// Writes `graph` to `path` (through a temporary file, renamed at the end).
pub fn write(graph: &Graph, path: &Path) -> Result<(), RoadsError> {
    let failed = |e: &dyn std::fmt::Display| RoadsError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let payload = options().serialize(graph).map_err(|e| failed(&e))?;
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&Sha256::digest(&payload));
    out.extend_from_slice(&payload);
    let tmp = path.with_extension("roads.tmp");
    let mut file = std::fs::File::create(&tmp).map_err(|e| failed(&e))?;
    file.write_all(&out).map_err(|e| failed(&e))?;
    file.sync_all().map_err(|e| failed(&e))?;
    std::fs::rename(&tmp, path).map_err(|e| failed(&e))
}

/// Reads a prepared graph, checking its header, length, digest and indices.
pub fn read(path: &Path) -> Result<Graph, RoadsError> {
    let bytes = std::fs::read(path).map_err(|e| RoadsError::open(path, &e))?;
    let bad = |reason: String| RoadsError::invalid(path, KIND, reason);
    if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
        return Err(bad(
            "it does not start with the prepared-roads header".into()
        ));
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().map_err(|_| bad("header".into()))?);
    if version != FORMAT_VERSION {
        return Err(bad(format!(
            "format version {version}, this build reads {FORMAT_VERSION}: prepare it again"
        )));
    }
    let len = u64::from_le_bytes(bytes[12..20].try_into().map_err(|_| bad("header".into()))?);
    let payload = &bytes[HEADER_LEN..];
    if payload.len() as u64 != len {
        return Err(bad(format!(
            "{} payload bytes, the header says {len}",
            payload.len()
        )));
    }
    if Sha256::digest(payload).as_slice() != &bytes[20..52] {
        return Err(bad("its checksum does not match (damaged)".into()));
    }
    let graph: Graph = options()
        .with_limit(len)
        .deserialize(payload)
        .map_err(|e| bad(e.to_string()))?;
    graph.check().map_err(bad)?;
    let mirror: Mirror = options()
        .with_limit(len)
        .deserialize(payload)
        .map_err(|e| bad(e.to_string()))?;
    mirror.check().map_err(bad)?;
    Ok(graph)
}
