//! Checking a contraction hierarchy read from a `.roads` file before any
//! query runs on it. `fast_paths` trusts its graph: an index out of range
//! panics a query, a shortcut that unpacks into itself recurses until the
//! stack overflows. So the file's hierarchy is read a second time into a
//! mirror of `fast_paths::FastGraph`'s serialised shape and checked: every
//! node and edge index in range, the edge ranges ordered, every shortcut
//! naming two real edges (or none), unpacking without a loop and no deeper
//! than [`MAX_UNPACK_DEPTH`]. A crafted or corrupt file is refused at start.

use serde::Deserialize;

use crate::roads::graph::Segment;

/// The deepest shortcut unpacking accepted: a query unpacks recursively,
/// one frame per level, on a blocking thread's 2 MiB stack (a real city's
/// hierarchy is a few dozen levels deep; see the tests).
pub const MAX_UNPACK_DEPTH: u32 = 4096;

/// `fast_paths`'s "no edge".
const INVALID_EDGE: usize = usize::MAX;

/// `fast_paths::FastGraphEdge`, field for field.
#[derive(Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
struct Edge {
    base_node: usize,
    adj_node: usize,
    _weight: usize,
    replaced_in_edge: usize,
    replaced_out_edge: usize,
}

/// `fast_paths::FastGraph`, field for field.
#[derive(Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
struct Hierarchy {
    num_nodes: usize,
    ranks: Vec<usize>,
    edges_fwd: Vec<Edge>,
    first_edge_ids_fwd: Vec<usize>,
    edges_bwd: Vec<Edge>,
    first_edge_ids_bwd: Vec<usize>,
}

/// `Graph`, field for field, with the hierarchy mirrored.
#[derive(Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
pub(crate) struct Mirror {
    _nodes: Vec<(f64, f64)>,
    _segments: Vec<Segment>,
    _edges: usize,
    fast: Hierarchy,
}

impl Mirror {
    /// What is wrong with the hierarchy, if anything.
    pub fn check(&self) -> Result<(), String> {
        let h = &self.fast;
        let n = h.num_nodes;
        if h.ranks.len() != n || h.ranks.iter().any(|r| *r >= n) {
            return Err("the hierarchy's ranks do not match its nodes".into());
        }
        for (edges, firsts, side) in [
            (&h.edges_fwd, &h.first_edge_ids_fwd, "forward"),
            (&h.edges_bwd, &h.first_edge_ids_bwd, "backward"),
        ] {
            let ordered = firsts.windows(2).all(|w| w[0] <= w[1]);
            if firsts.len() != n + 1 || !ordered || firsts.last() > Some(&edges.len()) {
                return Err(format!("the hierarchy's {side} edge ranges are broken"));
            }
            for e in edges.iter() {
                let both =
                    (e.replaced_in_edge == INVALID_EDGE) == (e.replaced_out_edge == INVALID_EDGE);
                let shortcut_ok = e.replaced_in_edge == INVALID_EDGE
                    || (e.replaced_in_edge < h.edges_bwd.len()
                        && e.replaced_out_edge < h.edges_fwd.len());
                if e.base_node >= n || e.adj_node >= n || !both || !shortcut_ok {
                    return Err(format!(
                        "a {side} edge of the hierarchy names what is not there"
                    ));
                }
            }
        }
        self.check_depth()
    }

    /// Every shortcut unpacks without a loop, within [`MAX_UNPACK_DEPTH`]
    /// (an iterative walk: the check itself never recurses).
    fn check_depth(&self) -> Result<(), String> {
        let h = &self.fast;
        let forward = h.edges_fwd.len();
        let edge = |i: usize| {
            if i < forward {
                h.edges_fwd.get(i)
            } else {
                h.edges_bwd.get(i - forward)
            }
        };
        // Unpacking goes to `in` among the backward edges, `out` among the forward.
        let children = |i: usize| {
            edge(i)
                .filter(|e| e.replaced_in_edge != INVALID_EDGE)
                .map(|e| [forward + e.replaced_in_edge, e.replaced_out_edge])
        };
        let total = forward + h.edges_bwd.len();
        // 0: not seen; u32::MAX: on the walk's path; else depth + 1.
        let mut depth = vec![0u32; total];
        let mut stack: Vec<usize> = Vec::new();
        for start in 0..total {
            if depth[start] != 0 {
                continue;
            }
            stack.push(start);
            while let Some(&i) = stack.last() {
                let Some(kids) = children(i) else {
                    depth[i] = 1;
                    stack.pop();
                    continue;
                };
                if depth[i] == 0 {
                    depth[i] = u32::MAX;
                }
                match kids.iter().find(|k| depth[**k] == 0) {
                    Some(k) => stack.push(*k),
                    None => {
                        if kids.iter().any(|k| depth[*k] == u32::MAX) {
                            return Err("a shortcut of the hierarchy unpacks into itself".into());
                        }
                        let d = 1 + kids.iter().map(|k| depth[*k]).max().unwrap_or(0);
                        if d > MAX_UNPACK_DEPTH {
                            return Err(format!(
                                "the hierarchy's shortcuts nest deeper than {MAX_UNPACK_DEPTH}"
                            ));
                        }
                        depth[i] = d;
                        stack.pop();
                    }
                }
            }
        }
        Ok(())
    }

    /// The deepest unpacking (after a successful [`Mirror::check`]).
    #[cfg(test)]
    pub fn max_depth(&self) -> u32 {
        let h = &self.fast;
        let mut worst = 0;
        let forward = h.edges_fwd.len();
        let mut memo = std::collections::HashMap::new();
        fn depth(
            h: &Hierarchy,
            forward: usize,
            i: usize,
            memo: &mut std::collections::HashMap<usize, u32>,
        ) -> u32 {
            if let Some(d) = memo.get(&i) {
                return *d;
            }
            let e = if i < forward {
                &h.edges_fwd[i]
            } else {
                &h.edges_bwd[i - forward]
            };
            let d = if e.replaced_in_edge == INVALID_EDGE {
                1
            } else {
                1 + depth(h, forward, forward + e.replaced_in_edge, memo).max(depth(
                    h,
                    forward,
                    e.replaced_out_edge,
                    memo,
                ))
            };
            memo.insert(i, d);
            d
        }
        for i in 0..forward + h.edges_bwd.len() {
            worst = worst.max(depth(h, forward, i, &mut memo));
        }
        worst
    }
}

#[cfg(test)]
#[path = "hierarchy_tests.rs"]
mod tests;
